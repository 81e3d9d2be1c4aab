package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meowgate/meowgate/api"
	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/internal/signallog"
	"github.com/meowgate/meowgate/metrics"
	"github.com/meowgate/meowgate/wasim"
	"github.com/meowgate/meowgate/webhook"
)

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// serveFlags are the flags of `meowgate serve`; set ones override config.
type serveFlags struct {
	config, listen, store, logLevel, sandboxAddr string
	sandbox, init                                bool
	set                                          map[string]bool
}

func parseServeFlags(args []string, getenv func(string) string, stderr io.Writer) (*serveFlags, error) {
	f := &serveFlags{set: map[string]bool{}}
	fs := newFlagSet("serve", stderr)
	fs.StringVar(&f.config, "config", defaultConfigPath(getenv), "config file")
	fs.StringVar(&f.listen, "listen", "", "listen address")
	fs.StringVar(&f.store, "store", "", "database file")
	fs.StringVar(&f.logLevel, "log-level", "", "log level")
	fs.BoolVar(&f.sandbox, "sandbox", false, "run against the built-in WhatsApp simulator")
	fs.StringVar(&f.sandboxAddr, "sandbox-addr", "", "address of a running WhatsApp simulator")
	fs.BoolVar(&f.init, "init", false, "start with a new, empty database although one existed (see README)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	return f, nil
}

func (f *serveFlags) apply(cfg *Config) {
	if f.set["listen"] {
		cfg.Server.Listen = f.listen
	}
	if f.set["store"] {
		cfg.Store.Path = f.store
	}
	if f.set["log-level"] {
		cfg.Log.Level = f.logLevel
	}
	if f.set["sandbox"] {
		cfg.Sandbox.Enabled = f.sandbox
	}
	if f.set["sandbox-addr"] {
		cfg.Sandbox.Enabled, cfg.Sandbox.Addr = true, f.sandboxAddr
	}
	cfg.Store.Init = f.init
}

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	flags, err := parseServeFlags(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "meowgate: %v\n", err)
		return 2
	}
	cfg, err := LoadConfig(flags.config, getenv)
	if err == nil {
		flags.apply(cfg)
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "meowgate: invalid configuration:\n%v\n", err)
		return 1
	}
	log, level := NewLoggerLevel(cfg.Log, stderr)
	rl := &reloader{level: level, load: func() (*Config, error) {
		c, err := LoadConfig(flags.config, getenv)
		if err == nil {
			flags.apply(c)
			err = c.Validate()
		}
		return c, err
	}}
	if err := serveReload(ctx, cfg, log, stderr, nil, rl); err != nil {
		log.Error("meowgate stopped", "err", err)
		return 1
	}
	return 0
}

// serve runs the gateway until ctx ends. started, if set, receives the
// bound address once the API answers (for tests).
func serve(ctx context.Context, cfg *Config, log *slog.Logger, logw io.Writer, started chan<- string) error {
	return serveReload(ctx, cfg, log, logw, started, nil)
}

// serveReload is serve that, with rl set, reloads on SIGHUP.
func serveReload(ctx context.Context, cfg *Config, log *slog.Logger, logw io.Writer, started chan<- string, rl *reloader) error {
	start := time.Now()
	if rl != nil {
		running := *cfg
		rl.running = &running
		rl.catch()
	}
	signallog.Install(log) // before the simulator or any client uses libsignal
	notifier := newNotifier(log)
	adminKey, source, err := cfg.AdminKey()
	if err != nil {
		return fmt.Errorf("admin key: %w", err)
	}
	if strings.HasPrefix(source, "generated") {
		log.Warn("generated a new admin key; read it from the file", "file", filepath.Join(cfg.StateDir(), "admin.key"))
	} else {
		log.Info("admin key loaded", "source", source)
	}

	st, dbFile, err := openStore(ctx, cfg.Store.Path, cfg.Store.Init, log)
	if err != nil {
		return err
	}
	defer st.Close()
	st.SetMinFree(uint64(cfg.Store.MinFreeMB) << 20)

	var sandbox wasim.Control
	var waHTTP *http.Client
	if cfg.Sandbox.Enabled {
		wasim.TrustRoot()
		if cfg.Sandbox.Addr != "" {
			sandbox = wasim.Remote(cfg.Sandbox.Addr)
			log.Warn("SANDBOX MODE: connecting to the WhatsApp simulator, not to WhatsApp", "simulator", cfg.Sandbox.Addr)
		} else {
			sim, err := wasim.New(ctx, wasim.Options{
				DBPath:        filepath.Join(cfg.StateDir(), "wasim.db"),
				MediaDir:      filepath.Join(cfg.StateDir(), "wasim-media"),
				Log:           log.With("component", "wasim"),
				DeliveryDelay: 500 * time.Millisecond,
				ReadDelay:     1500 * time.Millisecond,
			})
			if err != nil {
				return fmt.Errorf("sandbox: %w", err)
			}
			defer sim.Close()
			sandbox = wasim.Local(sim)
			log.Warn("SANDBOX MODE: a built-in WhatsApp simulator stands in for WhatsApp; no real messages are sent", "simulator", sim.Addr())
		}
		waHTTP = wasim.HTTPClient(sandbox.Addr())
	}

	waCfg := cfg.Log
	waCfg.Level = cfg.Log.WhatsmeowLevel
	waLog, waLevel := NewLoggerLevel(waCfg, logw)
	if rl != nil {
		rl.waLevel = waLevel
		rl.listen(ctx, log)
	}
	self := instance.NewSelfGuard(cfg.Server.Listen) // no webhook may call this API
	m, err := instance.NewManager(ctx, instance.Options{
		Store: st, Log: log, WALog: waLog.With("component", "whatsmeow"),
		DeviceName: cfg.WhatsApp.DeviceName, ClientVersion: cfg.WhatsApp.ClientVersion,
		RestrictedBackoff: cfg.WhatsApp.RestrictedBackoff.Duration, Defaults: cfg.WhatsApp.Defaults, HTTPClient: waHTTP, Self: self,
		Media:            instance.MediaOptions{Dir: cfg.MediaDir(), Retention: cfg.Media.Retention.Duration, FetchTimeout: cfg.Media.FetchTimeout.Duration},
		KeepaliveTimeout: cfg.WhatsApp.KeepaliveTimeout.Duration,
	})
	if err != nil {
		return err
	}
	defer m.Close()

	var mx *metrics.Metrics
	var observe func(instanceID, status string)
	if cfg.API.Metrics != MetricsOff {
		mx = metrics.New(metrics.Options{Store: st, Instances: m, Log: log.With("component", "metrics"), Version: Version(), Process: true})
		if err := mx.Start(ctx); err != nil {
			return err
		}
		defer mx.Close() // before the store closes
		observe = mx.WebhookAttempt
	}

	hooks, err := webhook.New(webhook.Options{
		Store: st, Manager: m, Log: log.With("component", "webhook"),
		Timeout: cfg.Webhook.Timeout.Duration, RetryWindow: cfg.Webhook.RetryWindow.Duration,
		MaxBackoff: cfg.Webhook.MaxBackoff.Duration, UserAgent: "meowgate/" + Version(),
		Observe: observe, IncludeMediaMax: includeMediaMax(cfg.Media.IncludeMediaMaxMB),
		ServerURL: serverURL(cfg.Server.Listen),
	})
	if err != nil {
		return err
	}
	if err := hooks.Start(context.Background()); err != nil {
		return err
	}
	defer hooks.Close() // before m.Close and mx.Close: the worker calls both

	ready := new(atomic.Bool)
	handler := api.New(api.Options{
		Manager: m, Log: log, AdminKey: adminKey,
		RateLimit: cfg.API.RateLimit, RateBurst: cfg.API.RateBurst, CreatePerMinute: cfg.API.CreatePerMinute,
		MaxBodyBytes: cfg.Server.MaxBodyBytes, Ready: ready, Sandbox: sandbox, Webhooks: hooks,
		MaxUploadBytes:  cfg.Media.MaxUploadMB << 20,
		Metrics:         metricsWriter(mx),
		MetricsOpen:     cfg.API.Metrics == MetricsLoopback,
		Version:         Version(),
		Console:         cfg.Console.Enabled,
		Evolution:       cfg.Compat.Evolution,
		EvolutionPrefix: cfg.Compat.EvolutionPrefix,
	})
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
	}
	self.SetListen(ln.Addr().String()) // the bound port, for ":0"
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout.Duration,
		ReadTimeout:       cfg.Server.ReadTimeout.Duration,
		WriteTimeout:      cfg.Server.WriteTimeout.Duration,
		IdleTimeout:       cfg.Server.IdleTimeout.Duration,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	ready.Store(true)
	total, _ := m.Status()
	log.Info("meowgate ready", "version", Version(), "listen", ln.Addr().String(), "instances", total,
		"store", cfg.Store.Path, "sandbox", cfg.Sandbox.Enabled, "startup", time.Since(start).Round(time.Millisecond))
	notifier.ready(statusLine(m) + webhookStatus(ctx, st))
	if started != nil {
		started <- ln.Addr().String()
	}
	stopWatch := notifier.watch(ctx, st, m)
	defer stopWatch()
	dbLost := watchDatabase(ctx, cfg.Store.Path, dbFile, dbCheckInterval(), log)

	go freeAfterStartup(ctx, m)

	var fatal error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	case fatal = <-dbLost:
		databaseLost(ctx, fatal, ready, stopWatch, notifier, log)
	}
	log.Info("shutting down")
	notifier.stopping()
	ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout.Duration)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("HTTP shutdown", "err", err)
		srv.Close()
	}
	hooks.Close()
	m.Close()
	log.Info("stopped")
	return fatal
}

// metricsWriter serves /metrics from mx; nil (off) disables the route.
func metricsWriter(mx *metrics.Metrics) func(w http.ResponseWriter) {
	if mx == nil {
		return nil
	}
	return func(w http.ResponseWriter) { mx.WritePrometheus(w) }
}

// freeAfterStartup hands the start-up burst (migrations, logins, prekey
// uploads) back to the OS: the runtime otherwise keeps the freed heap as
// headroom, which matters on a 512 MB Pi. It waits until no instance is
// still starting, and a little longer for the work that follows a login,
// or startupSettleMax at most.
func freeAfterStartup(ctx context.Context, m *instance.Manager) {
	const (
		poll             = 250 * time.Millisecond
		afterLogin       = 2 * time.Second
		startupSettleMax = 15 * time.Second
	)
	t := time.NewTicker(poll)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if now.Sub(start) < afterLogin || (m.Starting() > 0 && now.Sub(start) < startupSettleMax) {
				continue
			}
			// Let the last logins' follow-up work finish first.
			select {
			case <-ctx.Done():
				return
			case <-time.After(afterLogin):
			}
			debug.FreeOSMemory()
			return
		}
	}
}

// includeMediaMax turns include_media_max_mb into webhook.Options' bytes:
// 0 in the config means never inline (the worker's 0 means its default).
func includeMediaMax(mb int64) int64 {
	if mb == 0 {
		return -1
	}
	return mb << 20
}

// serverURL is the base URL Evolution-format webhooks name as server_url:
// the listen address, with a wildcard host shown as localhost.
func serverURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
