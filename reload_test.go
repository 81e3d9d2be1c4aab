package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestReloadAppliesLogLevelsAndNamesTheRest(t *testing.T) {
	running := DefaultConfig(func(string) string { return "" })
	next := *running
	next.Log.Level, next.Log.WhatsmeowLevel = "debug", "error"
	next.Server.Listen = "127.0.0.1:9999"
	next.API.AdminKey = "secret-value"

	var buf bytes.Buffer
	log, level := newLoggerLevel(running.Log, &buf, false)
	_, waLevel := newLoggerLevel(LogConfig{Level: running.Log.WhatsmeowLevel}, &buf, false)
	r := &reloader{running: running, level: level, waLevel: waLevel,
		load: func() (*Config, error) { c := next; return &c, nil }}
	r.reload(log)

	if level.Level() != slog.LevelDebug || waLevel.Level() != slog.LevelError {
		t.Errorf("levels = %v, %v; want DEBUG, ERROR", level.Level(), waLevel.Level())
	}
	out := buf.String()
	for _, want := range []string{"log.level=debug", "log.whatsmeow_level=error", "server.listen api.admin_key"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret-value") {
		t.Errorf("log shows a secret:\n%s", out)
	}

	buf.Reset()
	r.load = func() (*Config, error) { return nil, errors.New("log.level: bad") }
	r.reload(log)
	if level.Level() != slog.LevelDebug || !strings.Contains(buf.String(), "nothing was changed") {
		t.Errorf("a bad config changed something: level %v, log:\n%s", level.Level(), buf.String())
	}
}
