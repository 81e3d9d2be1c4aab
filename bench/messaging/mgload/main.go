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
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
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
