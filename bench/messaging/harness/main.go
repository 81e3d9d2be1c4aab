// Command harness runs meowgate's parts in one process the way `meowgate
// serve` wires them (store, instance manager, webhook worker, API), plus
// net/http/pprof on a second loopback address, so the messaging benchmarks
// can be profiled:
//
//	harness -listen 127.0.0.1:8080 -pprof 127.0.0.1:6060 -store h.db -sandbox-addr 127.0.0.1:7070
//	go tool pprof -top http://127.0.0.1:6060/debug/pprof/profile?seconds=10
//
// It reads MEOWGATE_API_ADMIN_KEY; rate limits are off and new instances
// send with send_delay_ms 0 unless -send-delay-ms says otherwise.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"

	"github.com/meowgate/meowgate/api"
	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/store"
	"github.com/meowgate/meowgate/wasim"
	"github.com/meowgate/meowgate/webhook"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "API address")
	pprofAddr := flag.String("pprof", "127.0.0.1:6060", "pprof address")
	dbPath := flag.String("store", "harness.db", "database file")
	simAddr := flag.String("sandbox-addr", "", "address of a running wasim (empty: no sandbox)")
	delay := flag.Int64("send-delay-ms", 0, "send_delay_ms of new instances")
	blockRate := flag.Int("block-rate", 0, "runtime.SetBlockProfileRate (0: off)")
	mutexFrac := flag.Int("mutex-fraction", 0, "runtime.SetMutexProfileFraction (0: off)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	runtime.SetBlockProfileRate(*blockRate)
	runtime.SetMutexProfileFraction(*mutexFrac)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	st, err := store.Open(ctx, *dbPath, log)
	check(err)
	defer st.Close()
	var sandbox wasim.Control
	var waHTTP *http.Client
	if *simAddr != "" {
		wasim.TrustRoot()
		sandbox = wasim.Remote(*simAddr)
		waHTTP = wasim.HTTPClient(*simAddr)
	}
	defaults := instance.DefaultSettings()
	defaults.SendDelayMS = *delay
	m, err := instance.NewManager(ctx, instance.Options{
		Store: st, Log: log, WALog: log, DeviceName: "meowgate-harness", Defaults: defaults, HTTPClient: waHTTP,
	})
	check(err)
	defer m.Close()
	hooks, err := webhook.New(webhook.Options{Store: st, Manager: m, Log: log})
	check(err)
	check(hooks.Start(context.Background()))
	defer hooks.Close()

	ready := new(atomic.Bool)
	ready.Store(true)
	h := api.New(api.Options{
		Manager: m, Log: log, AdminKey: os.Getenv("MEOWGATE_API_ADMIN_KEY"),
		RateLimit: 1e9, RateBurst: 1e9, CreatePerMinute: 1e6, Ready: ready, Sandbox: sandbox, Webhooks: hooks,
	})
	pm := http.NewServeMux()
	pm.HandleFunc("/debug/pprof/", pprof.Index)
	pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
	pm.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	pm.HandleFunc("/debug/pprof/trace", pprof.Trace)
	pln, err := net.Listen("tcp", *pprofAddr)
	check(err)
	go func() { _ = http.Serve(pln, pm) }()
	ln, err := net.Listen("tcp", *listen)
	check(err)
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	fmt.Fprintln(os.Stderr, "harness: API on", ln.Addr(), "pprof on", pln.Addr())
	<-ctx.Done()
	_ = srv.Close()
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
}
