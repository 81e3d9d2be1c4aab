package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meowgate/meowgate/api"
	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/store"
	"github.com/meowgate/meowgate/wasim"
	"github.com/meowgate/meowgate/webhook"
)

// TestWebhookLoop points a real instance's webhook at the meowgate serving
// it: its own restart route, with its own token in a header. Without the
// guards every restart makes events whose deliveries restart it again
// (hundreds of reconnects a second). Setting such a URL is refused with
// 422; one stored by an older version is dead at its first attempt without
// a request; and one the address check cannot recognise (the API behind a
// reverse proxy) is refused by the API itself (400 webhook_loop), so its
// delivery is dead too. Either way the events stay bounded.
func TestWebhookLoop(t *testing.T) {
	ctx := context.Background()
	sim, err := wasim.New(ctx, wasim.Options{DeliveryDelay: 10 * time.Millisecond, ReadDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "meowgate.db"), testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()

	// An older meowgate, without the check, stored the looping webhook.
	old, err := instance.NewManager(ctx, instance.Options{Store: st, Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	info, token, _, err := old.Create(ctx, instance.CreateParams{Name: "loop"})
	if err != nil {
		t.Fatal(err)
	}
	selfHook := func(u string) *instance.WebhookPatch {
		return webhookPatch(map[string]any{"url": u, "enabled": true, "headers": map[string]string{"Authorization": "Bearer " + token}})
	}
	if _, err := old.Update(ctx, "loop", instance.UpdateParams{Webhook: selfHook(base + "/v1/instances/loop/restart")}); err != nil {
		t.Fatalf("the older version's update: %v", err)
	}
	old.Close()

	// This version: the guard knows the listen address (as serve wires it).
	m, err := instance.NewManager(ctx, instance.Options{Store: st, Log: testLog(), HTTPClient: sim.HTTPClient(),
		Self: instance.NewSelfGuard(ln.Addr().String())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sim.Wait(ctx, sim.Idle) // see api's helpers: settle before closing sockets
	})
	w, err := webhook.New(webhook.Options{Store: st, Manager: m, Log: testLog(), Timeout: 5 * time.Second,
		RetryWindow: time.Hour, BackoffBase: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	const admin = "admin-key-0123456789"
	var deliveriesSeen atomic.Int64 // requests that reached the API carrying X-Meowgate-Delivery
	h := api.New(api.Options{Manager: m, Log: testLog(), AdminKey: admin, Webhooks: w, Sandbox: wasim.Local(sim),
		RateLimit: 1e6, RateBurst: 1e6, CreatePerMinute: 1000})
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Meowgate-Delivery") != "" {
			deliveriesSeen.Add(1)
		}
		h.ServeHTTP(rw, r)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)

	call := func(method, path, key string, body any) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &out)
		return resp.StatusCode, out
	}
	want422URL := func(status int, out map[string]any, what string) {
		t.Helper()
		e, _ := out["error"].(map[string]any)
		f, _ := e["fields"].(map[string]any)
		if status != http.StatusUnprocessableEntity || e["code"] != "invalid" || f["webhook.url"] == nil {
			t.Errorf("%s: %d %v, want 422 invalid with fields webhook.url", what, status, out)
		}
	}

	// Setting a URL at this API is refused, by create and by PATCH, under
	// every name the listener answers to.
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	for _, u := range []string{
		base + "/v1/instances/loop/restart",
		"http://localhost:" + port + "/v1/instances/loop/restart",
		"http://127.0.0.2:" + port + "/x",
		"http://[::1]:" + port + "/x",
		"http://[::ffff:127.0.0.1]:" + port + "/x",
		"http://0.0.0.0:" + port + "/x",
		"http://127.0.0.1:0" + port + "/x",
	} {
		status, out := call("POST", "/v1/instances", admin, map[string]any{"name": "loop2", "webhook": map[string]any{
			"url": u, "headers": map[string]string{"Authorization": "Bearer " + token}}})
		want422URL(status, out, "create with "+u)
		status, out = call("PATCH", "/v1/instances/loop", token, map[string]any{"webhook": map[string]any{"url": u}})
		want422URL(status, out, "PATCH with "+u)
	}

	countEvents := func() int {
		t.Helper()
		evs, err := st.ListEvents(ctx, info.ID, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	// settled waits until every delivery is delivered or dead.
	settled := func(what string) []store.WebhookDelivery {
		t.Helper()
		var ds []store.WebhookDelivery
		waitFor(t, what, func() bool {
			var err error
			if ds, err = st.ListWebhookDeliveries(ctx, info.ID, "", store.MaxDeliveryLimit); err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if d.Status == store.DeliveryPending || d.Status == store.DeliveryFailed {
					return false
				}
			}
			return len(ds) > 0
		})
		return ds
	}
	// bounded checks that no more than a few events follow in a second.
	bounded := func(what string) {
		t.Helper()
		n := countEvents()
		time.Sleep(time.Second)
		if more := countEvents() - n; more > 3 {
			t.Fatalf("%s: %d more events within a second: a loop", what, more)
		}
	}
	const phone = "+4915100000077"
	waitLogin := func(before int) {
		t.Helper()
		waitFor(t, "login", func() bool {
			i, err := m.Get("loop")
			return err == nil && i.State == event.StateConnected && len(sim.Presences(phone)) > before
		})
	}

	// The stored looping webhook: link the instance, which makes events.
	if status, out := call("POST", "/v1/instances/loop/connect", admin, nil); status/100 != 2 {
		t.Fatalf("connect: %d %v", status, out)
	}
	qctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	if _, err := m.WaitQR(qctx, "loop"); err != nil {
		t.Fatal(err)
	}
	if status, out := call("POST", "/v1/sandbox/instances/loop/scan", admin, map[string]string{"phone": phone}); status != http.StatusOK {
		t.Fatalf("scan: %d %v", status, out)
	}
	waitLogin(0)
	for _, d := range settled("the stored looping webhook's deliveries") {
		if d.Status != store.DeliveryDead || d.Attempts != 1 || d.LastStatus != 0 || !strings.Contains(d.LastError, "own API") {
			t.Errorf("delivery %+v: want dead at the first attempt, without a request, saying why", d)
		}
	}
	if n := deliveriesSeen.Load(); n != 0 {
		t.Fatalf("%d deliveries reached the API", n)
	}
	bounded("stored looping webhook")

	// The API behind a reverse proxy: the address check cannot know it is
	// meowgate, the API refuses the delivery itself.
	target, _ := url.Parse(base)
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(proxy.Close)
	if status, out := call("PATCH", "/v1/instances/loop", token, map[string]any{"webhook": map[string]any{"url": proxy.URL + "/v1/instances/loop/restart"}}); status != http.StatusOK {
		t.Fatalf("PATCH to the proxy: %d %v", status, out)
	}
	before := len(sim.Presences(phone))
	known := len(settled("before the restart"))
	if status, out := call("POST", "/v1/instances/loop/restart", admin, nil); status/100 != 2 {
		t.Fatalf("restart: %d %v", status, out)
	}
	waitLogin(before)
	var proxied int
	waitFor(t, "deliveries through the proxy", func() bool {
		ds := settled("deliveries through the proxy")
		proxied = len(ds) - known
		return proxied > 0
	})
	for _, d := range settled("deliveries through the proxy")[:proxied] {
		if d.Status != store.DeliveryDead || d.Attempts != 1 || d.LastStatus != http.StatusBadRequest || !strings.Contains(d.LastError, "webhook_loop") {
			t.Errorf("delivery %+v: want dead at once with 400 webhook_loop", d)
		}
	}
	bounded("webhook through a proxy")
	if n := deliveriesSeen.Load(); n != int64(len(settled("end"))-known) {
		t.Errorf("%d deliveries reached the API, want one per delivery (no retries)", n)
	}
}
