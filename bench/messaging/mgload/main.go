// Command mgload drives a running meowgate through its HTTP API for the
// messaging benchmarks (bench/messaging/run.sh). Each subcommand prints one
// JSON line with its figures:
//
//	mgload ready   -url U                       wait for /readyz
//	mgload create  -url U -name N [-phone P]    create an instance; with
//	                                            -phone also connect it and
//	                                            link it through the sandbox
//	mgload connected -url U -name N             wait until it is connected
//	mgload enqueue -url U -name N -c 32 -d 10s  POST …/messages from c
//	                                            concurrent clients for d
//	mgload send    -url U -name N -to C -n 2000 POST n texts, wait until all
//	                                            are sent (or read), measure
//	mgload webhook -url U -name N -to C …       webhook throughput/latency
//	mgload pending -url U -name N -expect K     check the queue holds K
//	mgload strace  -trace F -fds F              sum an strace of the writes
//
// Times come from the event log (created_at of message.sent events, ms
// precision) and from the simulator's inbox (received_at, ms precision), so
// nothing depends on how often this program polls.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meowgate/meowgate/client"
)

var (
	base string
	key  = os.Getenv("MEOWGATE_API_ADMIN_KEY")
	hc   = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
	mg  *client.Client // set once the flags are parsed
	ctx = context.Background()
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: mgload ready|create|connected|enqueue|pending|send|webhook|strace [flags]")
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	fs.StringVar(&base, "url", "http://127.0.0.1:8080", "meowgate base URL")
	var out map[string]any
	switch cmd {
	case "ready":
		timeout := fs.Duration("timeout", 60*time.Second, "")
		parse(fs, args)
		out = ready(*timeout)
	case "create":
		name := fs.String("name", "bench", "instance name")
		phone := fs.String("phone", "", "link the instance as this number (sandbox)")
		parse(fs, args)
		out = create(*name, *phone)
	case "connected":
		name := fs.String("name", "bench", "instance")
		timeout := fs.Duration("timeout", 2*time.Minute, "")
		parse(fs, args)
		out = waitConnected(*name, *timeout)
	case "enqueue":
		name := fs.String("name", "enq", "instance (not connected)")
		c := fs.Int("c", 32, "concurrent HTTP clients")
		d := fs.Duration("d", 10*time.Second, "measured duration")
		warm := fs.Duration("warmup", 2*time.Second, "unmeasured warm-up")
		to := fs.String("to", "+4917000000001", "recipient")
		parse(fs, args)
		out = enqueue(*name, *to, *c, *d, *warm)
	case "send":
		o := sendOpts{}
		fs.StringVar(&o.name, "name", "bench", "instance (linked, connected)")
		fs.StringVar(&o.to, "to", "+4917100000001", "recipient (a simulated contact)")
		fs.StringVar(&o.from, "from", "", "the instance's phone (filters the contact's inbox)")
		fs.IntVar(&o.n, "n", 2000, "texts")
		fs.IntVar(&o.c, "c", 8, "concurrent posters")
		fs.StringVar(&o.wait, "wait", "sent", "wait until every message is sent, or read (receipts applied)")
		fs.IntVar(&o.pid, "pid", 0, "meowgate's pid: report /proc/PID/io deltas")
		fs.StringVar(&o.db, "db", "", "meowgate's database file: report its size and its -wal's")
		fs.DurationVar(&o.settle, "settle", 0, "wait this long after the last message before reading /proc/PID/io")
		fs.Int64Var(&o.delay, "delay", -1, "first PATCH settings send_delay_ms to this (and jitter 0)")
		fs.BoolVar(&o.gaps, "gaps", false, "report the gaps between consecutive sends")
		fs.StringVar(&o.mark, "mark", "", "touch this file when the first POST starts (for strace)")
		fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "")
		parse(fs, args)
		out = send(o)
	case "webhook":
		o := hookOpts{}
		fs.StringVar(&o.name, "name", "bench", "instance (linked, connected)")
		fs.StringVar(&o.to, "to", "+4917300000001", "recipient of the sends")
		fs.StringVar(&o.mode, "mode", "burst", "burst: build a backlog behind a held delivery, then drain it; live: deliver while generating")
		fs.IntVar(&o.sends, "sends", 1000, "messages sent (3 events each: sent, delivered, read)")
		fs.IntVar(&o.incoming, "incoming", 0, "incoming messages from contacts (1 event each)")
		fs.Float64Var(&o.rate, "rate", 0, "incoming per second (live; 0 = as fast as possible)")
		fs.IntVar(&o.c, "c", 8, "concurrent posters")
		fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "")
		parse(fs, args)
		out = webhook(o)
	case "pending":
		name := fs.String("name", "enq", "instance")
		expect := fs.Int("expect", 0, "wait (up to 10 s) until the queue holds this many")
		parse(fs, args)
		// A client may stop counting with requests in flight that the
		// server still commits, so the queue may hold a few more.
		p := pending(*name, *expect)
		out = map[string]any{"queue_pending": p, "expected": *expect, "verified": p >= *expect}
	case "strace":
		trace := fs.String("trace", "", "strace -o output (pwrite64/write/fsync of meowgate)")
		fds := fs.String("fds", "", "file with lines FD PATH (ls -l /proc/PID/fd)")
		from := fs.String("from", "", "ignore trace lines before this mark file's mtime (unix seconds float in the file)")
		pages := fs.String("pages", "", "file with lines PAGENO|BTREE (sqlite3 DB 'SELECT pageno, name FROM dbstat')")
		n := fs.Int("n", 1, "divide by this many messages")
		parse(fs, args)
		out = straceSum(*trace, *fds, *from, *pages, *n)
	default:
		fail("unknown command %q", cmd)
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

// parse parses the subcommand's flags and makes the API client.
func parse(fs *flag.FlagSet, args []string) {
	_ = fs.Parse(args)
	mg = client.New(base, key, client.WithHTTPClient(hc))
}

func fail(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "mgload: "+f+"\n", a...)
	os.Exit(1)
}

func ready(timeout time.Duration) map[string]any {
	t0 := time.Now()
	for {
		if mg.Readyz(ctx) == nil {
			return map[string]any{"ready_ms": time.Since(t0).Milliseconds()}
		}
		if time.Since(t0) > timeout {
			fail("not ready after %v", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func create(name, phone string) map[string]any {
	t0 := time.Now()
	if _, err := mg.CreateInstance(ctx, client.CreateInstanceRequest{Name: name, Connect: phone != ""}); err != nil {
		fail("create %s: %v", name, err)
	}
	out := map[string]any{"name": name}
	if phone == "" {
		return out
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := mg.SandboxScan(ctx, name, phone)
		if err == nil {
			break
		}
		if client.StatusOf(err) != http.StatusConflict || time.Now().After(deadline) {
			fail("scan %s: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitConnected(name, time.Until(deadline))
	out["phone"], out["link_ms"] = phone, time.Since(t0).Milliseconds()
	return out
}

// waitConnected waits until the instance's state is connected.
func waitConnected(name string, timeout time.Duration) map[string]any {
	t0 := time.Now()
	for {
		s, err := mg.State(ctx, name)
		if err == nil && s.State == client.StateConnected {
			return map[string]any{"connected_ms": time.Since(t0).Milliseconds()}
		}
		if time.Since(t0) > timeout {
			if err == nil {
				err = fmt.Errorf("state %s (%s)", s.State, s.Reason)
			}
			fail("%s not connected: %v", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ------------------------------------------------------------ enqueue

func enqueue(name, to string, c int, d, warm time.Duration) map[string]any {
	var seq, okWarm atomic.Int64
	type result struct {
		ok, bad int
		lat     []time.Duration
		codes   map[int]int
	}
	res := make([]result, c)
	var measuring atomic.Bool
	start := time.Now()
	stop := start.Add(warm + d)
	var mStart time.Time
	var wg sync.WaitGroup
	for w := range c {
		res[w].codes = map[int]int{}
		wg.Go(func() {
			r := &res[w]
			for time.Now().Before(stop) {
				i := seq.Add(1)
				t := time.Now()
				_, err := mg.Send(ctx, name, client.SendRequest{To: to, Text: fmt.Sprintf("enqueue benchmark %08d", i)})
				st := http.StatusAccepted
				if err != nil {
					st = client.StatusOf(err) // 0: no answer
				}
				if !measuring.Load() {
					if st == http.StatusAccepted {
						okWarm.Add(1)
					}
					continue
				}
				r.codes[st]++
				if st == http.StatusAccepted {
					r.ok++
					r.lat = append(r.lat, time.Since(t))
				} else {
					r.bad++
					if r.bad == 1 {
						fmt.Fprintf(os.Stderr, "mgload: enqueue: HTTP %d: %.200s\n", st, err)
					}
				}
			}
		})
	}
	time.Sleep(warm)
	mStart = time.Now()
	measuring.Store(true)
	wg.Wait()
	took := time.Since(mStart)
	var ok, bad int
	var lat []time.Duration
	codes := map[string]int{}
	for _, r := range res {
		ok, bad = ok+r.ok, bad+r.bad
		lat = append(lat, r.lat...)
		for k, v := range r.codes {
			codes[strconv.Itoa(k)] += v
		}
	}
	sortDur(lat)
	// Every 202 is a committed row: the queue must hold them all.
	want := ok + int(okWarm.Load())
	pending := pending(name, want)
	return map[string]any{
		"clients": c, "seconds": took.Seconds(), "accepted": ok, "other": bad, "codes": codes,
		"msgs_per_s": float64(ok) / took.Seconds(),
		"lat_p50_ms": pct(lat, 50), "lat_p99_ms": pct(lat, 99),
		"queued_total": want, "queue_pending": pending, "verified": pending >= want,
	}
}

// pending reads queue.pending of an instance (refreshed by meowgate a
// moment after a change), waiting up to 10 s for it to reach want.
func pending(name string, want int) int {
	var p int
	for t0 := time.Now(); time.Since(t0) < 10*time.Second; time.Sleep(100 * time.Millisecond) {
		in, err := mg.Instance(ctx, name)
		if err != nil {
			fail("GET instance %s: %v", name, err)
		}
		if p = in.Queue.Pending; p >= want {
			break
		}
	}
	return p
}

func sortDur(d []time.Duration) { slices.Sort(d) }

// pct is the p-th percentile (nearest rank) in ms.
func pct(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	i = max(0, min(i, len(d)-1))
	return float64(d[i].Microseconds()) / 1000
}

// ------------------------------------------------------------ events

type event = client.Event

// lastEventID pages through an instance's event log to its end.
func lastEventID(name string) int64 {
	var after int64
	for {
		evs := eventsAfter(name, after)
		if len(evs) == 0 {
			return after
		}
		after, _ = strconv.ParseInt(evs[len(evs)-1].ID, 10, 64)
	}
}

func eventsAfter(name string, after int64) []event {
	evs, err := mg.Events(ctx, name, strconv.FormatInt(after, 10), 1000)
	if err != nil {
		fail("events: %v", err)
	}
	return evs
}

func idOf(ev event) (id, status string) {
	var d struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	_ = json.Unmarshal(ev.Data, &d)
	return d.ID, d.Status
}

// ------------------------------------------------------------ send

type sendOpts struct {
	name, to, from, wait, db, mark string
	n, c, pid                      int
	delay                          int64
	settle, timeout                time.Duration
	gaps                           bool
}

func inbox(phone, from string) []client.InboxMessage {
	msgs, err := mg.SandboxInbox(ctx, phone)
	if err != nil {
		fail("inbox %s: %v", phone, err)
	}
	out := msgs[:0]
	for _, m := range msgs {
		if from == "" || m.From == from {
			out = append(out, m)
		}
	}
	return out
}

// postAll POSTs n texts with c workers and returns their ids and the time
// the first POST started.
func postAll(name, to string, n, c int, prefix string) (ids map[string]int, first time.Time, took time.Duration) {
	ids = make(map[string]int, n)
	var mu sync.Mutex
	var next atomic.Int64
	first = time.Now()
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				m, err := mg.Send(ctx, name, client.SendRequest{To: to, Text: fmt.Sprintf("%s %06d from the send queue", prefix, i)})
				if err != nil {
					fail("send: %v", err)
				}
				mu.Lock()
				ids[m.ID] = i
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ids, first, time.Since(first)
}

type procIO struct{ wchar, syscw, writeBytes, cancelled int64 }

func readIO(pid int) procIO {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		fail("%v", err)
	}
	var p procIO
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "wchar":
			p.wchar = n
		case "syscw":
			p.syscw = n
		case "write_bytes":
			p.writeBytes = n
		case "cancelled_write_bytes":
			p.cancelled = n
		}
	}
	return p
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

func send(o sendOpts) map[string]any {
	if o.delay >= 0 {
		if _, err := mg.UpdateSettings(ctx, o.name, map[string]any{"send_delay_ms": o.delay, "send_jitter_ms": 0}); err != nil {
			fail("settings: %v", err)
		}
	}
	cursor := lastEventID(o.name)
	var io0 procIO
	if o.pid > 0 {
		io0 = readIO(o.pid)
	}
	var db0, wal0 int64
	if o.db != "" {
		db0, wal0 = fileSize(o.db), fileSize(o.db+"-wal")
	}
	if o.mark != "" {
		_ = os.WriteFile(o.mark, []byte(fmt.Sprintf("%.6f\n", float64(time.Now().UnixNano())/1e9)), 0o644)
	}
	ids, first, postTook := postAll(o.name, o.to, o.n, o.c, "benchmark message")

	// Follow the event log until every message is sent (and read).
	sentAt := map[string]time.Time{}
	readAt := map[string]time.Time{}
	deadline := time.Now().Add(o.timeout)
	after := cursor
	var failed int
	for {
		evs := eventsAfter(o.name, after)
		for _, ev := range evs {
			after, _ = strconv.ParseInt(ev.ID, 10, 64)
			id, status := idOf(ev)
			if _, ours := ids[id]; !ours {
				continue
			}
			switch {
			case ev.Type == client.EventMessageSent:
				sentAt[id] = ev.CreatedAt
			case ev.Type == client.EventMessageStatus && (status == "read" || status == "played"):
				readAt[id] = ev.CreatedAt
			case ev.Type == client.EventMessageStatus && (status == "failed" || status == "expired" || status == "canceled"):
				failed++
			}
		}
		done := len(sentAt)+failed >= o.n
		if o.wait == "read" {
			done = len(readAt)+failed >= o.n
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			fail("timeout: %d of %d sent, %d read, %d failed", len(sentAt), o.n, len(readAt), failed)
		}
		if len(evs) < 1000 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	var lastSent, firstSent time.Time
	times := make([]time.Time, 0, len(sentAt))
	for _, t := range sentAt {
		times = append(times, t)
		if t.After(lastSent) {
			lastSent = t
		}
		if firstSent.IsZero() || t.Before(firstSent) {
			firstSent = t
		}
	}
	took := lastSent.Sub(first)
	out := map[string]any{
		"n": o.n, "posters": o.c, "failed": failed, "post_ms": postTook.Milliseconds(),
		"ms": took.Milliseconds(), "msgs_per_s": float64(o.n) / took.Seconds(),
		"first_sent_ms":    firstSent.Sub(first).Milliseconds(),
		"drain_msgs_per_s": float64(o.n-1) / lastSent.Sub(firstSent).Seconds(),
	}
	in := inbox(o.to, o.from)
	if len(in) > 0 {
		at := make([]time.Time, len(in))
		for i, m := range in {
			at[i] = m.ReceivedAt
		}
		slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
		out["inbox_n"] = len(in)
		out["inbox_ms"] = at[len(at)-1].Sub(first).Milliseconds()
		out["inbox_msgs_per_s"] = float64(len(in)) / at[len(at)-1].Sub(first).Seconds()
		if o.gaps {
			out["gaps_inbox"] = gapStats(at, o.delay)
		}
	}
	if o.gaps {
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		out["gaps_sent_event"] = gapStats(times, o.delay)
	}
	if o.pid > 0 {
		if o.settle > 0 {
			time.Sleep(o.settle)
		}
		io1 := readIO(o.pid)
		n := float64(o.n)
		out["io"] = map[string]any{
			"write_bytes": io1.writeBytes - io0.writeBytes, "wchar": io1.wchar - io0.wchar, "syscw": io1.syscw - io0.syscw,
			"cancelled_write_bytes": io1.cancelled - io0.cancelled,
			"write_bytes_per_msg":   float64(io1.writeBytes-io0.writeBytes) / n,
			"wchar_per_msg":         float64(io1.wchar-io0.wchar) / n,
			"syscw_per_msg":         float64(io1.syscw-io0.syscw) / n,
		}
	}
	if o.db != "" {
		out["db_growth"] = fileSize(o.db) - db0
		out["wal_size_before"], out["wal_size_after"] = wal0, fileSize(o.db+"-wal")
	}
	return out
}

// gapStats: the gaps between consecutive times and their deviation from
// want ms (median, p99, max).
func gapStats(at []time.Time, want int64) map[string]any {
	if len(at) < 2 {
		return nil
	}
	var gaps, dev []time.Duration
	for i := 1; i < len(at); i++ {
		g := at[i].Sub(at[i-1])
		gaps = append(gaps, g)
		d := g - time.Duration(want)*time.Millisecond
		if d < 0 {
			d = -d
		}
		dev = append(dev, d)
	}
	sortDur(gaps)
	sortDur(dev)
	return map[string]any{
		"n": len(gaps), "gap_min_ms": pct(gaps, 0), "gap_median_ms": pct(gaps, 50), "gap_max_ms": pct(gaps, 100),
		"dev_median_ms": pct(dev, 50), "dev_p99_ms": pct(dev, 99), "dev_max_ms": pct(dev, 100),
	}
}

// ------------------------------------------------------------ webhook

type hookOpts struct {
	name, to, mode     string
	sends, incoming, c int
	rate               float64
	timeout            time.Duration
}

type delivery struct {
	id        int64
	typ       string
	created   time.Time
	received  time.Time
	afterGate bool
}

func webhook(o hookOpts) map[string]any {
	var (
		mu       sync.Mutex
		got      []delivery
		gate     = make(chan struct{})
		gateOnce sync.Once
		held     atomic.Bool
		arrived  = make(chan struct{}, 1)
	)
	if o.mode != "burst" {
		gateOnce.Do(func() { close(gate) })
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		var p struct {
			ID        string    `json:"id"`
			Type      string    `json:"type"`
			CreatedAt time.Time `json:"created_at"`
		}
		_ = json.NewDecoder(r.Body).Decode(&p)
		select {
		case <-gate:
		default:
			held.Store(true) // the head delivery waits here
			<-gate
		}
		id, _ := strconv.ParseInt(p.ID, 10, 64)
		mu.Lock()
		got = append(got, delivery{id: id, typ: p.Type, created: p.CreatedAt, received: now})
		mu.Unlock()
		select {
		case arrived <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("%v", err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	// Settle whatever linking produced, then turn the webhook on.
	time.Sleep(500 * time.Millisecond)
	cursor := lastEventID(o.name)
	enabled := true
	if _, err := mg.UpdateInstance(ctx, o.name, client.UpdateInstanceRequest{Webhook: &client.Webhook{
		URL: "http://" + ln.Addr().String() + "/hook", Enabled: &enabled}}); err != nil {
		fail("webhook: %v", err)
	}

	// Generate: sends (3 events each) and incoming messages (1 each).
	genStart := time.Now()
	var genWG sync.WaitGroup
	var sendIDs map[string]int
	if o.sends > 0 {
		genWG.Go(func() { sendIDs, _, _ = postAll(o.name, o.to, o.sends, o.c, "webhook benchmark") })
	}
	if o.incoming > 0 {
		genWG.Go(func() { incoming(o) })
	}
	genWG.Wait()
	// Wait until the log holds every event the load makes: each send's
	// read receipt, each incoming message.
	want := 3*o.sends + o.incoming
	var total int
	deadline := time.Now().Add(o.timeout)
	after := cursor
	reads, received := 0, 0
	for reads < o.sends || received < o.incoming {
		evs := eventsAfter(o.name, after)
		for _, ev := range evs {
			after, _ = strconv.ParseInt(ev.ID, 10, 64)
			total++
			switch ev.Type {
			case client.EventMessageStatus:
				if _, st := idOf(ev); st == "read" {
					reads++
				}
			case client.EventMessageReceived:
				received++
			}
		}
		if time.Now().After(deadline) {
			fail("timeout generating: %d/%d read, %d/%d received", reads, o.sends, received, o.incoming)
		}
		if len(evs) < 1000 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	genTook := time.Since(genStart) // (to within the 50 ms poll)
	lastID := after

	// Burst: everything is in the log now, behind the held head: release it.
	var release time.Time
	if o.mode == "burst" {
		for !held.Load() {
			if time.Now().After(deadline) {
				fail("no delivery arrived")
			}
			time.Sleep(10 * time.Millisecond)
		}
		release = time.Now()
		gateOnce.Do(func() { close(gate) })
	}
	// Wait for every event up to lastID to be delivered.
	for {
		mu.Lock()
		var maxID int64
		for _, d := range got {
			maxID = max(maxID, d.id)
		}
		mu.Unlock()
		if maxID >= lastID {
			break
		}
		if time.Now().After(deadline) {
			fail("timeout: delivered up to event %d of %d", maxID, lastID)
		}
		select {
		case <-arrived:
		case <-time.After(100 * time.Millisecond):
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var ds []delivery
	for _, d := range got {
		if d.id > cursor && d.id <= lastID {
			ds = append(ds, d)
		}
	}
	sort.Slice(ds, func(a, b int) bool { return ds[a].received.Before(ds[b].received) })
	out := map[string]any{
		"mode": o.mode, "events": total, "expected_events": want, "delivered": len(ds),
		"sends": len(sendIDs), "incoming": o.incoming, "rate": o.rate,
		"generate_ms": genTook.Milliseconds(), "generated_per_s": float64(total) / genTook.Seconds(),
	}
	firstRecv, lastRecv := ds[0].received, ds[len(ds)-1].received
	if o.mode == "burst" {
		// Throughput of the drain: from the release to the last delivery.
		n := len(ds) - 1 // the held head is not counted
		out["drain_ms"] = lastRecv.Sub(release).Milliseconds()
		out["events_per_s"] = float64(n) / lastRecv.Sub(release).Seconds()
	} else {
		// message.status events carry the receipt's time stamp (WhatsApp's,
		// whole seconds) as created_at, so only the other events, stamped
		// by meowgate in ms as they are appended, measure latency.
		var lat []time.Duration
		for _, d := range ds {
			if d.typ != client.EventMessageStatus {
				lat = append(lat, d.received.Sub(d.created))
			}
		}
		sortDur(lat)
		out["lat_events"] = len(lat)
		out["events_per_s"] = float64(len(ds)-1) / lastRecv.Sub(firstRecv).Seconds()
		out["lat_p50_ms"], out["lat_p90_ms"], out["lat_p99_ms"], out["lat_max_ms"] = pct(lat, 50), pct(lat, 90), pct(lat, 99), pct(lat, 100)
		out["deliver_span_ms"] = lastRecv.Sub(firstRecv).Milliseconds()
		out["last_delivery_after_generation_ms"] = lastRecv.Sub(genStart.Add(genTook)).Milliseconds()
	}
	// Order per instance must hold.
	inOrder := sort.SliceIsSorted(ds, func(a, b int) bool { return ds[a].id < ds[b].id })
	out["in_order"] = inOrder
	return out
}

// incoming makes simulated contacts write to the instance, at o.rate per
// second (0: as fast as o.c workers can).
func incoming(o hookOpts) {
	var tick <-chan time.Time
	if o.rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
		defer t.Stop()
		tick = t.C
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range o.c {
		wg.Go(func() {
			for i := range jobs {
				from := fmt.Sprintf("+4917400%06d", i%50) // 50 contacts
				if _, err := mg.SandboxIncoming(ctx, o.name, client.Incoming{From: from, Text: fmt.Sprintf("incoming %d", i)}); err != nil {
					fail("incoming: %v", err)
				}
			}
		})
	}
	for i := range o.incoming {
		if tick != nil {
			<-tick
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

// ------------------------------------------------------------ strace

// straceSum adds up what an strace of meowgate wrote to each file of the
// database: bytes, write calls, WAL frames and commits (a WAL frame header
// with a non-zero "database size after commit" field ends a transaction),
// and fsyncs.
func straceSum(trace, fdsFile, markFile, pagesFile string, n int) map[string]any {
	pageOwner := map[uint32]string{}
	if b, err := os.ReadFile(pagesFile); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			no, name, ok := strings.Cut(line, "|")
			if v, err := strconv.ParseUint(no, 10, 32); ok && err == nil {
				pageOwner[uint32(v)] = name
			}
		}
	}
	framesOf := map[string]int64{}
	fdPath := map[string]string{}
	if b, err := os.ReadFile(fdsFile); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				fdPath[f[0]] = f[len(f)-1]
			}
		}
	}
	var from float64
	if b, err := os.ReadFile(markFile); err == nil {
		from, _ = strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	}
	f, err := os.Open(trace)
	if err != nil {
		fail("%v", err)
	}
	defer f.Close()
	type acc struct {
		Bytes, Calls, Frames, Commits, Syncs int64
	}
	per := map[string]*acc{}
	get := func(fd string) *acc {
		p := fdPath[fd]
		switch {
		case strings.HasSuffix(p, "-wal"):
			p = "wal"
		case strings.HasSuffix(p, "-shm"):
			p = "shm"
		case strings.HasSuffix(p, ".db"):
			p = "db"
		default:
			p = "other"
		}
		if per[p] == nil {
			per[p] = &acc{}
		}
		return per[p]
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		// "PID TIME syscall(fd, "buf"..., len, off) = ret"
		fields := strings.SplitN(line, " ", 3)
		if len(fields) < 3 {
			continue
		}
		if from > 0 {
			if t, err := strconv.ParseFloat(fields[1], 64); err == nil && t < from {
				continue
			}
		}
		call := strings.TrimSpace(fields[2])
		name, rest, ok := strings.Cut(call, "(")
		if !ok {
			continue
		}
		fd := rest[:strings.IndexAny(rest+")", ",)")]
		switch name {
		case "pwrite64", "write":
			i := strings.LastIndex(rest, "= ")
			if i < 0 {
				continue
			}
			ret, err := strconv.ParseInt(strings.TrimSpace(rest[i+2:]), 10, 64)
			if err != nil || ret < 0 {
				continue
			}
			a := get(fd)
			a.Bytes += ret
			a.Calls++
			if ret == 24 && fdPath[fd] != "" && strings.HasSuffix(fdPath[fd], "-wal") {
				a.Frames++
				// Frame header: page number (bytes 0..3), database size
				// after commit (4..7, non-zero only in a commit's last frame).
				if h := hexBytes(rest); len(h) >= 8 {
					if h[4]|h[5]|h[6]|h[7] != 0 {
						a.Commits++
					}
					pg := uint32(h[0])<<24 | uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3])
					owner := pageOwner[pg]
					if owner == "" {
						owner = "(free or unknown)"
					}
					framesOf[owner]++
				}
			}
		case "fsync", "fdatasync":
			get(fd).Syncs++
		}
	}
	out := map[string]any{"messages": n}
	for k, a := range per {
		out[k] = a
		out[k+"_bytes_per_msg"] = float64(a.Bytes) / float64(n)
	}
	if w := per["wal"]; w != nil {
		out["commits_per_msg"] = float64(w.Commits) / float64(n)
		out["frames_per_msg"] = float64(w.Frames) / float64(n)
		if w.Commits > 0 {
			out["frames_per_commit"] = float64(w.Frames) / float64(w.Commits)
		}
	}
	total := int64(0)
	for k, a := range per {
		if k != "other" {
			total += a.Bytes
		}
	}
	out["file_bytes_per_msg"] = float64(total) / float64(n)
	if len(pageOwner) > 0 {
		perMsg := map[string]float64{}
		for k, v := range framesOf {
			perMsg[k] = math.Round(float64(v)/float64(n)*100) / 100
		}
		out["frames_per_msg_by_btree"] = perMsg
	}
	return out
}

// hexBytes decodes the "\x01\x02…" buffer strace -xx prints.
func hexBytes(s string) []byte {
	i := strings.Index(s, `"`)
	if i < 0 {
		return nil
	}
	s = s[i+1:]
	var out []byte
	for len(s) >= 4 && s[0] == '\\' && s[1] == 'x' {
		v, err := strconv.ParseUint(s[2:4], 16, 8)
		if err != nil {
			break
		}
		out = append(out, byte(v))
		s = s[4:]
	}
	return out
}
