// Command apiprof serves meowgate's HTTP API in-process (store.Open +
// instance.NewManager + api.New, as serve.go wires them, without whatsmeow
// connections) with net/http/pprof on a second loopback port, so that a wrk
// run can be profiled:
//
//	apiprof -listen 127.0.0.1:9000 -pprof 127.0.0.1:9001 -n 100 &
//	wrk -t2 -c32 -d10s -H "Authorization: Bearer KEY" http://127.0.0.1:9000/v1/instances &
//	go tool pprof -top http://127.0.0.1:9001/debug/pprof/profile?seconds=8
//
// With -sandbox-addr it connects the instances to a wasim process as
// `meowgate serve --sandbox-addr` does, so that a database with linked
// instances (-dir) logs them in and /debug/pprof/heap shows what the
// start-up allocated (alloc_space) and what stays (inuse_space).
//
// It is a benchmark harness only: no webhook worker, and /metrics has only
// the instance counts.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/meowgate/meowgate/api"
	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/store"
	"github.com/meowgate/meowgate/wasim"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "API address")
	pprofAddr := flag.String("pprof", "127.0.0.1:9001", "net/http/pprof address")
	dir := flag.String("dir", "", "directory for the database (default: a temp dir, removed at exit)")
	n := flag.Int("n", 1, "instances to create before serving")
	key := flag.String("key", os.Getenv("MEOWGATE_API_ADMIN_KEY"), "admin key")
	sandbox := flag.String("sandbox-addr", "", "connect instances to the wasim process at this address")
	freeAfter := flag.Duration("free-os-memory", 0, "call debug.FreeOSMemory once after this long (an experiment: what RSS would be without start-up headroom)")
	flag.Parse()
	if *freeAfter > 0 {
		time.AfterFunc(*freeAfter, debug.FreeOSMemory)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if *dir == "" {
		d, err := os.MkdirTemp("", "apiprof")
		check(err)
		defer os.RemoveAll(d)
		*dir = d
	}
	st, err := store.Open(ctx, filepath.Join(*dir, "meowgate.db"), log)
	check(err)
	defer st.Close()
	opts := instance.Options{Store: st, Log: log, WALog: log}
	var control wasim.Control
	if *sandbox != "" {
		wasim.TrustRoot()
		opts.HTTPClient = wasim.HTTPClient(*sandbox)
		control = wasim.Remote(*sandbox)
	}
	m, err := instance.NewManager(ctx, opts)
	check(err)
	defer m.Close()
	for i := range *n {
		if _, _, _, err := m.Create(ctx, instance.CreateParams{Name: fmt.Sprintf("p-%d", i)}); err != nil {
			check(err)
		}
	}
	ready := new(atomic.Bool)
	ready.Store(true)
	h := api.New(api.Options{
		Manager: m, Log: log, AdminKey: *key, Ready: ready, Sandbox: control,
		Metrics: func(w http.ResponseWriter) {
			counts := map[string]int{}
			for _, i := range m.List() {
				counts[i.State]++
			}
			for _, s := range []string{event.StateCreated, event.StateStarting, event.StateScanQR, event.StateConnected,
				event.StateDisconnected, event.StateFailed, event.StateLoggedOut} {
				fmt.Fprintf(w, "meowgate_instances{state=%q} %d\n", s, counts[s])
			}
		},
		RateLimit: 1e8, RateBurst: 1e8, CreatePerMinute: 1e8,
	})
	ln, err := net.Listen("tcp", *listen)
	check(err)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second}
	go srv.Serve(ln)
	pln, err := net.Listen("tcp", *pprofAddr)
	check(err)
	go http.Serve(pln, http.DefaultServeMux)
	fmt.Printf("api http://%s pprof http://%s/debug/pprof/ (%d instances)\n", ln.Addr(), pln.Addr(), *n)
	<-ctx.Done()
	srv.Close()
	pln.Close()
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "apiprof:", err)
		os.Exit(1)
	}
}
