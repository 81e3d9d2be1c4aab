package api_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
)

func settingsOf(t *testing.T, r *res) map[string]any {
	t.Helper()
	wantStatus(t, r, http.StatusOK)
	return r.obj(t)
}

// TestSettingsPartialMerge: PATCH changes only the fields it names.
func TestSettingsPartialMerge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	token, _ := e.create("s", nil)

	s0 := settingsOf(t, e.call("GET", "/v1/instances/s/settings", token, nil))
	if s0["send_delay_ms"] != 1000.0 || s0["queue_ttl"] != "24h" || s0["mark_read"] != false || s0["send_jitter_ms"] != 0.0 {
		t.Fatalf("default settings %v", s0)
	}
	for _, k := range []string{"reject_calls", "reject_call_message", "ignore_groups", "ignore_broadcasts", "always_online",
		"mark_read", "mark_read_on_reply", "read_status", "sync_full_history", "send_delay_ms", "send_jitter_ms",
		"typing_simulation", "queue_ttl"} {
		if _, ok := s0[k]; !ok {
			t.Errorf("settings lack %q", k)
		}
	}

	step := func(patch map[string]any, prev map[string]any) map[string]any {
		t.Helper()
		got := settingsOf(t, e.call("PATCH", "/v1/instances/s/settings", token, patch))
		want := maps.Clone(prev)
		maps.Copy(want, patch)
		if !equalJSON(got, want) {
			t.Fatalf("PATCH %v:\n got  %v\n want %v", patch, got, want)
		}
		if again := settingsOf(t, e.call("GET", "/v1/instances/s/settings", token, nil)); !equalJSON(again, want) {
			t.Fatalf("GET after PATCH %v: %v", patch, again)
		}
		return got
	}
	s1 := step(map[string]any{"mark_read": true}, s0)
	s2 := step(map[string]any{"send_delay_ms": 250.0}, s1)
	s3 := step(map[string]any{"queue_ttl": "2h", "reject_call_message": "busy", "reject_calls": true}, s2)
	s4 := step(map[string]any{}, s3)
	s5 := step(map[string]any{"send_delay_ms": 0.0, "mark_read": false}, s4)

	// The instance object shows the same settings.
	r := e.call("GET", "/v1/instances/s", token, nil)
	wantStatus(t, r, http.StatusOK)
	if got := r.obj(t)["instance"].(map[string]any)["settings"].(map[string]any); !equalJSON(got, s5) {
		t.Fatalf("instance settings %v, want %v", got, s5)
	}
	// PATCH of the instance merges settings the same way.
	r = e.call("PATCH", "/v1/instances/s", token, map[string]any{"settings": map[string]any{"always_online": true}})
	wantStatus(t, r, http.StatusOK)
	s6 := maps.Clone(s5)
	s6["always_online"] = true
	if got := r.obj(t)["instance"].(map[string]any)["settings"].(map[string]any); !equalJSON(got, s6) {
		t.Fatalf("instance PATCH settings %v, want %v", got, s6)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestWebhookAndProxy: the webhook secret is write-only and the proxy
// password is masked in every response.
func TestWebhookAndProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const secret, password = "s3cr3t-webhook-value", "hunter2-proxy-pass"
	noLeak := func(r *res) {
		t.Helper()
		for _, s := range []string{secret, password} {
			if strings.Contains(string(r.body), s) {
				t.Fatalf("%s leaks %q: %s", r.req, s, r.body)
			}
		}
	}
	r := e.call("POST", "/v1/instances", adminKey, map[string]any{"name": "w",
		"proxy": map[string]any{"url": "http://bob:" + password + "@10.0.0.1:3128"}})
	wantStatus(t, r, http.StatusCreated)
	noLeak(r)
	token := r.obj(t)["token"].(string)
	view := func(r *res) (webhook, proxy map[string]any) {
		t.Helper()
		wantStatus(t, r, http.StatusOK)
		noLeak(r)
		in := r.obj(t)["instance"].(map[string]any)
		webhook = in["webhook"].(map[string]any)
		if _, ok := webhook["secret"]; ok {
			t.Fatalf("%s shows a secret field: %v", r.req, webhook)
		}
		return webhook, in["proxy"].(map[string]any)
	}

	wh, px := view(e.call("GET", "/v1/instances/w", token, nil))
	if wh["has_secret"] != false || wh["url"] != "" || wh["enabled"] != false {
		t.Fatalf("initial webhook %v", wh)
	}
	if px["url"] != "http://bob:xxxxx@10.0.0.1:3128" {
		t.Fatalf("proxy %v", px)
	}

	wh, _ = view(e.call("PATCH", "/v1/instances/w", token, map[string]any{"webhook": map[string]any{
		"url": "http://192.168.1.20:8123/api/webhook/x", "secret": secret, "events": []string{"message.received"},
		"headers": map[string]string{"X-Home": "1"},
	}}))
	if wh["has_secret"] != true || wh["enabled"] != true || wh["url"] != "http://192.168.1.20:8123/api/webhook/x" ||
		!equalJSON(wh["events"], []string{"message.received"}) || !equalJSON(wh["headers"], map[string]string{"X-Home": "1"}) {
		t.Fatalf("webhook after PATCH %v", wh)
	}
	// A later partial change keeps the URL and the secret.
	wh, _ = view(e.call("PATCH", "/v1/instances/w", token, map[string]any{"webhook": map[string]any{"enabled": false}}))
	if wh["has_secret"] != true || wh["enabled"] != false || wh["url"] != "http://192.168.1.20:8123/api/webhook/x" {
		t.Fatalf("webhook after disabling %v", wh)
	}
	// https is fine too; the secret can be cleared.
	wh, _ = view(e.call("PATCH", "/v1/instances/w", token, map[string]any{"webhook": map[string]any{"url": "https://hooks.example/x", "secret": ""}}))
	if wh["has_secret"] != false || wh["url"] != "https://hooks.example/x" {
		t.Fatalf("webhook after clearing the secret %v", wh)
	}
	view(e.call("PATCH", "/v1/instances/w", token, map[string]any{"webhook": map[string]any{"secret": secret}}))

	// Proxies: socks5 with a password, masked; an empty URL removes it.
	_, px = view(e.call("PATCH", "/v1/instances/w", token, map[string]any{"proxy": map[string]any{"url": "socks5://alice:" + password + "@10.0.0.2:1080"}}))
	if px["url"] != "socks5://alice:xxxxx@10.0.0.2:1080" {
		t.Fatalf("proxy %v", px)
	}
	wh, _ = view(e.call("PATCH", "/v1/instances/w", token, map[string]any{"device_name": "Hall"}))
	if wh["has_secret"] != true {
		t.Fatal("an unrelated PATCH dropped the secret")
	}
	for _, r := range []*res{
		e.call("GET", "/v1/instances", adminKey, nil),
		e.call("GET", "/v1/instances", token, nil),
		e.call("GET", "/v1/instances/w/events?after=0", token, nil),
	} {
		wantStatus(t, r, http.StatusOK)
		noLeak(r)
	}
	_, px = view(e.call("PATCH", "/v1/instances/w", token, map[string]any{"proxy": map[string]any{"url": ""}}))
	if px["url"] != "" {
		t.Fatalf("proxy after removal %v", px)
	}
}
