// Command startup measures meowgate's time from process start to the first
// 200 from /readyz: it execs the binary -runs times (each on a fresh
// loopback port), polls /readyz every millisecond, and stops the process
// with SIGTERM. With -wait-connected N it also measures the time until N
// instances report "connected".
//
// The environment is passed through (MEOWGATE_API_ADMIN_KEY etc.). It
// prints one JSON line with the figures in milliseconds.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "./meowgate", "meowgate binary")
	db := flag.String("store", "", "database file (kept between runs)")
	runs := flag.Int("runs", 15, "runs")
	sandbox := flag.String("sandbox-addr", "", "pass --sandbox-addr")
	waitConn := flag.Int("wait-connected", 0, "also wait until this many instances are connected")
	key := flag.String("key", os.Getenv("MEOWGATE_API_ADMIN_KEY"), "admin key (for -wait-connected)")
	logFile := flag.String("log", "", "append meowgate's stderr here (default: discard)")
	flag.Parse()

	var logw io.Writer = io.Discard
	if *logFile != "" {
		f, err := os.OpenFile(*logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		check(err)
		defer f.Close()
		logw = f
	}
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var ready, connected []float64
	for r := range *runs {
		addr := freePort()
		args := []string{"serve", "--listen", addr, "--store", *db}
		if *sandbox != "" {
			args = append(args, "--sandbox-addr", *sandbox)
		}
		cmd := exec.Command(*bin, args...)
		cmd.Stdout, cmd.Stderr = logw, logw
		t0 := time.Now()
		check(cmd.Start())
		current = cmd
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var tReady time.Duration
		for {
			res, err := hc.Get("http://" + addr + "/readyz")
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					tReady = time.Since(t0)
					break
				}
			}
			select {
			case err := <-exited:
				fail("run %d: meowgate exited before ready: %v", r, err)
			default:
			}
			if time.Since(t0) > 60*time.Second {
				fail("run %d: not ready after 60 s", r)
			}
			time.Sleep(time.Millisecond)
		}
		ready = append(ready, ms(tReady))
		if *waitConn > 0 {
			for {
				if n := countConnected(hc, addr, *key); n >= *waitConn {
					connected = append(connected, ms(time.Since(t0)))
					break
				}
				if time.Since(t0) > 120*time.Second {
					fail("run %d: instances not connected after 120 s", r)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			fmt.Fprintf(os.Stderr, "startup: run %d: meowgate did not stop within 30 s after SIGTERM; killed\n", r)
		}
		current = nil
	}
	out := map[string]any{"runs": *runs, "ready_ms": stats(ready)}
	if len(connected) > 0 {
		out["all_connected_ms"] = stats(connected)
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

// countConnected reads the connected instances from /metrics (a small
// answer), falling back to GET /v1/instances.
func countConnected(hc *http.Client, addr, key string) int {
	req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if res, err := hc.Do(req); err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, `meowgate_instances{state="connected"} `); ok {
					if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
						return n
					}
				}
			}
		}
	}
	req, _ = http.NewRequest("GET", "http://"+addr+"/v1/instances", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := hc.Do(req)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	var body struct {
		Instances []struct {
			State string `json:"state"`
		} `json:"instances"`
	}
	if json.NewDecoder(res.Body).Decode(&body) != nil {
		return 0
	}
	n := 0
	for _, in := range body.Instances {
		if in.State == "connected" {
			n++
		}
	}
	return n
}

func stats(v []float64) map[string]any {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return map[string]any{"median": round(med), "min": round(s[0]), "max": round(s[len(s)-1]), "all": roundAll(v)}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func round(f float64) float64    { return float64(int64(f*100+0.5)) / 100 }
func roundAll(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, f := range v {
		out[i] = round(f)
	}
	return out
}

// freePort returns a loopback address nothing listens on right now.
func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer ln.Close()
	return ln.Addr().String()
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

// current is the running meowgate, killed if the benchmark fails.
var current *exec.Cmd

func fail(format string, args ...any) {
	if current != nil && current.Process != nil {
		current.Process.Kill()
	}
	fmt.Fprintf(os.Stderr, "startup: "+strings.TrimSuffix(format, "\n")+"\n", args...)
	os.Exit(1)
}
