package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/store"
	"github.com/meowgate/meowgate/webhook"
)

// The tests run the real worker over a SQLite file in t.TempDir(), the real
// instance.Manager (no WhatsApp connection: instances are only created, and
// events appended to the log directly) and httptest receivers. Outcomes are
// awaited by polling the store or the receiver, never by fixed sleeps.

const waitTimeout = 10 * time.Second

func testLog() *slog.Logger {
	lvl := slog.LevelError + 1 // the worker logs expected failures at Warn/Error
	if os.Getenv("MEOWGATE_TEST_DEBUG") != "" {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

type env struct {
	t    *testing.T
	dir  string
	st   *store.Store
	m    *instance.Manager
	w    *webhook.Worker
	opts webhook.Options // template for every worker started
}

// newEnv opens a store and a manager and starts a worker with fast backoff.
func newEnv(t *testing.T, tweak func(*webhook.Options)) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	e.opts = webhook.Options{
		Log:         testLog(),
		Timeout:     5 * time.Second,
		RetryWindow: time.Hour,
		BackoffBase: 5 * time.Millisecond,
		MaxBackoff:  50 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&e.opts)
	}
	e.open()
	e.startWorker()
	t.Cleanup(e.closeAll)
	return e
}

func (e *env) open() {
	e.t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(e.dir, "meowgate.db"), testLog())
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := instance.NewManager(context.Background(), instance.Options{Store: st, Log: testLog()})
	if err != nil {
		e.t.Fatal(err)
	}
	e.st, e.m = st, m
}

func (e *env) startWorker() {
	e.t.Helper()
	o := e.opts
	o.Store, o.Manager = e.st, e.m
	if o.CursorSaveEvery == 0 {
		o.CursorSaveEvery = -1 // tests look at the stored cursor
	}
	w, err := webhook.New(o)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.w = w
}

func (e *env) stopWorker() {
	if e.w != nil {
		e.w.Close()
		e.w = nil
	}
}

// closeAll stops the worker, the manager and the store, as a shutdown does.
func (e *env) closeAll() {
	e.stopWorker()
	if e.m != nil {
		e.m.Close()
		e.st.Close()
		e.m, e.st = nil, nil
	}
}

// create makes an instance with the given webhook (nil: none) and returns its id.
func (e *env) create(name string, wh map[string]any) string {
	e.t.Helper()
	p := instance.CreateParams{Name: name}
	if wh != nil {
		p.Webhook = webhookPatch(wh)
	}
	info, _, _, err := e.m.Create(context.Background(), p)
	if err != nil {
		e.t.Fatal(err)
	}
	return info.ID
}

// event appends an event and returns its id.
func (e *env) event(instanceID, typ string, data string) int64 {
	e.t.Helper()
	ev, err := e.st.AppendEvent(context.Background(), store.Event{InstanceID: instanceID, Type: typ, Data: json.RawMessage(data)})
	if err != nil {
		e.t.Fatal(err)
	}
	return ev.ID
}

// delivery returns the delivery of an event (waiting until it is queued).
func (e *env) delivery(instanceID string, eventID int64) store.WebhookDelivery {
	e.t.Helper()
	var got store.WebhookDelivery
	waitFor(e.t, "delivery of event "+strconv.FormatInt(eventID, 10)+" queued", func() bool {
		ds, err := e.st.ListWebhookDeliveries(context.Background(), instanceID, "", store.MaxDeliveryLimit)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, d := range ds {
			if d.EventID == eventID {
				got = d
				return true
			}
		}
		return false
	})
	return got
}

// waitStatus waits until the event's delivery has status.
func (e *env) waitStatus(instanceID string, eventID int64, status string) store.WebhookDelivery {
	e.t.Helper()
	var d store.WebhookDelivery
	waitFor(e.t, "event "+strconv.FormatInt(eventID, 10)+" "+status, func() bool {
		d = e.delivery(instanceID, eventID)
		return d.Status == status
	})
	return d
}

// waitCursor waits until the worker has read the instance's log up to eventID.
func (e *env) waitCursor(instanceID string, eventID int64) {
	e.t.Helper()
	waitFor(e.t, "cursor at "+strconv.FormatInt(eventID, 10), func() bool {
		c, err := e.st.WebhookCursor(context.Background(), instanceID)
		if err != nil {
			e.t.Fatal(err)
		}
		return c >= eventID
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func waitChan(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// request is one POST a receiver got.
type request struct {
	path     string // with the query
	delivery string // X-Meowgate-Delivery
	header   http.Header
	body     []byte
	status   int // what the receiver answered
}

// receiver is an httptest server recording every POST. respond picks the
// answer from the delivery id and how many times that id was seen (1 for
// the first); nil means 200.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []request
	respond func(w http.ResponseWriter, delivery string, n int) int
}

func newReceiver(t *testing.T, respond func(w http.ResponseWriter, delivery string, n int) int) *receiver {
	rc := &receiver{respond: respond}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := r.Header.Get("X-Meowgate-Delivery")
	rc.mu.Lock()
	n := 1
	for _, q := range rc.reqs {
		if q.delivery == id {
			n++
		}
	}
	respond := rc.respond
	rc.mu.Unlock()
	status := http.StatusOK
	if respond != nil {
		status = respond(w, id, n)
	}
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, request{path: r.URL.RequestURI(), delivery: id, header: r.Header.Clone(), body: body, status: status})
	rc.mu.Unlock()
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "answer "+strconv.Itoa(status))
}

func (rc *receiver) setRespond(f func(w http.ResponseWriter, delivery string, n int) int) {
	rc.mu.Lock()
	rc.respond = f
	rc.mu.Unlock()
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

// count returns how many POSTs of a delivery id the receiver answered.
func (rc *receiver) count(eventID int64) int {
	n := 0
	for _, q := range rc.requests() {
		if q.delivery == strconv.FormatInt(eventID, 10) {
			n++
		}
	}
	return n
}

// order returns the delivery ids of the POSTs, in arrival order.
func (rc *receiver) order() []string {
	var out []string
	for _, q := range rc.requests() {
		out = append(out, q.delivery)
	}
	return out
}

func hook(url string, extra map[string]any) map[string]any {
	m := map[string]any{"url": url, "enabled": true}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

func isErr(err, target error) bool { return errors.Is(err, target) }

// webhookPatch turns a webhook given by its JSON names into a patch.
func webhookPatch(wh map[string]any) *instance.WebhookPatch {
	p := &instance.WebhookPatch{}
	for k, v := range wh {
		switch k {
		case "url":
			s := v.(string)
			p.URL = &s
		case "enabled":
			b := v.(bool)
			p.Enabled = &b
		case "secret":
			s := v.(string)
			p.Secret = &s
		case "include_media":
			b := v.(bool)
			p.IncludeMedia = &b
		case "events":
			ev := v.([]string)
			p.Events = &ev
		case "headers":
			p.Headers = v.(map[string]string)
		case "format":
			s := v.(string)
			p.Format = &s
		case "by_events":
			b := v.(bool)
			p.ByEvents = &b
		default:
			panic("webhookPatch: unknown key " + k)
		}
	}
	return p
}
