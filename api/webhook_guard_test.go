package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
)

// TestWebhookSecretsMasked: URL credentials and sensitive header values are
// masked in every response (create, GET, list, PATCH); sending the masked
// form back keeps the stored secret, a new value replaces it.
func TestWebhookSecretsMasked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const (
		urlPass   = "url-pass-9f3a"
		bearer    = "Bearer real-bearer-77c1"
		apiKeyVal = "key-value-41d0"
		cookie    = "sid=cookie-value-e2b8"
		session   = "session-value-0a6c"
	)
	secrets := []string{"proxy-pass-d17", urlPass, bearer, "real-bearer-77c1", apiKeyVal, cookie, session}
	noLeak := func(r *res) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(string(r.body), s) {
				t.Fatalf("%s leaks %q: %s", r.req, s, r.body)
			}
		}
	}
	realURL := "http://hookuser:" + urlPass + "@192.0.2.10:8123/hook"
	realHeaders := map[string]string{
		"Authorization": bearer, "X-Api-Key": apiKeyVal, "Cookie": cookie, "X-Session-Id": session, "X-Plain": "visible",
	}
	wantView := func(what string, wh map[string]any) {
		t.Helper()
		if wh["url"] != "http://hookuser:xxxxx@192.0.2.10:8123/hook" {
			t.Errorf("%s: url %v", what, wh["url"])
		}
		want := map[string]string{"Authorization": "xxxxx", "X-Api-Key": "xxxxx", "Cookie": "xxxxx", "X-Session-Id": "xxxxx", "X-Plain": "visible"}
		if !equalJSON(wh["headers"], want) {
			t.Errorf("%s: headers %v, want %v", what, wh["headers"], want)
		}
	}
	stored := func() instance.Webhook {
		t.Helper()
		row, err := e.st.GetInstance(context.Background(), "m")
		if err != nil {
			t.Fatal(err)
		}
		var w instance.Webhook
		if err := json.Unmarshal(row.Webhook, &w); err != nil {
			t.Fatal(err)
		}
		return w
	}

	const proxyURL = "socks5://pxuser:proxy-pass-d17@10.0.0.3:1080"
	r := e.call("POST", "/v1/instances", adminKey, map[string]any{"name": "m", "proxy": map[string]any{"url": proxyURL},
		"webhook": map[string]any{"url": realURL, "headers": realHeaders, "enabled": false}})
	wantStatus(t, r, http.StatusCreated)
	noLeak(r)
	wantView("create", r.obj(t)["instance"].(map[string]any)["webhook"].(map[string]any))
	token := r.obj(t)["token"].(string)

	r = e.call("GET", "/v1/instances/m", token, nil)
	wantStatus(t, r, http.StatusOK)
	noLeak(r)
	got := r.obj(t)["instance"].(map[string]any)["webhook"].(map[string]any)
	wantView("GET", got)
	for _, key := range []string{adminKey, token} {
		r := e.call("GET", "/v1/instances", key, nil)
		wantStatus(t, r, http.StatusOK)
		noLeak(r)
	}

	// GET → edit → PATCH with the masked values sent back unchanged.
	got["events"] = []string{"message.received"}
	delete(got, "has_secret")
	px := r.obj(t)["instance"].(map[string]any)["proxy"]
	r = e.call("PATCH", "/v1/instances/m", token, map[string]any{"webhook": got, "proxy": px})
	wantStatus(t, r, http.StatusOK)
	noLeak(r)
	wantView("PATCH", r.obj(t)["instance"].(map[string]any)["webhook"].(map[string]any))
	if w := stored(); w.URL != realURL || !equalJSON(w.Headers, realHeaders) || !equalJSON(w.Events, []string{"message.received"}) {
		t.Fatalf("the round trip clobbered the stored webhook: %+v", w)
	}
	if row, _ := e.st.GetInstance(context.Background(), "m"); row.ProxyURL != proxyURL {
		t.Fatalf("the round trip clobbered the proxy password: %q", row.ProxyURL)
	}

	// New values replace the stored ones (and are masked in turn).
	r = e.call("PATCH", "/v1/instances/m", token, map[string]any{"webhook": map[string]any{
		"url": "https://other:new-pass-5e@192.0.2.11/h", "headers": map[string]string{"Authorization": "Bearer new-bearer-31"}}})
	wantStatus(t, r, http.StatusOK)
	if strings.Contains(string(r.body), "new-pass-5e") || strings.Contains(string(r.body), "new-bearer-31") {
		t.Fatalf("PATCH leaks the new secrets: %s", r.body)
	}
	if w := stored(); w.URL != "https://other:new-pass-5e@192.0.2.11/h" || w.Headers["Authorization"] != "Bearer new-bearer-31" {
		t.Fatalf("stored after a change: %+v", w)
	}
	// The masked form of another URL's credentials is not a way to keep them.
	r = e.call("PATCH", "/v1/instances/m", token, map[string]any{"webhook": map[string]any{"url": "https://third:xxxxx@192.0.2.12/h"}})
	wantStatus(t, r, http.StatusOK)
	if w := stored(); w.URL != "https://third:xxxxx@192.0.2.12/h" {
		t.Fatalf("stored after a new host: %+v", w)
	}
}

// TestDeliveryHeadersRefused: a request carrying meowgate's own webhook
// delivery headers is refused before authentication with 400 webhook_loop,
// whatever the route and key.
func TestDeliveryHeadersRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	token, _ := e.create("d", nil)
	for _, h := range []string{"X-Meowgate-Delivery", "x-meowgate-event", "X-MEOWGATE-SIGNATURE"} {
		for _, c := range []struct{ method, path, key string }{
			{"POST", "/v1/instances/d/restart", token},
			{"POST", "/v1/instances/d/restart", ""},
			{"GET", "/v1/instances", adminKey},
			{"GET", "/healthz", ""},
			{"GET", "/no/such/route", ""},
		} {
			r := e.send(t, req{method: c.method, path: c.path, key: c.key, header: map[string]string{h: "1"}})
			m := wantErr(t, r, http.StatusBadRequest, "webhook_loop")
			if msg, _ := m["message"].(string); !strings.Contains(msg, "webhook") {
				t.Errorf("%s with %s: message %q", r.req, h, msg)
			}
		}
	}
	// Other X-Meowgate-like headers are not deliveries.
	wantStatus(t, e.send(t, req{method: "GET", path: "/v1/instances/d", key: token, header: map[string]string{"X-Meowgate-Other": "1"}}), http.StatusOK)
	if info, err := e.m.Get("d"); err != nil || info.State != event.StateCreated {
		t.Fatalf("the refused restart ran: %+v %v", info, err)
	}
}
