// Command createlat measures POST /v1/instances latency on a running
// meowgate: -seq creations one after another, then -conc clients creating
// -per instances each at the same time. Every answer must be 201; anything
// else is counted and the first few are printed (a defect).
//
// It prints one JSON line with p50/p90/p99/max in milliseconds.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/meowgate/meowgate/client"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "meowgate base URL")
	key := flag.String("key", os.Getenv("MEOWGATE_API_ADMIN_KEY"), "admin key")
	seq := flag.Int("seq", 1000, "sequential creations")
	conc := flag.Int("conc", 8, "concurrent clients")
	per := flag.Int("per", 250, "creations per concurrent client")
	prefix := flag.String("prefix", "lat", "instance name prefix")
	want := flag.Int("want", http.StatusCreated, "expected status (200 against bench/httpfloor, the round trip's floor; any 2xx passes for a 2xx)")
	flag.Parse()

	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: tr}
	mg := client.New(*base, *key, client.WithHTTPClient(hc))
	ctx := context.Background()
	var mu sync.Mutex
	var failures []string
	create := func(name string) time.Duration {
		t0 := time.Now()
		_, err := mg.CreateInstance(ctx, client.CreateInstanceRequest{Name: name})
		d := time.Since(t0)
		// The client passes every 2xx; an *Error carries any other status.
		ok := err == nil && *want >= 200 && *want <= 299
		if err != nil && client.StatusOf(err) == *want {
			ok = true
		}
		if !ok {
			msg := fmt.Sprintf("%s: ", name)
			if err != nil {
				msg += err.Error()
			} else {
				msg += fmt.Sprintf("a 2xx answer, want %d", *want)
			}
			mu.Lock()
			failures = append(failures, msg)
			mu.Unlock()
		}
		return d
	}
	// Warm the connection (and the handler) without counting it.
	create(*prefix + "-warmup")

	seqLat := make([]time.Duration, 0, *seq)
	t0 := time.Now()
	for i := range *seq {
		seqLat = append(seqLat, create(fmt.Sprintf("%s-s-%d", *prefix, i)))
	}
	seqWall := time.Since(t0)
	seqFail := len(failures)

	concLat := make([][]time.Duration, *conc)
	var wg sync.WaitGroup
	t0 = time.Now()
	for c := range *conc {
		wg.Go(func() {
			for i := range *per {
				concLat[c] = append(concLat[c], create(fmt.Sprintf("%s-c%d-%d", *prefix, c, i)))
			}
		})
	}
	wg.Wait()
	concWall := time.Since(t0)
	var all []time.Duration
	for _, l := range concLat {
		all = append(all, l...)
	}
	out := map[string]any{
		"sequential": summary(seqLat, seqWall, seqFail),
		"concurrent": summary(all, concWall, len(failures)-seqFail),
		"clients":    *conc,
	}
	if len(failures) > 0 {
		out["first_failures"] = failures[:min(len(failures), 5)]
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	if len(failures) > 0 {
		fmt.Fprintf(os.Stderr, "createlat: %d creations did not answer %d; first: %s\n", len(failures), *want, failures[0])
		os.Exit(1)
	}
}

func summary(lat []time.Duration, wall time.Duration, failed int) map[string]any {
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(p float64) float64 {
		i := int(p*float64(len(s))+0.5) - 1
		i = max(0, min(i, len(s)-1))
		return msf(s[i])
	}
	return map[string]any{
		"n": len(s), "failed": failed,
		"p50_ms": q(0.50), "p90_ms": q(0.90), "p99_ms": q(0.99), "max_ms": msf(s[len(s)-1]),
		"per_sec": float64(int(float64(len(s))/wall.Seconds()*10)) / 10,
	}
}

func msf(d time.Duration) float64 { return float64(d.Nanoseconds()/1000) / 1000 }
