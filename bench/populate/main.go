// Command populate drives a running meowgate through its HTTP API, in this
// order: with -ready it waits for /readyz; with -n it creates instances
// PREFIX-0 … PREFIX-n-1 and, with -link, also starts each one and links it
// through the sandbox scan route (meowgate must run with --sandbox-addr)
// until it is connected; with -wait N it waits until N instances are
// connected (after a restart with linked instances); with -expect N it
// checks that GET /v1/instances lists N instances; with -messages M it
// queues M texts spread over those instances (PREFIX-i, round robin; they
// stay queued on instances that are not connected).
//
// It prints one JSON line with what it did and how long it took.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/meowgate/meowgate/bench/internal/pool"
	"github.com/meowgate/meowgate/client"
)

var (
	base = flag.String("url", "http://127.0.0.1:8080", "meowgate base URL")
	key  = flag.String("key", os.Getenv("MEOWGATE_API_ADMIN_KEY"), "admin key")
	hc   = &http.Client{Timeout: 60 * time.Second}
	ctx  = context.Background()
)

func main() {
	ready := flag.Bool("ready", false, "first wait until /readyz answers 200")
	n := flag.Int("n", 0, "instances to create")
	prefix := flag.String("prefix", "inst", "instance name prefix")
	link := flag.Bool("link", false, "connect and link every created instance through the sandbox")
	phonePrefix := flag.String("phone-prefix", "+4915", "phones are PREFIX + 8 digits (with -link)")
	workers := flag.Int("workers", 8, "parallel workers")
	wait := flag.Int("wait", 0, "then wait until this many instances are connected")
	expect := flag.Int("expect", -1, "finally check that GET /v1/instances lists this many instances")
	messages := flag.Int("messages", 0, "then queue this many texts, round robin over the -n instances")
	timeout := flag.Duration("timeout", 5*time.Minute, "overall timeout")
	flag.Parse()
	mg := client.New(*base, *key, client.WithHTTPClient(hc))

	start := time.Now()
	deadline := start.Add(*timeout)
	out := map[string]any{}
	if *ready {
		for {
			if mg.Readyz(ctx) == nil {
				break
			}
			if time.Now().After(deadline) {
				fail("not ready after %v", *timeout)
			}
			time.Sleep(5 * time.Millisecond)
		}
		out["ready_ms"] = time.Since(start).Milliseconds()
	}

	if *n > 0 {
		t0 := time.Now()
		errs := pool.ForEach(*n, *workers, func(i int) error {
			name := fmt.Sprintf("%s-%d", *prefix, i)
			if _, err := mg.CreateInstance(ctx, client.CreateInstanceRequest{Name: name, Connect: *link}); err != nil {
				return fmt.Errorf("create %s: %w", name, err)
			}
			if !*link {
				return nil
			}
			phone := fmt.Sprintf("%s%08d", *phonePrefix, i)
			for {
				_, err := mg.SandboxScan(ctx, name, phone)
				if err == nil {
					break
				}
				// The QR may not be shown yet: try again shortly.
				if client.StatusOf(err) != http.StatusConflict || time.Now().After(deadline) {
					return fmt.Errorf("scan %s: %w", name, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			for {
				s, err := mg.State(ctx, name)
				if err == nil && s.State == client.StateConnected {
					return nil
				}
				if time.Now().After(deadline) {
					if err == nil {
						err = fmt.Errorf("state %s (%s)", s.State, s.Reason)
					}
					return fmt.Errorf("%s not connected: %w", name, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
		if len(errs) > 0 {
			fail("%d of %d failed; first: %v", len(errs), *n, errs[0])
		}
		out["created"], out["linked"], out["create_ms"] = *n, *link, time.Since(t0).Milliseconds()
	}

	if *messages > 0 && *n > 0 {
		t0 := time.Now()
		errs := pool.ForEach(*messages, *workers, func(i int) error {
			name := fmt.Sprintf("%s-%d", *prefix, i%*n)
			req := client.SendRequest{To: fmt.Sprintf("+4917100%06d", i%1000), Text: fmt.Sprintf("populate message %07d", i)}
			if _, err := mg.Send(ctx, name, req); err != nil {
				return fmt.Errorf("send %d on %s: %w", i, name, err)
			}
			return nil
		})
		if len(errs) > 0 {
			fail("%d of %d sends failed; first: %v", len(errs), *messages, errs[0])
		}
		out["queued"], out["queue_ms"] = *messages, time.Since(t0).Milliseconds()
	}

	if *wait > 0 {
		t0 := time.Now()
		for {
			c := connectedCount(mg)
			if c >= *wait {
				break
			}
			if time.Now().After(deadline) {
				fail("only %d of %d instances connected after %v", c, *wait, *timeout)
			}
			time.Sleep(100 * time.Millisecond)
		}
		out["connected"], out["wait_ms"] = *wait, time.Since(t0).Milliseconds()
	}

	if *expect >= 0 {
		_, total, size := list(mg)
		if total != *expect {
			fail("GET /v1/instances lists %d instances, want %d", total, *expect)
		}
		out["listed"], out["list_bytes"] = total, size
	}
	report(out)
}

// connectedCount reads the number of connected instances from /metrics, a
// small answer: polling GET /v1/instances (about 0.75 KB per instance) would
// itself make garbage in the process whose memory is measured next. Without
// /metrics it falls back to the list.
func connectedCount(mg *client.Client) int {
	b, err := mg.Metrics(ctx)
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, `meowgate_instances{state="connected"} `); ok {
				n, err := strconv.Atoi(strings.TrimSpace(v))
				if err == nil {
					return n
				}
			}
		}
	}
	c, _, _ := list(mg)
	return c
}

// list returns how many instances are connected, how many there are, and
// the size of the answer.
func list(mg *client.Client) (connected, total, size int) {
	// Do, not ListInstances: the answer's size is reported as it came.
	var body struct {
		Instances []struct {
			State string `json:"state"`
		} `json:"instances"`
	}
	b, err := mg.Do(ctx, http.MethodGet, "/v1/instances", nil, &body)
	if err != nil {
		return 0, 0, 0
	}
	for _, in := range body.Instances {
		if in.State == client.StateConnected {
			connected++
		}
	}
	return connected, len(body.Instances), len(b)
}

func report(v map[string]any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "populate: "+format+"\n", args...)
	os.Exit(1)
}
