package webhook

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/internal/pause"
	"github.com/meowgate/meowgate/store"
)

// readBatch bounds how many events one pass of a runner reads.
const readBatch = 500

// runner owns one instance's deliveries: it turns new events into queued
// deliveries and sends the head of the queue. Only it writes them (a manual
// retry only makes a delivery pending again and wakes it).
type runner struct {
	w       *Worker
	id      string
	wake    chan struct{} // new events, or a delivery re-queued by hand
	cursor  int64
	savedAt time.Time // when the cursor was last written
	// latest is the newest event id the dispatcher saw for the instance;
	// idle is set once the queue was found empty (cleared when queueing).
	latest atomic.Int64
	idle   bool
}

func (r *runner) run(ctx context.Context) {
	w := r.w
	var err error
	for {
		if r.cursor, err = w.store.WebhookCursor(ctx, r.id); err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		w.log.Error("webhook: read cursor", "instance", r.id, "err", err)
		if !pause.Sleep(ctx, errorPause) {
			return
		}
	}
	for ctx.Err() == nil {
		// Take the change channel before step reads the config, so a
		// change made in between still wakes a runner holding its queue.
		changed, _, err := w.m.Watch(r.id)
		if err == nil {
			err = r.step(ctx, changed)
		}
		switch {
		case err == nil:
		case errors.Is(err, instance.ErrNotFound), errors.Is(err, store.ErrNotFound) && r.gone():
			w.log.Debug("webhook: instance deleted, runner stops", "instance", r.id)
			return
		case errors.Is(err, instance.ErrClosed):
			<-ctx.Done() // the manager shuts down; so will we
			return
		case ctx.Err() != nil:
			return
		default:
			w.log.Error("webhook: delivery worker", "instance", w.m.NameOf(r.id), "err", err)
			pause.Sleep(ctx, errorPause)
		}
	}
}

// gone reports whether the instance no longer exists.
func (r *runner) gone() bool {
	_, err := r.w.m.WebhookConfig(r.id)
	return errors.Is(err, instance.ErrNotFound)
}

// step does one unit of work: queue new events, else attempt the head if
// it is due, else wait for something to change.
func (r *runner) step(ctx context.Context, changed <-chan struct{}) error {
	w := r.w
	if r.idle {
		// No webhook and nothing held: skip the new events without reading
		// them. latest is taken before the config, so every event up to it
		// happened while the webhook was off.
		latest := r.latest.Load()
		cfg, err := w.m.WebhookConfig(r.id)
		if err != nil {
			return err
		}
		if !cfg.Enabled || cfg.URL == "" {
			if latest > r.cursor {
				r.cursor = latest
				if time.Since(r.savedAt) >= w.opts.CursorSaveEvery {
					if err := w.store.QueueWebhookDeliveries(ctx, r.id, latest, "", nil); err != nil {
						return err
					}
					r.savedAt = time.Now()
				}
			}
			select {
			case <-r.wake:
			case <-changed:
			case <-ctx.Done():
			}
			return nil
		}
		r.idle = false
	}
	evs, err := w.store.ListEvents(ctx, r.id, r.cursor, readBatch)
	if err != nil {
		return err
	}
	// The config is read after the events, so it is at least as new as
	// any of them: an event appended after the webhook was enabled is
	// never judged by the configuration from before.
	cfg, err := w.m.WebhookConfig(r.id)
	if err != nil {
		return err
	}
	active := cfg.Enabled && cfg.URL != ""
	if len(evs) > 0 {
		var queue []store.Event
		if active {
			for _, ev := range evs {
				if wanted(cfg, ev) {
					queue = append(queue, ev)
				}
			}
		}
		through := evs[len(evs)-1].ID
		if len(queue) == 0 && time.Since(r.savedAt) < w.opts.CursorSaveEvery {
			// Nothing to deliver: move on without a write per event (SD
			// cards wear out). A crash re-reads at most this window and
			// judges it by the configuration of that moment.
			r.cursor = through
			return nil
		}
		if err := w.store.QueueWebhookDeliveries(ctx, r.id, through, instance.MaskURL(cfg.URL), queue); err != nil {
			return err
		}
		r.cursor, r.savedAt = through, time.Now()
		return nil // read on before sending: queueing is cheap and keeps order visible
	}

	d, ev, err := w.store.NextWebhookDelivery(ctx, r.id)
	var (
		timer <-chan time.Time
		held  <-chan struct{}
	)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Nothing queued: wait for new events.
		r.idle = !active
	case err != nil:
		return err
	case !active:
		held = changed // wait for the webhook to be enabled again
	default:
		wait := time.Until(d.NextAttemptAt)
		if wait <= 0 {
			return r.attempt(ctx, cfg, d, ev)
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-r.wake:
	case <-held:
	case <-timer:
	case <-ctx.Done():
	}
	return nil
}

// wanted reports whether the webhook takes the event: its type passes the
// filter and, for an Evolution-format webhook, Evolution has a counterpart.
func wanted(cfg instance.Webhook, ev store.Event) bool {
	if len(cfg.Events) > 0 && !slices.Contains(cfg.Events, ev.Type) {
		return false
	}
	return cfg.Format != instance.FormatEvolution || evolutionEvent(ev) != ""
}
