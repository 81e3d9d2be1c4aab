// Command report turns bench/messaging/run.sh's results.jsonl into the
// Markdown summary: medians over the runs, ratios, and the targets.
//
//	report results.jsonl > summary.md
//
// Each input line is {"key":"…","run":N,"data":{…}} as run.sh records it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
)

type rec struct {
	Key  string         `json:"key"`
	Run  int            `json:"run"`
	Data map[string]any `json:"data"`
}

var recs []rec

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: report results.jsonl")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r rec
		if err := json.Unmarshal(sc.Bytes(), &r); err == nil {
			recs = append(recs, r)
		}
	}
	f.Close()

	if m := first("machine"); m != nil {
		fmt.Printf("Machine: %v × %v, %v, %v; %v; %v; load average %v; source %v.\n\n",
			m["nproc"], m["cpu"], m["mem_total"], m["kernel"], m["go"], m["date"], m["load"], m["source"])
	}
	fmt.Println("| # | benchmark | result (median of runs) | runs | target | |")
	fmt.Println("|---|---|---|---|---|---|")

	// 1. enqueue
	wrk := values("enqueue_wrk", "msgs_per_s")
	goc := values("enqueue_go", "msgs_per_s")
	row("1", "enqueue → 202, 32 clients (wrk)", fmt.Sprintf("**%s msgs/s** (p50 %s ms, p99 %s ms)",
		f0(median(wrk)), f1(median(values("enqueue_wrk", "lat_p50_ms"))), f1(median(values("enqueue_wrk", "lat_p99_ms")))),
		len(wrk), "≥ 5,000 msgs/s", ok(median(wrk) >= 5000))
	row("1", "enqueue → 202, 32 clients (Go client)", fmt.Sprintf("%s msgs/s (p50 %s ms, p99 %s ms); queue verified: %s",
		f0(median(goc)), f1(median(values("enqueue_go", "lat_p50_ms"))), f1(median(values("enqueue_go", "lat_p99_ms"))), verified()),
		len(goc), "≥ 5,000 msgs/s", ok(median(goc) >= 5000))

	// 2. end-to-end
	mg := values("send_mg", "msgs_per_s")
	bare := values("send_bare", "msgs_per_s")
	ratios := pairRatios("send_mg", "send_bare", "msgs_per_s")
	row("2", fmt.Sprintf("end-to-end send, N=%v, send_delay_ms 0", num(first("send_mg"), "n")),
		fmt.Sprintf("meowgate %s msgs/s, bare whatsmeow %s msgs/s: **ratio %s** (per run: %s)",
			f0(median(mg)), f0(median(bare)), f2(median(ratios)), list(ratios, f2)),
		len(ratios), "ratio ≥ 0.7", ok(median(ratios) >= 0.7))
	if d := values("send_mg", "drain_msgs_per_s"); len(d) > 0 {
		row("2", "… meowgate drain rate (first to last ack)", fmt.Sprintf("%s msgs/s; enqueueing the %v took %s ms",
			f0(median(d)), num(first("send_mg"), "n"), f0(median(values("send_mg", "post_ms")))), len(d), "", "")
	}
	if p := values("send_mg_harness", "msgs_per_s"); len(p) > 0 {
		row("2", "… meowgate in the pprof harness", fmt.Sprintf("%s msgs/s (profile: send.pprof.txt)", f0(median(p))), len(p), "", "")
	}

	// 3. pacing
	for _, src := range []struct{ key, what string }{{"gaps_inbox", "simulator inbox received_at"}, {"gaps_sent_event", "message.sent created_at"}} {
		med := nested("pacing", src.key, "dev_median_ms")
		p99 := nested("pacing", src.key, "dev_p99_ms")
		gap := nested("pacing", src.key, "gap_median_ms")
		if len(p99) == 0 {
			continue
		}
		row("3", "pacing 200 ms, 50 msgs: |gap − 200 ms| ("+src.what+")",
			fmt.Sprintf("median %s ms, **p99 %s ms** (median gap %s ms; p99 per run: %s)", f1(median(med)), f1(median(p99)), f1(median(gap)), list(p99, f1)),
			len(p99), "p99 < 20 ms", ok(median(p99) < 20))
	}

	// 4. webhooks
	if b := values("webhook_burst", "events_per_s"); len(b) > 0 {
		row("4", fmt.Sprintf("webhook drain of a %v-event backlog", num(first("webhook_burst"), "events")),
			fmt.Sprintf("**%s events/s** (per run: %s)", f0(median(b)), list(b, f0)), len(b), "≥ 1,000 events/s", ok(median(b) >= 1000))
	}
	for _, k := range []string{"webhook_live_in", "webhook_live_send"} {
		l := values(k, "lat_p50_ms")
		if len(l) == 0 {
			continue
		}
		what := fmt.Sprintf("webhook latency (message.received), %v incoming msgs at %v/s", num(first(k), "incoming"), num(first(k), "rate"))
		if k == "webhook_live_send" {
			what = fmt.Sprintf("webhook latency (message.sent) while sending %v msgs flat out (3 events each)", num(first(k), "sends"))
		}
		row("4", what, fmt.Sprintf("**p50 %s ms**, p90 %s ms, p99 %s ms; delivered %s events/s (generated %s/s)",
			f1(median(l)), f1(median(values(k, "lat_p90_ms"))), f1(median(values(k, "lat_p99_ms"))),
			f0(median(values(k, "events_per_s"))), f0(median(values(k, "generated_per_s")))), len(l), "< 10 ms median", ok(median(l) < 10))
	}

	// 5. bytes written
	if w := nested("io_mg", "io", "write_bytes_per_msg"); len(w) > 0 {
		row("5", fmt.Sprintf("/proc/PID/io write_bytes per sent message (N=%v, receipts included)", num(first("io_mg"), "n")),
			fmt.Sprintf("**%s KiB/msg**", f1(median(w)/1024)), len(w), "report", "")
	}
	for _, k := range []struct{ key, who string }{{"strace_mg", "meowgate"}, {"strace_bare", "bare whatsmeow"}} {
		s := first(k.key)
		if s == nil {
			continue
		}
		row("5", k.who+": bytes written to the database files per message (strace)",
			fmt.Sprintf("WAL %s KiB + main file %s KiB (checkpoints); %s commits, %s WAL frames (%s per commit)",
				f1(num(s, "wal_bytes_per_msg")/1024), f1(num(s, "db_bytes_per_msg")/1024),
				f2(num(s, "commits_per_msg")), f1(num(s, "frames_per_msg")), f1(num(s, "frames_per_commit"))), 1, "report", "")
	}
	// 6. aging
	if a := values("send_aged", "msgs_per_s"); len(a) > 0 {
		fresh := median(mg)
		row("6", fmt.Sprintf("end-to-end send as in 2, instance with %s messages of history", histLabel()),
			fmt.Sprintf("**%s msgs/s** = %s × the fresh instance of 2, %s × bare (per run: %s)",
				f0(median(a)), f2(median(a)/fresh), f2(median(a)/median(bare)), list(a, f0)), len(a), "(ratio ≥ 0.7)", ok(median(a)/median(bare) >= 0.7))
	}
	if a := values("webhook_burst_aged", "events_per_s"); len(a) > 0 {
		row("6", fmt.Sprintf("webhook drain as in 4, instance with %s messages of history", histLabel()),
			fmt.Sprintf("**%s events/s** = %s × the fresh instance of 4 (per run: %s)",
				f0(median(a)), f2(median(a)/median(values("webhook_burst", "events_per_s"))), list(a, f0)), len(a), "≥ 1,000 events/s", ok(median(a) >= 1000))
	}

	if s := first("strace_mg"); s != nil {
		if by, ok := s["frames_per_msg_by_btree"].(map[string]any); ok {
			type kv struct {
				k string
				v float64
			}
			var l []kv
			for k, v := range by {
				if f, _ := v.(float64); f >= 0.05 {
					l = append(l, kv{k, f})
				}
			}
			sort.Slice(l, func(a, b int) bool { return l[a].v > l[b].v })
			var parts []string
			for _, e := range l {
				parts = append(parts, fmt.Sprintf("%s %s", e.k, f2(e.v)))
			}
			fmt.Printf("\nWAL frames (4 KiB pages) per sent message by b-tree, meowgate: %s.\n", strings.Join(parts, ", "))
		}
	}
}

func histLabel() string {
	if m := first("machine"); m != nil {
		if v, ok := m["aged"].(float64); ok {
			return f0(v)
		}
	}
	return "AGED"
}

func row(n, what, result string, runs int, target, met string) {
	fmt.Printf("| %s | %s | %s | %d | %s | %s |\n", n, what, result, runs, target, met)
}

func ok(b bool) string {
	if b {
		return "met"
	}
	return "**missed**"
}

func first(key string) map[string]any {
	for _, r := range recs {
		if r.Key == key {
			return r.Data
		}
	}
	return nil
}

func num(m map[string]any, k string) float64 {
	if m == nil {
		return math.NaN()
	}
	f, ok := m[k].(float64)
	if !ok {
		return math.NaN()
	}
	return f
}

func values(key, field string) []float64 { return nested(key, field) }

// nested collects data[path[0]][path[1]]… over the runs of key.
func nested(key string, path ...string) []float64 {
	var out []float64
	for _, r := range recs {
		if r.Key != key {
			continue
		}
		var v any = r.Data
		for _, p := range path {
			m, _ := v.(map[string]any)
			v = m[p]
		}
		if f, ok := v.(float64); ok {
			out = append(out, f)
		}
	}
	return out
}

// pairRatios divides a's field by b's for each run number both have.
func pairRatios(a, b, field string) []float64 {
	bs := map[int]float64{}
	for _, r := range recs {
		if r.Key == b {
			bs[r.Run] = num(r.Data, field)
		}
	}
	var out []float64
	for _, r := range recs {
		if r.Key == a {
			if d, ok := bs[r.Run]; ok && d > 0 {
				out = append(out, num(r.Data, field)/d)
			}
		}
	}
	return out
}

func verified() string {
	all := true
	n := 0
	for _, r := range recs {
		if r.Key == "enqueue_go" || r.Key == "enqueue_wrk_check" {
			n++
			if v, _ := r.Data["verified"].(bool); !v {
				all = false
			}
		}
	}
	if n == 0 {
		return "n/a"
	}
	if all {
		return "yes"
	}
	return "**no**"
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func list(v []float64, f func(float64) string) string {
	p := make([]string, len(v))
	for i, x := range v {
		p[i] = f(x)
	}
	return strings.Join(p, ", ")
}

func f0(v float64) string { return commas(fmt.Sprintf("%.0f", v)) }
func f1(v float64) string { return fmt.Sprintf("%.1f", v) }
func f2(v float64) string { return fmt.Sprintf("%.2f", v) }

func commas(s string) string {
	if len(s) <= 3 || strings.ContainsAny(s, "N-") {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}
