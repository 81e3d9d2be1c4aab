// Package signallog routes libsignal's process-wide logger to slog.
//
// libsignal keeps one logger for the whole process and creates its default
// (which prints to stdout) lazily on first use: a data race once several
// goroutines encrypt at the same time. Installing one up front, once,
// avoids both. The process installs it first thing with its configured
// logger; the packages that use libsignal (instance, wasim) call Install
// too, which does nothing once a logger is in place, so tests and tools
// that skip main are covered.
package signallog

import (
	"log/slog"
	"sync"

	signallog "go.mau.fi/libsignal/logger"
)

var once sync.Once

// Install makes libsignal log through log, unless a logger was installed
// before.
func Install(log *slog.Logger) {
	once.Do(func() {
		if signallog.Logger == nil {
			signallog.Logger = logger{log: log.With("component", "libsignal")}
		}
	})
}

// logger keeps libsignal's warnings and errors and drops its debug and info
// chatter (per message and per session).
type logger struct{ log *slog.Logger }

func (logger) Debug(caller, msg string)     {}
func (logger) Info(caller, msg string)      {}
func (l logger) Warning(caller, msg string) { l.log.Warn(msg, "caller", caller) }
func (l logger) Error(caller, msg string)   { l.log.Error(msg, "caller", caller) }
func (logger) Configure(string)             {}
