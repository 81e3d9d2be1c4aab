package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"syscall"
)

// reloader applies a new configuration on SIGHUP (systemctl reload): the
// log levels change at once; every other setting that differs from the
// running one is named in the log as needing a restart.
type reloader struct {
	load    func() (*Config, error) // reads the configuration as at startup
	level   *slog.LevelVar          // log.level of the process logger
	waLevel *slog.LevelVar          // log.whatsmeow_level, set by serve
	running *Config                 // the configuration in effect
	hup     chan os.Signal
}

// liveKeys are the settings a reload applies without a restart.
var liveKeys = map[string]bool{"log.level": true, "log.whatsmeow_level": true}

// catch starts catching SIGHUP, so that one arriving during startup does not
// kill the process; listen then handles it.
func (r *reloader) catch() {
	r.hup = make(chan os.Signal, 1)
	signal.Notify(r.hup, syscall.SIGHUP)
}

// listen reloads on every SIGHUP until ctx ends. SIGHUP stays caught after
// that, so one sent during shutdown is ignored instead of killing the
// process.
func (r *reloader) listen(ctx context.Context, log *slog.Logger) {
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-r.hup:
				r.reload(log)
			}
		}
	}()
}

func (r *reloader) reload(log *slog.Logger) {
	cfg, err := r.load()
	if err != nil {
		log.Error("reload: the configuration has errors; nothing was changed", "err", err)
		return
	}
	var applied []string
	set := func(key, value string, v *slog.LevelVar) {
		if v == nil {
			return
		}
		if l, err := ParseLevel(value); err == nil && l != v.Level() {
			v.Set(l)
			applied = append(applied, key+"="+strings.ToLower(value))
		}
	}
	set("log.level", cfg.Log.Level, r.level)
	set("log.whatsmeow_level", cfg.Log.WhatsmeowLevel, r.waLevel)
	r.running.Log.Level, r.running.Log.WhatsmeowLevel = cfg.Log.Level, cfg.Log.WhatsmeowLevel

	restart := changedKeys(r.running, cfg)
	if len(applied) == 0 {
		applied = []string{"nothing changed"}
	}
	log.Info("configuration reloaded", "applied", strings.Join(applied, " "))
	if len(restart) > 0 {
		log.Warn("reload: these settings changed but need a restart to take effect (systemctl restart meowgate)",
			"settings", strings.Join(restart, " "))
	}
}

// changedKeys names the settings (section.key) that differ between a and b,
// other than the ones a reload applies. Values are not logged: some are
// secrets.
func changedKeys(a, b *Config) []string {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	var out []string
	for _, k := range configKeys() {
		if liveKeys[k.name()] {
			continue
		}
		if !reflect.DeepEqual(va.FieldByIndex(k.index).Interface(), vb.FieldByIndex(k.index).Interface()) {
			out = append(out, k.name())
		}
	}
	return out
}
