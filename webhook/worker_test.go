package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/store"
	"github.com/meowgate/meowgate/webhook"
)

func TestDeliveryHeadersAndSignature(t *testing.T) {
	e := newEnv(t, func(o *webhook.Options) { o.UserAgent = "meowgate/test" })
	rc := newReceiver(t, nil)
	const secret = "s3cret"
	ins := e.create("signed", hook(rc.srv.URL+"/hook?x=1", map[string]any{
		"secret":  secret,
		"headers": map[string]string{"X-Custom": "yes"},
	}))
	evID := e.event(ins, event.TypeMessageReceived, `{"text":"hi","n":1}`)
	d := e.waitStatus(ins, evID, store.DeliveryDelivered)
	if d.Attempts != 1 || d.LastStatus != 200 || d.LastError != "" || d.LastResponse != "answer 200" || d.DeliveredAt.IsZero() {
		t.Errorf("delivery = %+v", d)
	}
	if d.EventType != event.TypeMessageReceived || !strings.HasSuffix(d.URL, "/hook?x=1") {
		t.Errorf("delivery = %+v", d)
	}

	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	q := reqs[0]
	for k, want := range map[string]string{
		"Content-Type":        "application/json",
		"User-Agent":          "meowgate/test",
		"X-Meowgate-Event":    event.TypeMessageReceived,
		"X-Meowgate-Delivery": id(evID),
		"X-Custom":            "yes",
	} {
		if got := q.header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(q.body, &body); err != nil {
		t.Fatal(err)
	}
	if len(body) != 5 || string(body["id"]) != `"`+id(evID)+`"` || string(body["type"]) != `"message.received"` ||
		string(body["instance"]) != `"signed"` || string(body["data"]) != `{"text":"hi","n":1}` {
		t.Errorf("body = %s", q.body)
	}
	var created time.Time
	if err := json.Unmarshal(body["created_at"], &created); err != nil || time.Since(created) > time.Minute {
		t.Errorf("created_at = %s (%v)", body["created_at"], err)
	}

	// Verify the signature the way a receiver would, without the package.
	sig := q.header.Get("X-Meowgate-Signature")
	ts, mac, ok := strings.Cut(sig, ",v1=")
	ts, tsOK := strings.CutPrefix(ts, "t=")
	if !ok || !tsOK {
		t.Fatalf("signature %q", sig)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Minute {
		t.Errorf("signature time %q", ts)
	}
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts + "." + string(q.body)))
	if want := hex.EncodeToString(h.Sum(nil)); !hmac.Equal([]byte(mac), []byte(want)) {
		t.Errorf("signature v1=%s, want %s", mac, want)
	}

	// Without a secret there is no signature.
	plain := e.create("plain", hook(rc.srv.URL, nil))
	ev2 := e.event(plain, event.TypeState, `{}`)
	e.waitStatus(plain, ev2, store.DeliveryDelivered)
	if r := rc.requests()[1]; r.header.Get("X-Meowgate-Signature") != "" || !strings.Contains(string(r.body), `"instance":"plain"`) {
		t.Errorf("unsigned request: %v %s", r.header, r.body)
	}
}

// The receiver fails event 1 a few times; event 2 and 3 must wait for it.
func TestOrderUnderRetries(t *testing.T) {
	e := newEnv(t, nil)
	var first string
	rc := newReceiver(t, func(w http.ResponseWriter, delivery string, n int) int {
		if delivery == first && n <= 3 {
			return []int{500, 503, 408}[n-1]
		}
		return 200
	})
	ins := e.create("ordered", hook(rc.srv.URL, nil))
	rc.mu.Lock()
	ev1 := e.event(ins, event.TypeMessageReceived, `{"n":1}`)
	first = id(ev1)
	rc.mu.Unlock()
	ev2 := e.event(ins, event.TypeMessageReceived, `{"n":2}`)
	ev3 := e.event(ins, event.TypeMessageSent, `{"n":3}`)
	e.waitStatus(ins, ev3, store.DeliveryDelivered)

	want := []string{id(ev1), id(ev1), id(ev1), id(ev1), id(ev2), id(ev3)}
	if got := rc.order(); !slices.Equal(got, want) {
		t.Errorf("arrival order %v, want %v", got, want)
	}
	d1 := e.delivery(ins, ev1)
	if d1.Status != store.DeliveryDelivered || d1.Attempts != 4 || d1.LastStatus != 200 {
		t.Errorf("event 1 delivery %+v", d1)
	}
	if d1.FirstAttemptAt.IsZero() || !d1.LastAttemptAt.After(d1.FirstAttemptAt) {
		t.Errorf("attempt times %v %v", d1.FirstAttemptAt, d1.LastAttemptAt)
	}
}

func TestServerErrorRetriedThenDelivered(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t, func(w http.ResponseWriter, delivery string, n int) int {
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			return http.StatusTooManyRequests
		}
		if n == 2 {
			return http.StatusBadGateway
		}
		return http.StatusNoContent
	})
	ins := e.create("flaky", hook(rc.srv.URL, nil))
	ev := e.event(ins, event.TypeMessageReceived, `{}`)
	// In between, the delivery is failed with a next attempt scheduled.
	waitFor(t, "a failed attempt", func() bool {
		d := e.delivery(ins, ev)
		if d.Status == store.DeliveryFailed {
			if d.NextAttemptAt.IsZero() || d.LastStatus == 0 || !strings.HasPrefix(d.LastError, "HTTP ") {
				t.Errorf("failed delivery %+v", d)
			}
			return true
		}
		return d.Status == store.DeliveryDelivered
	})
	d := e.waitStatus(ins, ev, store.DeliveryDelivered)
	if d.Attempts != 3 || d.LastStatus != 204 || d.LastError != "" || !d.NextAttemptAt.IsZero() {
		t.Errorf("delivery %+v", d)
	}
}

func TestClientErrorIsDeadAtOnce(t *testing.T) {
	e := newEnv(t, nil)
	var bad string
	rc := newReceiver(t, func(w http.ResponseWriter, delivery string, n int) int {
		if delivery == bad {
			return http.StatusBadRequest
		}
		return 200
	})
	ins := e.create("picky", hook(rc.srv.URL, nil))
	rc.mu.Lock()
	ev1 := e.event(ins, event.TypeMessageReceived, `{}`)
	bad = id(ev1)
	rc.mu.Unlock()
	ev2 := e.event(ins, event.TypeMessageReceived, `{}`)
	d := e.waitStatus(ins, ev1, store.DeliveryDead)
	if d.Attempts != 1 || d.LastStatus != 400 || d.LastError != "HTTP 400 Bad Request: answer 400" || !d.NextAttemptAt.IsZero() {
		t.Errorf("dead delivery %+v", d)
	}
	e.waitStatus(ins, ev2, store.DeliveryDelivered) // a dead one no longer holds the queue
	if got := rc.order(); !slices.Equal(got, []string{id(ev1), id(ev2)}) {
		t.Errorf("order %v", got)
	}
}

// A 410 kills the delivery and disables the webhook, which publishes
// webhook.disabled. Deliveries queued before are held, not lost, and go out
// once the webhook is enabled again; events while it is off are skipped.
func TestGoneDisablesWebhook(t *testing.T) {
	e := newEnv(t, nil)
	var gone string
	goneNow := false
	rc := newReceiver(t, func(w http.ResponseWriter, delivery string, n int) int {
		if delivery == gone {
			if goneNow {
				return http.StatusGone
			}
			return http.StatusInternalServerError
		}
		return 200
	})
	ins := e.create("gone", hook(rc.srv.URL, nil))
	rc.mu.Lock()
	ev1 := e.event(ins, event.TypeMessageReceived, `{}`)
	gone = id(ev1)
	rc.mu.Unlock()
	e.waitStatus(ins, ev1, store.DeliveryFailed)
	ev2 := e.event(ins, event.TypeMessageReceived, `{}`) // queued while ev1 is retried
	e.delivery(ins, ev2)
	rc.mu.Lock()
	goneNow = true
	rc.mu.Unlock()

	d := e.waitStatus(ins, ev1, store.DeliveryDead)
	if d.LastStatus != 410 {
		t.Errorf("delivery %+v", d)
	}
	waitFor(t, "webhook disabled", func() bool {
		wh, err := e.m.WebhookConfig(ins)
		return err == nil && !wh.Enabled && wh.URL == rc.srv.URL
	})
	var evs []store.Event
	waitFor(t, "the webhook.disabled event", func() bool {
		evs, _ = e.st.ListEvents(context.Background(), ins, ev2, 100)
		return len(evs) > 0
	})
	if len(evs) != 1 || evs[0].Type != event.TypeWebhookDisabled {
		t.Fatalf("events after disabling: %+v", evs)
	}
	var data struct{ URL, Reason string }
	if err := json.Unmarshal(evs[0].Data, &data); err != nil || data.URL != rc.srv.URL || !strings.Contains(data.Reason, "410") {
		t.Errorf("webhook.disabled data %s", evs[0].Data)
	}

	// Off: new events are read and skipped; ev2 stays pending, unsent.
	ev3 := e.event(ins, event.TypeMessageReceived, `{}`)
	e.waitCursor(ins, ev3)
	if ds, _ := e.st.ListWebhookDeliveries(context.Background(), ins, "", 100); len(ds) != 2 {
		t.Errorf("%d deliveries, want 2 (ev3 and webhook.disabled skipped)", len(ds))
	}
	if d := e.delivery(ins, ev2); d.Status != store.DeliveryPending || d.Attempts != 0 || rc.count(ev2) != 0 {
		t.Errorf("held delivery %+v, %d POSTs", d, rc.count(ev2))
	}

	// On again: the held delivery goes out, and new events are delivered.
	if _, err := e.m.Update(context.Background(), "gone", instance.UpdateParams{Webhook: webhookPatch(map[string]any{"enabled": true})}); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(ins, ev2, store.DeliveryDelivered)
	ev4 := e.event(ins, event.TypeMessageReceived, `{}`)
	e.waitStatus(ins, ev4, store.DeliveryDelivered)
	var got []string
	for _, q := range rc.requests() {
		if q.status != 500 {
			got = append(got, q.delivery)
		}
	}
	if !slices.Equal(got, []string{id(ev1), id(ev2), id(ev4)}) {
		t.Errorf("order %v", got)
	}
}

// A slow receiver of instance A does not delay instance B.
func TestSlowReceiverDoesNotBlockOthers(t *testing.T) {
	e := newEnv(t, func(o *webhook.Options) { o.Timeout = time.Minute })
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	slow := newReceiver(t, func(http.ResponseWriter, string, int) int {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		return 200
	})
	t.Cleanup(func() { close(release) })
	fast := newReceiver(t, nil)
	a := e.create("a", hook(slow.srv.URL, nil))
	b := e.create("b", hook(fast.srv.URL, nil))

	evA := e.event(a, event.TypeMessageReceived, `{}`)
	evA2 := e.event(a, event.TypeMessageReceived, `{}`)
	waitChan(t, "A's first POST", entered)
	var evB []int64
	for range 5 {
		evB = append(evB, e.event(b, event.TypeMessageReceived, `{}`))
	}
	for _, ev := range evB {
		e.waitStatus(b, ev, store.DeliveryDelivered)
	}
	// A's first POST is still hanging, its second not sent.
	if d := e.delivery(a, evA); d.Status != store.DeliveryPending || d.Attempts != 0 {
		t.Errorf("A's delivery %+v", d)
	}
	if n := len(slow.requests()); n != 0 {
		t.Errorf("slow receiver answered %d", n)
	}
	// A's second event is not sent either: its delivery is pending, or not
	// queued yet when the worker read the log between the two appends.
	ds, err := e.st.ListWebhookDeliveries(context.Background(), a, "", store.MaxDeliveryLimit)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.EventID == evA2 && (d.Status != store.DeliveryPending || d.Attempts != 0) {
			t.Errorf("A's second delivery %+v", d)
		}
	}
}

func TestRetryWindowExhausted(t *testing.T) {
	e := newEnv(t, func(o *webhook.Options) {
		o.RetryWindow = 150 * time.Millisecond
		o.BackoffBase = 10 * time.Millisecond
		o.MaxBackoff = 40 * time.Millisecond
	})
	rc := newReceiver(t, func(http.ResponseWriter, string, int) int { return http.StatusServiceUnavailable })
	ins := e.create("down", hook(rc.srv.URL, nil))
	start := time.Now()
	ev := e.event(ins, event.TypeMessageReceived, `{}`)
	d := e.waitStatus(ins, ev, store.DeliveryDead)
	if d.Attempts < 3 || d.LastStatus != 503 || !strings.Contains(d.LastError, "gave up") {
		t.Errorf("dead delivery %+v", d)
	}
	// (Times are stored in milliseconds, so allow for the truncation.)
	if span := d.LastAttemptAt.Sub(d.FirstAttemptAt); span < 148*time.Millisecond || time.Since(start) > 5*time.Second {
		t.Errorf("retried for %v only", span)
	}
	if n := rc.count(ev); n != d.Attempts {
		t.Errorf("receiver saw %d attempts, delivery says %d", n, d.Attempts)
	}
}

// Closing the worker (and the whole process) loses nothing: failed
// deliveries resume, events appended while it was down are delivered, and
// delivered ones are not sent again.
func TestRestartResumes(t *testing.T) {
	e := newEnv(t, nil)
	down := true
	var stuck string
	rc := newReceiver(t, func(w http.ResponseWriter, delivery string, n int) int {
		if delivery == stuck && down {
			return 500
		}
		return 200
	})
	ins := e.create("restart", hook(rc.srv.URL, nil))
	ev1 := e.event(ins, event.TypeMessageReceived, `{"n":1}`)
	ev2 := e.event(ins, event.TypeMessageReceived, `{"n":2}`)
	e.waitStatus(ins, ev2, store.DeliveryDelivered)
	rc.mu.Lock()
	ev3 := e.event(ins, event.TypeMessageReceived, `{"n":3}`)
	stuck = id(ev3)
	rc.mu.Unlock()
	ev4 := e.event(ins, event.TypeMessageReceived, `{"n":4}`)
	e.waitStatus(ins, ev3, store.DeliveryFailed)
	e.delivery(ins, ev4)

	e.stopWorker()
	ev5 := e.event(ins, event.TypeMessageReceived, `{"n":5}`) // while no worker runs
	e.closeAll()
	rc.mu.Lock()
	down = false
	rc.mu.Unlock()

	e.open()
	e.startWorker()
	for _, ev := range []int64{ev3, ev4, ev5} {
		e.waitStatus(ins, ev, store.DeliveryDelivered)
	}
	ev6 := e.event(ins, event.TypeMessageReceived, `{"n":6}`)
	e.waitStatus(ins, ev6, store.DeliveryDelivered)
	for _, ev := range []int64{ev1, ev2, ev4, ev5, ev6} {
		if n := rc.count(ev); n != 1 {
			t.Errorf("event %d POSTed %d times", ev, n)
		}
	}
	// ev3 may be answered 200 twice: an attempt abandoned by Close is not
	// recorded, so it is made again (at least once, by design), and the
	// receiver may still have answered the abandoned one.
	var delivered []string
	for _, q := range rc.requests() {
		if q.status == 200 && !slices.Contains(delivered, q.delivery) {
			delivered = append(delivered, q.delivery)
		}
	}
	if want := []string{id(ev1), id(ev2), id(ev3), id(ev4), id(ev5), id(ev6)}; !slices.Equal(delivered, want) {
		t.Errorf("delivered %v, want %v", delivered, want)
	}
}

func TestEventFilterAndNoWebhook(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t, nil)
	ins := e.create("filtered", hook(rc.srv.URL, map[string]any{"events": []string{event.TypeMessageReceived, event.TypeCallReceived}}))
	e.event(ins, event.TypeState, `{}`)
	r1 := e.event(ins, event.TypeMessageReceived, `{}`)
	e.event(ins, event.TypeMessageSent, `{}`)
	c1 := e.event(ins, event.TypeCallReceived, `{}`)
	last := e.event(ins, event.TypeMessageStatus, `{}`)
	e.waitCursor(ins, last)
	e.waitStatus(ins, c1, store.DeliveryDelivered)
	if got := rc.order(); !slices.Equal(got, []string{id(r1), id(c1)}) {
		t.Errorf("delivered %v", got)
	}
	ds, _ := e.st.ListWebhookDeliveries(context.Background(), ins, "", 100)
	if len(ds) != 2 || ds[0].EventID != c1 || ds[1].EventID != r1 {
		t.Errorf("deliveries (newest first) %+v", ds)
	}

	// No webhook: events are read and skipped; configuring one later does
	// not replay them.
	none := e.create("none", nil)
	old := e.event(none, event.TypeMessageReceived, `{}`)
	e.waitCursor(none, old)
	if ds, _ := e.st.ListWebhookDeliveries(context.Background(), none, "", 100); len(ds) != 0 {
		t.Errorf("deliveries without a webhook: %+v", ds)
	}
	if _, err := e.m.Update(context.Background(), "none", instance.UpdateParams{Webhook: webhookPatch(map[string]any{"url": rc.srv.URL, "enabled": true})}); err != nil {
		t.Fatal(err)
	}
	fresh := e.event(none, event.TypeMessageReceived, `{}`)
	e.waitStatus(none, fresh, store.DeliveryDelivered)
	if rc.count(old) != 0 {
		t.Error("an event from before the webhook was delivered")
	}
}

func TestManualRetry(t *testing.T) {
	e := newEnv(t, nil)
	reject := true
	rc := newReceiver(t, func(w http.ResponseWriter, delivery string, n int) int {
		if reject {
			return http.StatusUnprocessableEntity
		}
		return 200
	})
	ins := e.create("retry", hook(rc.srv.URL, nil))
	other := e.create("other", nil)
	ev1 := e.event(ins, event.TypeMessageReceived, `{}`)
	dead := e.waitStatus(ins, ev1, store.DeliveryDead)
	rc.mu.Lock()
	reject = false
	rc.mu.Unlock()
	ev2 := e.event(ins, event.TypeMessageReceived, `{}`)
	done := e.waitStatus(ins, ev2, store.DeliveryDelivered)

	ctx := context.Background()
	if _, err := e.w.Retry(ctx, ins, done.ID); !isErr(err, store.ErrConflict) {
		t.Errorf("retry of a delivered delivery: %v", err)
	}
	if _, err := e.w.Retry(ctx, other, dead.ID); !isErr(err, store.ErrNotFound) {
		t.Errorf("retry through another instance: %v", err)
	}
	if _, err := e.w.Retry(ctx, ins, 999999); !isErr(err, store.ErrNotFound) {
		t.Errorf("retry of an unknown delivery: %v", err)
	}
	d, err := e.w.Retry(ctx, ins, dead.ID)
	if err != nil || d.Status != store.DeliveryPending || d.Attempts != 1 {
		t.Fatalf("retry: %+v, %v", d, err)
	}
	d = e.waitStatus(ins, ev1, store.DeliveryDelivered)
	if d.Attempts != 2 || d.LastStatus != 200 {
		t.Errorf("retried delivery %+v", d)
	}
	if got := rc.order(); !slices.Equal(got, []string{id(ev1), id(ev2), id(ev1)}) {
		t.Errorf("order %v", got)
	}
	if _, err := e.w.Retry(ctx, ins, dead.ID); !isErr(err, store.ErrConflict) {
		t.Errorf("second retry after delivery: %v", err)
	}
}

// A receiver that fails five times, then recovers, gets every event once
// (counting successful deliveries), in order.
func TestReceiverRecoversAfterFiveFailures(t *testing.T) {
	e := newEnv(t, nil)
	var mu sync.Mutex
	failures := 0
	rc := newReceiver(t, func(w http.ResponseWriter, delivery string, n int) int {
		mu.Lock()
		defer mu.Unlock()
		if failures < 5 {
			failures++
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	ins := e.create("recovers", hook(rc.srv.URL, nil))
	var evs []int64
	for n := range 20 {
		evs = append(evs, e.event(ins, event.TypeMessageReceived, fmt.Sprintf(`{"n":%d}`, n)))
	}
	e.waitStatus(ins, evs[len(evs)-1], store.DeliveryDelivered)
	var got []string
	ok := map[string]int{}
	for _, r := range rc.requests() {
		if r.status/100 == 2 {
			got = append(got, r.delivery)
			ok[r.delivery]++
		}
	}
	var want []string
	for _, ev := range evs {
		want = append(want, id(ev))
		if ok[id(ev)] != 1 {
			t.Errorf("event %d delivered %d times", ev, ok[id(ev)])
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("successful deliveries %v, want %v", got, want)
	}
}
