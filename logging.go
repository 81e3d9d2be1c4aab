package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// NewLogger returns the process logger: text or JSON (cfg.Format) at
// cfg.Level. Under systemd (JOURNAL_STREAM set) text lines carry no time,
// because journald stamps every line itself. cfg is expected to be
// validated; an unknown level falls back to info.
func NewLogger(cfg LogConfig, w io.Writer) *slog.Logger {
	return newLogger(cfg, w, os.Getenv("JOURNAL_STREAM") != "")
}

func newLogger(cfg LogConfig, w io.Writer, journald bool) *slog.Logger {
	level := new(slog.LevelVar)
	if l, err := ParseLevel(cfg.Level); err == nil {
		level.Set(l)
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	if journald {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// ParseLevel parses debug, info, warn or error (any case), the values of
// log.level and log.whatsmeow_level.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return slog.LevelInfo, fmt.Errorf("unknown log level %q (want debug, info, warn or error)", s)
}
