// Command report turns the results.jsonl written by bench/run.sh into a
// Markdown summary: every figure next to its target, and meowgate's RSS
// against the bare whatsmeow baseline measured in the same run.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type record struct {
	Key  string         `json:"key"`
	Data map[string]any `json:"data"`
}

var (
	res  = map[string]map[string]any{}   // the last record of each key
	reps = map[string][]map[string]any{} // every record of each key, in order
)

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
		var r record
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Key != "" {
			res[r.Key] = r.Data
			reps[r.Key] = append(reps[r.Key], r.Data)
		}
	}

	if m := res["machine"]; m != nil {
		fmt.Printf("Machine: %v × %v, %v, %v; %v; source %v\n\n", m["nproc"], m["cpu"], m["kernel"], m["go"], m["date"], m["source"])
	}

	fmt.Println("| Measurement | Result | Target | |")
	fmt.Println("|---|---|---|---|")
	size := func(key, label string, target float64) {
		b, ok := num(key, "bytes")
		if !ok {
			return
		}
		mb := b / 1e6
		row(label, fmt.Sprintf("%.2f MB (%.2f MiB)", mb, b/(1<<20)), target, mb, "MB", true)
	}
	size("size_amd64", "Binary size linux/amd64 (`-trimpath -ldflags \"-s -w\"`)", 20)
	size("size_floor", "Floor: bare whatsmeow + modernc SQLite program (bench/sizefloor), linux/amd64", 0)
	size("size_arm64", "Binary size linux/arm64", 0)
	size("size_arm6", "Binary size linux/arm GOARM=6", 0)

	startup := func(key, label string, target float64) {
		v, ok := num(key, "ready_ms", "median")
		if !ok {
			return
		}
		lo, _ := num(key, "ready_ms", "min")
		hi, _ := num(key, "ready_ms", "max")
		runs, _ := num(key, "runs")
		row(label, fmt.Sprintf("%.1f ms (min %.1f, max %.1f, %d runs)", v, lo, hi, int(runs)), target, v, "ms", true)
		if c, ok := num(key, "all_connected_ms", "median"); ok {
			row(label+": until all connected", fmt.Sprintf("%.0f ms (median)", c), 0, c, "ms", true)
		}
	}
	startup("startup_empty", "Start → /readyz 200, 0 instances", 25)
	startup("startup_100", fmt.Sprintf("Start → /readyz 200, %d stored instances (not linked)", bigN()), 1000)
	startup("startup_100_linked", fmt.Sprintf("Start → /readyz 200, %d linked instances (desired running, wasim)", bigN()), 1000)

	if v, ok := num("rss_mg_plain_0", "rss_kib_median"); ok {
		row("Idle RSS, 0 instances (no sandbox)", mib(v), 20, v/1024, "MiB", true)
	}
	if v, ok := num("rss_mg_link_0", "rss_kib_median"); ok {
		row("Idle RSS, 0 instances (--sandbox-addr)", mib(v), 20, v/1024, "MiB", true)
	}
	for _, mode := range []string{"link", "login"} {
		mg, ok1 := num(fmt.Sprintf("rss_mg_%s_%d", mode, bigN()), "rss_kib_median")
		base, ok2 := num(fmt.Sprintf("rss_base_%s_%d", mode, bigN()), "rss_kib_median")
		if ok1 && ok2 {
			row(fmt.Sprintf("RSS at %d connected (%s): meowgate / baseline", bigN(), modeName(mode)),
				fmt.Sprintf("%s / %s = %.2f×", mib(mg), mib(base), mg/base), 1.3, mg/base, "×", true)
		}
	}

	if mg, ok := num("rss_mg_long", "rss_kib_median"); ok {
		base, _ := num("rss_base_long", "rss_kib_median")
		samples, _ := res["rss_mg_long"]["rss_kib_samples"].([]any)
		row(fmt.Sprintf("RSS at %d connected (restarted), side by side over %d min (median of %d samples 30 s apart): meowgate / baseline", bigN(), len(samples)/2, len(samples)),
			fmt.Sprintf("%s / %s = %.2f×", mib(mg), mib(base), mg/base), 1.3, mg/base, "×", true)
	}

	// rps gives the median req/s of a key's rounds, and the rounds.
	rps := func(key string) (float64, []float64, bool) {
		var vs []float64
		for _, d := range reps[key] {
			if v, ok := d["rps"].(float64); ok {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			return 0, nil, false
		}
		sorted := append([]float64(nil), vs...)
		sort.Float64s(sorted)
		return sorted[len(sorted)/2], vs, true
	}
	wrk := func(key, label string, target float64) {
		v, vs, ok := rps(key)
		if !ok {
			return
		}
		extra := ""
		if n, _ := num(key, "non2xx"); n > 0 {
			extra = fmt.Sprintf(", **%d non-2xx**", int(n))
		}
		if b, ok := num(key, "list_bytes"); ok {
			extra += fmt.Sprintf(", body %d B", int(b))
		}
		if len(vs) > 1 {
			var each []string
			for _, x := range vs {
				each = append(each, fmt.Sprintf("%.0f", x))
			}
			label += fmt.Sprintf(", median of %d rounds", len(vs))
			extra += "; rounds: " + strings.Join(each, ", ")
		}
		row(label, fmt.Sprintf("%.0f req/s (latency avg %v%s)", v, res[key]["lat_avg"], extra), target, v, "req/s", false)
	}
	wrk("wrk_1", "GET /v1/instances, 1 instance (wrk -t2 -c32 -d10s)", 80000)
	wrk("wrk_100", fmt.Sprintf("GET /v1/instances, %d instances", bigN()), 13000)
	wrk("wrk_healthz", "GET /healthz (no auth)", 0)
	wrk("wrk_floor_true", "Bare net/http, same body, meowgate's server timeouts (bench/httpfloor)", 0)
	wrk("wrk_floor_false", "Bare net/http, same body, no server timeouts", 0)
	if v, _, ok := rps("wrk_1"); ok {
		if f, _, ok := rps("wrk_floor_true"); ok {
			row("GET /v1/instances, 1 instance / bare net/http with the same timeouts (medians)", fmt.Sprintf("%.2f×", v/f), 0, v/f, "×", false)
		}
	}

	if c := res["create"]; c != nil {
		s, _ := c["sequential"].(map[string]any)
		k, _ := c["concurrent"].(map[string]any)
		if s != nil {
			p50, _ := s["p50_ms"].(float64)
			row("Create instance, sequential ×1000: p50", fmt.Sprintf("%.3f ms (p90 %.3f, p99 %.3f, max %.3f; %.0f/s)", p50, s["p90_ms"], s["p99_ms"], s["max_ms"], s["per_sec"]), 0.25, p50, "ms", true)
		}
		if f := res["create_floor"]; f != nil && s != nil {
			if fs, _ := f["sequential"].(map[string]any); fs != nil {
				p50, _ := s["p50_ms"].(float64)
				fp50, _ := fs["p50_ms"].(float64)
				row("… the same client POSTing to bare net/http (bench/httpfloor): p50, and meowgate's p50 less it", fmt.Sprintf("%.3f ms; meowgate's own work %.3f ms", fp50, p50-fp50), 0, fp50, "ms", true)
			}
		}
		if k != nil {
			p50, _ := k["p50_ms"].(float64)
			row(fmt.Sprintf("Create instance, %v concurrent ×250: p50", c["clients"]), fmt.Sprintf("%.3f ms (p90 %.3f, p99 %.3f, max %.3f; %.0f/s)", p50, k["p90_ms"], k["p99_ms"], k["max_ms"], k["per_sec"]), 0, p50, "ms", true)
		}
		failed := 0.0
		for _, m := range []map[string]any{s, k} {
			if v, ok := m["failed"].(float64); ok {
				failed += v
			}
		}
		row("Create instance: answers other than 201", fmt.Sprintf("%d of %d", int(failed), 1000+2000), 0.5, failed, "", true)
	}

	big := 100
	idle, samples := 10.0, 5.0
	if p := res["params"]; p != nil {
		if v, ok := p["big"].(float64); ok {
			big = int(v)
		}
		idle, _ = p["idle_s"].(float64)
		samples, _ = p["samples"].(float64)
	}
	fmt.Println()
	fmt.Printf("RSS (VmRSS, median of %d samples 1 s apart, after all instances are connected and %g s idle); meowgate and the baseline run against the same wasim process:\n", int(samples), idle)
	fmt.Println()
	fmt.Println("| Instances | meowgate, linked in-process | baseline, linked in-process | ratio | meowgate, restarted (login) | baseline, restarted (login) | ratio |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range []int{0, 10, big} {
		cells := []string{fmt.Sprint(n)}
		for _, mode := range []string{"link", "login"} {
			mk, bk := fmt.Sprintf("rss_mg_%s_%d", mode, n), fmt.Sprintf("rss_base_%s_%d", mode, n)
			if n == 0 {
				mk, bk = "rss_mg_link_0", "rss_base_link_0"
			}
			mg, ok1 := num(mk, "rss_kib_median")
			base, ok2 := num(bk, "rss_kib_median")
			cells = append(cells, cell(mg, ok1), cell(base, ok2))
			if ok1 && ok2 {
				cells = append(cells, fmt.Sprintf("%.2f×", mg/base))
			} else {
				cells = append(cells, "–")
			}
		}
		fmt.Printf("| %s |\n", strings.Join(cells, " | "))
	}
	cells := []string{fmt.Sprintf("per instance (%d vs 0)", big)}
	for _, mode := range []string{"link", "login"} {
		mg0, _ := num("rss_mg_link_0", "rss_kib_median")
		b0, _ := num("rss_base_link_0", "rss_kib_median")
		mg, ok1 := num(fmt.Sprintf("rss_mg_%s_%d", mode, big), "rss_kib_median")
		base, ok2 := num(fmt.Sprintf("rss_base_%s_%d", mode, big), "rss_kib_median")
		if ok1 && ok2 {
			d1, d2 := (mg-mg0)/float64(big), (base-b0)/float64(big)
			cells = append(cells, fmt.Sprintf("%.0f KiB", d1), fmt.Sprintf("%.0f KiB", d2), fmt.Sprintf("%.2f×", d1/d2))
		} else {
			cells = append(cells, "–", "–", "–")
		}
	}
	fmt.Printf("| %s |\n", strings.Join(cells, " | "))

	var loads []string
	for _, ph := range []string{"size", "rss", "rss_long", "startup", "wrk", "create", "profile"} {
		if l := res["load_"+ph]; l != nil {
			loads = append(loads, fmt.Sprintf("%s %v", ph, l["loadavg"]))
		}
	}
	if len(loads) > 0 {
		fmt.Printf("\nLoad average (1, 5, 15 min) as each phase started: %s.\n", strings.Join(loads, "; "))
	}
}

// bigN is the "100 instances" count of the run (BIG).
func bigN() int {
	if v, ok := num("params", "big"); ok {
		return int(v)
	}
	return 100
}

func modeName(mode string) string {
	if mode == "link" {
		return "linked in-process"
	}
	return "restarted, login only"
}

func cell(kib float64, ok bool) string {
	if !ok {
		return "–"
	}
	return mib(kib)
}

func mib(kib float64) string { return fmt.Sprintf("%.1f MiB", kib/1024) }

// row prints one line; target 0 means "no target". lower says whether
// lower is better.
func row(label, result string, target, value float64, unit string, lower bool) {
	t, status := "–", ""
	if target > 0 {
		op := "<"
		if unit == "×" || unit == "" {
			op = "≤"
		}
		if !lower {
			op = "≥"
		}
		t = fmt.Sprintf("%s %g %s", op, target, unit)
		if unit == "" {
			t = "0"
		}
		ok := value < target
		if !lower {
			ok = value >= target
		}
		if ok {
			status = "✅"
		} else {
			status = "❌ over target"
			if !lower {
				status = "❌ under target"
			}
		}
	}
	fmt.Printf("| %s | %s | %s | %s |\n", label, result, strings.TrimSpace(t), status)
}

// num reads a number at the path inside a result.
func num(key string, path ...string) (float64, bool) {
	var v any = res[key]
	if res[key] == nil {
		return 0, false
	}
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return 0, false
		}
		v = m[p]
	}
	f, ok := v.(float64)
	return f, ok
}
