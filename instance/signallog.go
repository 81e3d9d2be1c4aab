package instance

import (
	"log/slog"
	"sync"

	signallog "go.mau.fi/libsignal/logger"
)

var signalLogOnce sync.Once

// installSignalLogger replaces libsignal's default logger, which prints to
// stdout and is created lazily on first use: a data race once several
// instances encrypt at the same time. It is process-global, like the
// library's own.
func installSignalLogger(log *slog.Logger) {
	signalLogOnce.Do(func() {
		if signallog.Logger == nil {
			signallog.Logger = signalLogger{log: log.With("component", "libsignal")}
		}
	})
}

type signalLogger struct{ log *slog.Logger }

func (signalLogger) Debug(caller, msg string)     {}
func (signalLogger) Info(caller, msg string)      {}
func (l signalLogger) Warning(caller, msg string) { l.log.Warn(msg, "caller", caller) }
func (l signalLogger) Error(caller, msg string)   { l.log.Error(msg, "caller", caller) }
func (signalLogger) Configure(string)             {}
