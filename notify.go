package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/store"
)

// notifier speaks systemd's notify protocol when NOTIFY_SOCKET is set and
// does nothing otherwise.
type notifier struct{ log *slog.Logger }

func newNotifier(log *slog.Logger) *notifier { return &notifier{log: log} }

func (n *notifier) send(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.log.Warn("sd_notify failed", "err", err)
	}
}

// ready is sent once the store is open, instances are loaded and the API
// listens.
func (n *notifier) ready(status string) { n.send(daemon.SdNotifyReady + "\nSTATUS=" + status) }

func (n *notifier) stopping() { n.send(daemon.SdNotifyStopping + "\nSTATUS=shutting down") }

// watch refreshes STATUS and pets the watchdog, but only while the database
// answers: a wedged process must be killed, not kept alive by a ticker.
func (n *notifier) watch(ctx context.Context, st *store.Store, m *instance.Manager) func() {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		interval = 0
	}
	tick := 10 * time.Second
	if interval > 0 && interval/3 < tick {
		tick = interval / 3
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			pctx, pcancel := context.WithTimeout(ctx, tick)
			err := st.Ping(pctx)
			pcancel()
			if err != nil {
				n.log.Error("database does not answer; not petting the watchdog", "err", err)
				continue
			}
			msg := "STATUS=" + statusLine(m)
			if interval > 0 {
				msg = daemon.SdNotifyWatchdog + "\n" + msg
			}
			n.send(msg)
		}
	}()
	return cancel
}
