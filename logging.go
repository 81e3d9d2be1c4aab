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
	log, _ := NewLoggerLevel(cfg, w)
	return log
}

// NewLoggerLevel is NewLogger that also returns the logger's level, which
// may be changed while the logger is in use (SIGHUP reloads log.level).
func NewLoggerLevel(cfg LogConfig, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	return newLoggerLevel(cfg, w, os.Getenv("JOURNAL_STREAM") != "")
}

func newLogger(cfg LogConfig, w io.Writer, journald bool) *slog.Logger {
	log, _ := newLoggerLevel(cfg, w, journald)
	return log
}

func newLoggerLevel(cfg LogConfig, w io.Writer, journald bool) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	if l, err := ParseLevel(cfg.Level); err == nil {
		level.Set(l)
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), level
	}
	if journald {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	return slog.New(slog.NewTextHandler(w, opts)), level
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
