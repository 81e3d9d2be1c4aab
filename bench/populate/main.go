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
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/meowgate/meowgate/bench/internal/pool"
)

var (
	base = flag.String("url", "http://127.0.0.1:8080", "meowgate base URL")
	key  = flag.String("key", os.Getenv("MEOWGATE_API_ADMIN_KEY"), "admin key")
	hc   = &http.Client{Timeout: 60 * time.Second}
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

	start := time.Now()
	deadline := start.Add(*timeout)
	out := map[string]any{}
	if *ready {
		for {
			st, _ := call("GET", "/readyz", nil)
			if st == http.StatusOK {
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
			body := map[string]any{"name": name}
			if *link {
				body["connect"] = true
			}
			if st, b := call("POST", "/v1/instances", body); st != http.StatusCreated {
				return fmt.Errorf("create %s: HTTP %d: %s", name, st, b)
			}
			if !*link {
				return nil
			}
			phone := fmt.Sprintf("%s%08d", *phonePrefix, i)
			for {
				st, b := call("POST", "/v1/sandbox/instances/"+name+"/scan", map[string]any{"phone": phone})
				if st == http.StatusOK {
					break
				}
				// The QR may not be shown yet: try again shortly.
				if st != http.StatusConflict || time.Now().After(deadline) {
					return fmt.Errorf("scan %s: HTTP %d: %s", name, st, b)
				}
				time.Sleep(50 * time.Millisecond)
			}
			for {
				st, b := call("GET", "/v1/instances/"+name+"/state", nil)
				var s struct {
					State string `json:"state"`
				}
				_ = json.Unmarshal(b, &s)
				if st == http.StatusOK && s.State == "connected" {
					return nil
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("%s not connected: HTTP %d: %s", name, st, b)
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
			body := map[string]any{"to": fmt.Sprintf("+4917100%06d", i%1000), "text": fmt.Sprintf("populate message %07d", i)}
			if st, b := call("POST", "/v1/instances/"+name+"/messages", body); st != http.StatusAccepted {
				return fmt.Errorf("send %d on %s: HTTP %d: %s", i, name, st, b)
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
			c := connectedCount()
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
		_, total, size := list()
		if total != *expect {
			fail("GET /v1/instances lists %d instances, want %d", total, *expect)
		}
		out["listed"], out["list_bytes"] = total, size
	}
	report(out)
}

func call(method, path string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, *base+path, rd)
	if err != nil {
		fail("%v", err)
	}
	req.Header.Set("Authorization", "Bearer "+*key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// connectedCount reads the number of connected instances from /metrics, a
// small answer: polling GET /v1/instances (about 0.75 KB per instance) would
// itself make garbage in the process whose memory is measured next. Without
// /metrics it falls back to the list.
func connectedCount() int {
	st, b := call("GET", "/metrics", nil)
	if st == http.StatusOK {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, `meowgate_instances{state="connected"} `); ok {
				n, err := strconv.Atoi(strings.TrimSpace(v))
				if err == nil {
					return n
				}
			}
		}
	}
	c, _, _ := list()
	return c
}

// list returns how many instances are connected, how many there are, and
// the size of the answer.
func list() (connected, total, size int) {
	st, b := call("GET", "/v1/instances", nil)
	if st != http.StatusOK {
		return 0, 0, 0
	}
	var body struct {
		Instances []struct {
			State string `json:"state"`
		} `json:"instances"`
	}
	_ = json.Unmarshal(b, &body)
	for _, in := range body.Instances {
		if in.State == "connected" {
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
