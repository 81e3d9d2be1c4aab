package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meowgate/meowgate/client"
)

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
