package store

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	waLog "go.mau.fi/whatsmeow/util/log"
)

// WALogger adapts l to whatsmeow's logger interface. Every record carries a
// "module" attribute; Sub appends to it ("whatsmeow/Client" →
// "whatsmeow/Client/Socket") rather than adding a second attribute.
// A nil l discards everything.
func WALogger(l *slog.Logger, module string) waLog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return newWALogger(l, module)
}

type waLogger struct {
	base   *slog.Logger // without the module attribute
	l      *slog.Logger // base plus module
	module string
}

func newWALogger(base *slog.Logger, module string) *waLogger {
	l := base
	if module != "" {
		l = base.With("module", module)
	}
	return &waLogger{base: base, l: l, module: module}
}

func (w *waLogger) Debugf(msg string, args ...any) { w.logf(slog.LevelDebug, msg, args) }
func (w *waLogger) Infof(msg string, args ...any)  { w.logf(slog.LevelInfo, msg, args) }
func (w *waLogger) Warnf(msg string, args ...any) {
	level := slog.LevelWarn
	if msg == handlerFailed {
		level = slog.LevelDebug
	}
	w.logf(level, msg, args)
}

// handlerFailed is what whatsmeow says of every message meowgate's inbox
// takes over: returning false is how the inbox keeps whatsmeow from acking
// before the commit (instance/inbox.go), not a failure.
const handlerFailed = "Handler for %s failed"

func (w *waLogger) Errorf(msg string, args ...any) { w.logf(slog.LevelError, msg, args) }

func (w *waLogger) Sub(module string) waLog.Logger {
	if w.module != "" {
		module = w.module + "/" + module
	}
	return newWALogger(w.base, module)
}

// logf formats only when the level is enabled (whatsmeow logs a lot at
// debug), and records whatsmeow's call site rather than this file's.
func (w *waLogger) logf(level slog.Level, msg string, args []any) {
	ctx := context.Background()
	if !w.l.Enabled(ctx, level) {
		return
	}
	var pcs [1]uintptr
	runtime.Callers(3, pcs[:]) // skip Callers, logf, Debugf/Infof/…
	r := slog.NewRecord(time.Now(), level, fmt.Sprintf(msg, args...), pcs[0])
	_ = w.l.Handler().Handle(ctx, r)
}
