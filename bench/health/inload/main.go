// Command inload measures how fast incoming messages are taken in
// (bench/health/run.sh): N texts from C contacts wait in a wasim
// simulator's offline queue while the receiver is disconnected; the clock
// runs from the receiver's reconnect to the last message taken in.
//
//	inload bare -wasim ADDR -db FILE   a plain whatsmeow.Client, counting its
//	                                   events.Message (whatsmeow's defaults:
//	                                   acks before handling)
//	inload mg -wasim ADDR -url URL     a meowgate (serve --sandbox-addr ADDR):
//	                                   the last message.received event in
//	                                   its log (stored and published)
//
// It prints one JSON line: n, ms, msgs_per_s.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types/events"
	_ "modernc.org/sqlite"

	"github.com/meowgate/meowgate/bench/internal/barelink"
	"github.com/meowgate/meowgate/wasim"
)

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: inload bare|mg [flags]"))
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	addr := fs.String("wasim", "127.0.0.1:7070", "simulator address")
	phone := fs.String("phone", "+4915900000001", "the receiving account")
	contacts := fs.String("from", "+49179000", "contacts' number prefix (+ two digits each)")
	n := fs.Int("n", 2000, "messages")
	c := fs.Int("c", 5, "contacts")
	dbPath := fs.String("db", "bare.db", "bare: SQLite file for the device store")
	url := fs.String("url", "", "mg: meowgate base URL")
	key := fs.String("key", os.Getenv("MEOWGATE_API_ADMIN_KEY"), "mg: admin key")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	cpuProfile := fs.String("cpuprofile", "", "bare: write a CPU profile of the drain here")
	_ = fs.Parse(os.Args[2:])
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	wasim.TrustRoot()
	ctl := wasim.Remote(*addr)

	var r receiver
	switch mode {
	case "bare":
		r = newBare(ctx, *addr, *dbPath, *phone)
	case "mg":
		r = &mg{url: *url, key: *key}
		r.(*mg).link(ctx, *phone)
	default:
		fail(fmt.Errorf("unknown mode %q", mode))
	}
	r.disconnect(ctx)
	// The backlog, from C contacts at once.
	var wg sync.WaitGroup
	for k := range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := fmt.Sprintf("%s%02d", *contacts, k)
			for i := k; i < *n; i += *c {
				if _, err := ctl.Incoming(ctx, from, *phone, fmt.Sprintf("incoming %06d", i), ""); err != nil {
					fail(fmt.Errorf("incoming %d: %w", i, err))
				}
			}
		}()
	}
	wg.Wait()
	fmt.Fprintln(os.Stderr, "inload: draining")
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
	}
	cpu0 := cpuTime()
	start := time.Now()
	r.connect(ctx)
	r.wait(ctx, *n)
	took := time.Since(start)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	res := map[string]any{"mode": mode, "n": *n, "contacts": *c, "ms": took.Milliseconds(), "msgs_per_s": float64(*n) / took.Seconds()}
	if mode == "bare" {
		// the receiving client is this process
		res["cpu_ms"] = (cpuTime() - cpu0).Milliseconds()
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

// cpuTime is this process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type receiver interface {
	disconnect(ctx context.Context)
	connect(ctx context.Context)
	wait(ctx context.Context, n int)
}

// bare is a plain whatsmeow client.
type bare struct {
	cli  *whatsmeow.Client
	got  atomic.Int64
	more chan struct{}
}

func newBare(ctx context.Context, addr, dbPath, phone string) *bare {
	cli, _, err := barelink.Link(ctx, addr, dbPath, phone)
	check(err)
	b := &bare{cli: cli, more: make(chan struct{}, 1)}
	cli.AddEventHandler(func(evt any) {
		if _, ok := evt.(*events.Message); ok {
			b.got.Add(1)
			select {
			case b.more <- struct{}{}:
			default:
			}
		}
	})
	return b
}

func (b *bare) disconnect(context.Context) { b.cli.Disconnect() }
func (b *bare) connect(context.Context)    { check(b.cli.Connect()) }
func (b *bare) wait(ctx context.Context, n int) {
	for b.got.Load() < int64(n) {
		select {
		case <-b.more:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			fail(fmt.Errorf("%d of %d messages: %w", b.got.Load(), n, ctx.Err()))
		}
	}
}

// mg is a meowgate instance named "in".
type mg struct {
	url, key string
	after    string
	got      int
}

func (m *mg) call(ctx context.Context, method, path string, body any) map[string]any {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, m.url+path, rd)
	check(err)
	req.Header.Set("Authorization", "Bearer "+m.key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	check(err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		fail(fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, b))
	}
	out := map[string]any{}
	_ = json.Unmarshal(b, &out)
	return out
}

func (m *mg) state(ctx context.Context) string {
	s, _ := m.call(ctx, "GET", "/v1/instances/in/state", nil)["state"].(string)
	return s
}

func (m *mg) until(ctx context.Context, state string) {
	for m.state(ctx) != state {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			fail(fmt.Errorf("never %s: %w", state, ctx.Err()))
		}
	}
}

func (m *mg) link(ctx context.Context, phone string) {
	m.call(ctx, "POST", "/v1/instances", map[string]any{"name": "in", "connect": true})
	m.call(ctx, "POST", "/v1/sandbox/instances/in/scan", map[string]any{"phone": phone})
	m.until(ctx, "connected")
	m.count(ctx) // skip the events so far
	m.got = 0
}

func (m *mg) disconnect(ctx context.Context) {
	m.call(ctx, "POST", "/v1/instances/in/disconnect", nil)
}

func (m *mg) connect(ctx context.Context) {
	m.call(ctx, "POST", "/v1/instances/in/connect", nil)
}

// count reads the event log from where it left off and counts the
// message.received events.
func (m *mg) count(ctx context.Context) {
	for {
		after := m.after
		if after == "" {
			after = "0"
		}
		evs, _ := m.call(ctx, "GET", "/v1/instances/in/events?limit=1000&after="+after, nil)["events"].([]any)
		if len(evs) == 0 {
			return
		}
		for _, e := range evs {
			ev := e.(map[string]any)
			if ev["type"] == "message.received" {
				m.got++
			}
			m.after = ev["id"].(string)
		}
	}
}

func (m *mg) wait(ctx context.Context, n int) {
	for m.got < n {
		m.count(ctx)
		if m.got >= n {
			return
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			fail(fmt.Errorf("%d of %d messages: %w", m.got, n, ctx.Err()))
		}
	}
}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "inload:", err)
	os.Exit(1)
}
