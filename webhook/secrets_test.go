package webhook_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meowgate/meowgate/api"
	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// TestDeliveryUsesRealSecrets: the API shows the webhook's URL credentials
// and sensitive headers masked, a GET → PATCH round trip sends the masked
// form back, and the deliveries still carry the real values (URL
// credentials as Basic auth). Error texts and events shown by the API keep
// them masked.
func TestDeliveryUsesRealSecrets(t *testing.T) {
	e := newEnv(t, nil)
	rc := newReceiver(t, nil)
	const admin = "admin-key-0123456789"
	srv := httptest.NewServer(api.New(api.Options{Manager: e.m, Log: testLog(), AdminKey: admin, Webhooks: e.w}))
	t.Cleanup(srv.Close)
	call := func(method, path string, body any) []byte {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b
	}
	const pass, bearer, key = "p@ss:w0rd-61", "Bearer real-bearer-8d", "real-key-c4"
	noLeak := func(what string, b []byte) {
		t.Helper()
		for _, s := range []string{"p%40ss", "w0rd-61", "real-bearer-8d", key} {
			if strings.Contains(string(b), s) {
				t.Fatalf("%s leaks %q: %s", what, s, b)
			}
		}
	}
	// roundTrip GETs the webhook as shown and PATCHes it back unchanged.
	roundTrip := func(name string) {
		t.Helper()
		b := call("GET", "/v1/instances/"+name, nil)
		noLeak("GET", b)
		var got struct {
			Instance struct{ Webhook map[string]any } `json:"instance"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		wh := got.Instance.Webhook
		delete(wh, "has_secret")
		noLeak("PATCH", call("PATCH", "/v1/instances/"+name, map[string]any{"webhook": wh}))
	}
	credURL := strings.Replace(rc.srv.URL, "http://", "http://hookuser:p%40ss%3Aw0rd-61@", 1) + "/h"

	call("POST", "/v1/instances", map[string]any{"name": "basic", "webhook": map[string]any{"url": credURL}})
	call("POST", "/v1/instances", map[string]any{"name": "bearer", "webhook": map[string]any{"url": rc.srv.URL + "/h",
		"headers": map[string]string{"Authorization": bearer, "X-Api-Key": key, "X-Plain": "1"}}})
	roundTrip("basic")
	roundTrip("bearer")

	basic, _ := e.m.Get("basic")
	ev := e.event(basic.ID, event.TypeMessageReceived, `{}`)
	e.waitStatus(basic.ID, ev, store.DeliveryDelivered)
	bear, _ := e.m.Get("bearer")
	ev2 := e.event(bear.ID, event.TypeMessageReceived, `{}`)
	e.waitStatus(bear.ID, ev2, store.DeliveryDelivered)
	for _, q := range rc.requests() {
		switch q.delivery {
		case id(ev):
			r := &http.Request{Header: q.header}
			if u, p, ok := r.BasicAuth(); !ok || u != "hookuser" || p != pass {
				t.Errorf("delivery with URL credentials: basic auth %q %q %v, want hookuser %q", u, p, ok, pass)
			}
		case id(ev2):
			if q.header.Get("Authorization") != bearer || q.header.Get("X-Api-Key") != key || q.header.Get("X-Plain") != "1" {
				t.Errorf("delivery with header secrets: %v", q.header)
			}
		}
	}

	// A failing receiver: its error, shown as last_error, masks the URL.
	rc.setRespond(func(w http.ResponseWriter, _ string, _ int) int { return http.StatusGone })
	ev3 := e.event(basic.ID, event.TypeMessageReceived, `{}`)
	e.waitStatus(basic.ID, ev3, store.DeliveryDead)
	noLeak("deliveries", call("GET", "/v1/instances/basic/webhook/deliveries", nil))
	events := call("GET", "/v1/instances/basic/events?after=0", nil)
	noLeak("events", events)
	if !strings.Contains(string(events), "hookuser:xxxxx@") {
		t.Errorf("the webhook.disabled event lacks the masked URL: %s", events)
	}
	dead := strings.Replace(rc.srv.URL, "http://", "http://hookuser:p%40ss%3Aw0rd-61@", 1)
	rc.srv.Close()
	call("PATCH", "/v1/instances/basic", map[string]any{"webhook": map[string]any{"url": dead + "/h", "enabled": true}})
	ev4 := e.event(basic.ID, event.TypeMessageReceived, `{}`)
	d := e.waitStatus(basic.ID, ev4, store.DeliveryFailed)
	if strings.Contains(d.LastError, "w0rd") || !strings.Contains(d.LastError, "xxxxx") {
		t.Errorf("last_error of a network failure: %q", d.LastError)
	}
	noLeak("deliveries", call("GET", "/v1/instances/basic/webhook/deliveries", nil))
}
