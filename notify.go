package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/meowgate/meowgate/event"
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

// watch keeps STATUS current and pets the watchdog at half of
// WATCHDOG_USEC (every 10s without a watchdog, for STATUS alone), checking
// first that the store answers a ping and that the instance manager answers
// (listing the instances takes its lock, so a wedged manager blocks this
// loop). A process that fails either check is not kept alive by a ticker:
// systemd kills and restarts it.
func (n *notifier) watch(ctx context.Context, st *store.Store, m *instance.Manager) func() {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		n.log.Warn("ignoring the watchdog settings", "err", err)
		interval = 0
	}
	tick := 10 * time.Second
	if interval > 0 {
		tick = interval / 2
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(tick)
		defer t.Stop()
		healthy := true
		for {
			pctx, pcancel := context.WithTimeout(ctx, tick/2)
			err := st.Ping(pctx)
			pcancel()
			if ctx.Err() != nil {
				return
			}
			switch {
			case err != nil && healthy:
				n.log.Error("database does not answer; not petting the watchdog", "err", err)
			case err == nil && !healthy:
				n.log.Info("database answers again")
			}
			healthy = err == nil
			if healthy {
				msg := "STATUS=" + statusLine(m) + webhookStatus(ctx, st)
				if interval > 0 {
					msg = daemon.SdNotifyWatchdog + "\n" + msg
				}
				n.send(msg)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	// Waiting makes "stopped" mean no ping is in flight (dbwatch.go).
	return func() { cancel(); <-done }
}

// webhookStatus is the webhook part of the STATUS= line, e.g.
// ", 2 webhooks failing".
func webhookStatus(ctx context.Context, st *store.Store) string {
	n, err := st.CountFailingWebhookDeliveries(ctx)
	if err != nil {
		return ""
	}
	return fmt.Sprintf(", %d webhooks failing", n)
}

// statusLine is the STATUS= shown by systemctl status, e.g.
// "3/4 instances connected, 12 queued".
func statusLine(m *instance.Manager) string {
	var total, connected, queued int
	for _, i := range m.List() {
		total++
		if i.State == event.StateConnected {
			connected++
		}
		queued += i.Counts.Pending
	}
	return fmt.Sprintf("%d/%d instances connected, %d queued", connected, total, queued) + storageStatus(m.Space())
}
