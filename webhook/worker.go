// Package webhook delivers the event log to each instance's webhook: one
// goroutine per instance POSTs its events in order, signs them, retries with
// backoff and gives up into dead letters. All delivery state lives in the
// store, so a restart resumes where the last run stopped.
//
// How events become deliveries. Each instance has a cursor in the store: the
// last event the worker has read. The worker reads the events after it, in
// order, and in one transaction queues a delivery for each event it will send
// and moves the cursor past all of them. An event is queued only if, when the
// worker reads it (normally milliseconds after it was appended), the webhook
// is enabled with a URL and the event's type passes the webhook's filter
// (events empty = every type) and, for a webhook in Evolution API's format,
// Evolution has a counterpart for it (evolution.go). Events that happen while no webhook is
// configured are skipped for good: configuring a webhook later does not
// replay the past (GET …/events?after= does that).
//
// How deliveries are sent. Per instance strictly in order: the oldest pending
// or failed delivery is the head, and nothing newer is POSTed until the head
// is delivered or dead. Each attempt uses the webhook's URL, secret and
// headers current at that moment, so fixing a broken URL lets the queue
// drain. While the webhook is disabled (or has no URL) queued deliveries are
// held, not dropped, and resume when it is enabled again. A slow or dead
// receiver only ever holds up its own instance's goroutine.
//
// Guarantees. Delivery is at least once: a crash (or Close) between a POST
// and recording its answer sends that event again on the next start.
// Receivers de-duplicate by X-Meowgate-Delivery (the event id), which is the
// same on every retry.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/store"
)

// Manager is what the worker needs of the instance manager;
// *instance.Manager implements it.
type Manager interface {
	// List returns every instance; the worker starts one goroutine for each.
	List() []*instance.Info
	// NameOf returns an instance's name for the payload.
	NameOf(id string) string
	// WebhookConfig returns the webhook, secret included. instance.ErrNotFound
	// means the instance was deleted.
	WebhookConfig(id string) (instance.Webhook, error)
	// CheckWebhookTarget returns an error wrapping instance.ErrSelfTarget
	// when a URL reaches meowgate's own API: such a delivery is dead at once.
	CheckWebhookTarget(ctx context.Context, rawURL string) error
	// DisableWebhook turns the webhook off after a 410 Gone.
	DisableWebhook(ctx context.Context, id, url, reason string) error
	// Watch returns a channel closed at the instance's next change, so held
	// deliveries resume when the webhook is enabled again.
	Watch(idOrName string) (<-chan struct{}, *instance.Info, error)
	// OpenMedia opens a message's file (downloading it if needed), for
	// webhooks with include_media.
	OpenMedia(ctx context.Context, idOrName, id string) (*instance.MediaFile, error)
}

var _ Manager = (*instance.Manager)(nil)

// Options configure a Worker. Zero values take the defaults noted.
type Options struct {
	Store   *store.Store
	Manager Manager
	Log     *slog.Logger
	// HTTPClient sends the POSTs (default: a new client). Redirects are never
	// followed: a 3xx answer makes the delivery dead, like a 4xx.
	HTTPClient *http.Client
	// Timeout bounds one attempt, reading the answer included (10 s).
	Timeout time.Duration
	// RetryWindow is how long after its first attempt a delivery is retried
	// before it is dead (24 h).
	RetryWindow time.Duration
	// BackoffBase is the first retry delay (1 s); delays double up to
	// MaxBackoff (5 min).
	BackoffBase time.Duration
	// CursorSaveEvery bounds how long the read position may run ahead of
	// its stored copy while no delivery is queued (30 s); negative saves
	// it after every read.
	CursorSaveEvery time.Duration
	MaxBackoff      time.Duration
	// UserAgent is sent with every POST ("meowgate").
	UserAgent string
	// Observe, if set, is told the outcome of every recorded attempt: the
	// delivery's new status (store.DeliveryDelivered, …Failed, …Dead).
	// Attempts are not events, so the metrics learn them here.
	Observe func(instanceID, status string)
	// IncludeMediaMax is the largest file put inline (base64) in a message
	// event for a webhook with include_media (5 MiB); larger files are
	// left to the media URL; negative never inlines.
	IncludeMediaMax int64
	// ServerURL is meowgate's own base URL ("http://host:port"), sent as
	// server_url in Evolution-format deliveries and put before the media
	// routes in them; "" leaves those paths relative.
	ServerURL string
}

// Worker delivers webhooks. Start it once; Close stops it.
type Worker struct {
	opts   Options
	store  *store.Store
	m      Manager
	log    *slog.Logger
	client *http.Client

	mu      sync.Mutex
	ctx     context.Context // set by Start
	cancel  context.CancelFunc
	runners map[string]*runner
	closed  bool
	wg      sync.WaitGroup
}

// New returns a worker; it does nothing until Start.
func New(opts Options) (*Worker, error) {
	if opts.Store == nil || opts.Manager == nil {
		return nil, errors.New("webhook: Store and Manager are required")
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.RetryWindow <= 0 {
		opts.RetryWindow = 24 * time.Hour
	}
	if opts.CursorSaveEvery == 0 {
		opts.CursorSaveEvery = 30 * time.Second
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.BackoffBase)
	opts.ServerURL = strings.TrimSuffix(opts.ServerURL, "/")
	if opts.UserAgent == "" {
		opts.UserAgent = "meowgate"
	}
	client := &http.Client{}
	if opts.HTTPClient != nil {
		c := *opts.HTTPClient // a copy: the caller's client keeps its redirect policy
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Worker{
		opts: opts, store: opts.Store, m: opts.Manager, log: opts.Log, client: client,
		runners: map[string]*runner{},
	}, nil
}

// Start resumes every instance's deliveries from the store and then follows
// the event log until ctx ends or Close is called.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("webhook: worker is closed")
	}
	if w.ctx != nil {
		return errors.New("webhook: worker already started")
	}
	// Events up to last are covered by starting every known instance, each
	// from its own cursor; the dispatcher wakes instances for newer ones.
	last, err := w.store.LastEventID(ctx)
	if err != nil {
		return fmt.Errorf("webhook: start: %w", err)
	}
	w.ctx, w.cancel = context.WithCancel(ctx)
	for _, info := range w.m.List() {
		w.runnerLocked(info.ID)
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.dispatch(w.ctx, last)
	}()
	return nil
}

// Close stops every goroutine and waits for them. An attempt in flight is
// abandoned unrecorded and is made again after the next Start.
func (w *Worker) Close() {
	w.mu.Lock()
	w.closed = true
	cancel := w.cancel
	w.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	w.wg.Wait()
}

// List returns an instance's deliveries, newest first, optionally only those
// in status; limit <= 0 means 100, at most 1000.
func (w *Worker) List(ctx context.Context, instanceID, status string, limit int) ([]store.WebhookDelivery, error) {
	return w.store.ListWebhookDeliveries(ctx, instanceID, status, limit)
}

// Retry re-queues a failed or dead delivery of the instance for an immediate
// attempt with a fresh retry window; it goes before anything newer of that
// instance. A delivered or pending one is returned unchanged with
// store.ErrConflict; an unknown one gives store.ErrNotFound.
func (w *Worker) Retry(ctx context.Context, instanceID string, id int64) (store.WebhookDelivery, error) {
	d, err := w.store.RequeueWebhookDelivery(ctx, instanceID, id)
	if err != nil {
		return d, err
	}
	w.log.Info("webhook: delivery re-queued by hand", "instance", w.m.NameOf(instanceID), "delivery", id, "event", d.EventID)
	w.poke(instanceID)
	return d, nil
}

// dispatch wakes the runner of every instance that gets new events, starting
// one for instances created since Start.
func (w *Worker) dispatch(ctx context.Context, after int64) {
	for {
		wake := w.store.EventsNotify() // before reading: no commit is missed
		ids := w.store.InstancesWithEvents(after)
		for id, last := range ids {
			w.pokeAt(id, last)
			after = max(after, last)
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		}
	}
}

// poke wakes an instance's runner, starting it if needed (once started).
func (w *Worker) poke(instanceID string) { w.pokeAt(instanceID, 0) }

// pokeAt is poke telling the runner the newest event id of the instance.
func (w *Worker) pokeAt(instanceID string, latest int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx == nil || w.closed {
		return
	}
	r := w.runnerLocked(instanceID)
	for cur := r.latest.Load(); latest > cur && !r.latest.CompareAndSwap(cur, latest); cur = r.latest.Load() {
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// runnerLocked returns the instance's runner, starting it if there is none.
// w.mu must be held.
func (w *Worker) runnerLocked(instanceID string) *runner {
	if r := w.runners[instanceID]; r != nil {
		return r
	}
	r := &runner{w: w, id: instanceID, wake: make(chan struct{}, 1)}
	w.runners[instanceID] = r
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		r.run(w.ctx)
		w.mu.Lock()
		if w.runners[instanceID] == r {
			delete(w.runners, instanceID)
		}
		w.mu.Unlock()
	}()
	return r
}

// errorPause is how long a goroutine waits after a store error.
const errorPause = 2 * time.Second
