package api_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meowgate/meowgate/api"
)

// TestBadInput sends malformed, unknown, oversize and invalid input and
// checks each documented status and code, and that nothing stored changed.
func TestBadInput(t *testing.T) {
	t.Parallel()
	// Messages may carry 512 bytes of media more (base64: 684 more bytes).
	e := newEnv(t, func(o *api.Options) { o.MaxBodyBytes, o.MaxUploadBytes = 1024, 512 })
	e.create("victim", map[string]any{
		"device_name": "Kitchen",
		"settings":    map[string]any{"send_delay_ms": 500, "mark_read": true},
		"webhook":     map[string]any{"url": "http://192.168.1.10/hook", "secret": "s3cr3t"},
		"proxy":       map[string]any{"url": "socks5://u:p@10.0.0.1:1080"},
	})
	before := e.call("GET", "/v1/instances/victim", adminKey, nil)
	wantStatus(t, before, http.StatusOK)
	row, err := e.st.GetInstance(context.Background(), "victim")
	if err != nil {
		t.Fatal(err)
	}

	big := `{"name":"big","device_name":"` + strings.Repeat("x", 2000) + `"}`
	cases := []struct {
		name, method, path string
		body               string
		status             int
		code               string
		fields             []string
	}{
		// Malformed JSON.
		{"create: syntax error", "POST", "/v1/instances", `{"name":`, 400, "bad_request", nil},
		{"create: not JSON", "POST", "/v1/instances", `name=x`, 400, "bad_request", nil},
		{"create: trailing data", "POST", "/v1/instances", `{"name":"y"} {"name":"z"}`, 400, "bad_request", nil},
		{"create: empty body", "POST", "/v1/instances", ``, 400, "bad_request", nil},
		{"create: array", "POST", "/v1/instances", `[]`, 400, "bad_request", nil},
		{"create: string", "POST", "/v1/instances", `"x"`, 400, "bad_request", nil},
		{"patch: array", "PATCH", "/v1/instances/victim", `[{"device_name":"x"}]`, 400, "bad_request", nil},
		{"patch: syntax error", "PATCH", "/v1/instances/victim", `{"device_name":"a",}`, 400, "bad_request", nil},
		{"settings: syntax error", "PATCH", "/v1/instances/victim/settings", `{"mark_read":tru}`, 400, "bad_request", nil},
		{"settings: empty body", "PATCH", "/v1/instances/victim/settings", ``, 400, "bad_request", nil},

		// Unknown fields: top level is 400 (the api decoder); inside settings,
		// webhook and proxy the instance package reports 422 with the path.
		{"create: unknown field", "POST", "/v1/instances", `{"name":"y","colour":"red"}`, 400, "bad_request", []string{"colour"}},
		{"patch: unknown field", "PATCH", "/v1/instances/victim", `{"colour":"red"}`, 400, "bad_request", []string{"colour"}},
		{"patch: name is not patchable", "PATCH", "/v1/instances/victim", `{"name":"renamed"}`, 400, "bad_request", []string{"name"}},
		{"create: unknown settings field", "POST", "/v1/instances", `{"name":"y","settings":{"colour":"red"}}`, 400, "bad_request", []string{"settings.colour"}},
		{"patch: unknown settings field", "PATCH", "/v1/instances/victim", `{"settings":{"colour":"red"}}`, 400, "bad_request", []string{"settings.colour"}},
		{"settings: unknown field", "PATCH", "/v1/instances/victim/settings", `{"colour":"red"}`, 400, "bad_request", []string{"colour"}},
		{"patch: unknown webhook field", "PATCH", "/v1/instances/victim", `{"webhook":{"uri":"http://x"}}`, 400, "bad_request", []string{"webhook.uri"}},

		// Names.
		{"name: missing", "POST", "/v1/instances", `{}`, 422, "invalid", []string{"name"}},
		{"name: empty", "POST", "/v1/instances", `{"name":""}`, 422, "invalid", []string{"name"}},
		{"name: 51 characters", "POST", "/v1/instances", `{"name":"` + strings.Repeat("n", 51) + `"}`, 422, "invalid", []string{"name"}},
		{"name: space", "POST", "/v1/instances", `{"name":"a b"}`, 422, "invalid", []string{"name"}},
		{"name: umlaut", "POST", "/v1/instances", `{"name":"ä"}`, 422, "invalid", []string{"name"}},
		{"name: slash", "POST", "/v1/instances", `{"name":"a/b"}`, 422, "invalid", []string{"name"}},
		{"name: number", "POST", "/v1/instances", `{"name":5}`, 422, "invalid", []string{"name"}},
		{"name: dot", "POST", "/v1/instances", `{"name":"."}`, 422, "invalid", []string{"name"}},
		{"name: dot dot", "POST", "/v1/instances", `{"name":".."}`, 422, "invalid", []string{"name"}},
		{"name: id form", "POST", "/v1/instances", `{"name":"ins_0123abcd"}`, 422, "invalid", []string{"name"}},
		{"name: taken", "POST", "/v1/instances", `{"name":"victim"}`, 409, "conflict", nil},
		{"create: bad phone", "POST", "/v1/instances", `{"name":"y","phone":"0151"}`, 422, "invalid", []string{"phone"}},
		{"create: connect not a boolean", "POST", "/v1/instances", `{"name":"y","connect":"yes"}`, 422, "invalid", []string{"connect"}},

		// Oversize bodies.
		{"create: too large", "POST", "/v1/instances", big, 413, "too_large", nil},
		{"patch: too large", "PATCH", "/v1/instances/victim", `{"device_name":"` + strings.Repeat("y", 2000) + `"}`, 413, "too_large", nil},
		{"settings: too large", "PATCH", "/v1/instances/victim/settings", `{"reject_call_message":"` + strings.Repeat("z", 2000) + `"}`, 413, "too_large", nil},

		// Invalid settings values.
		{"settings: send_delay_ms -1", "PATCH", "/v1/instances/victim/settings", `{"send_delay_ms":-1}`, 422, "invalid", []string{"send_delay_ms"}},
		{"settings: send_delay_ms too long", "PATCH", "/v1/instances/victim/settings", `{"send_delay_ms":86400001}`, 422, "invalid", []string{"send_delay_ms"}},
		{"settings: send_jitter_ms -5", "PATCH", "/v1/instances/victim/settings", `{"send_jitter_ms":-5}`, 422, "invalid", []string{"send_jitter_ms"}},
		{"settings: max_first_contacts_per_day -1", "PATCH", "/v1/instances/victim/settings", `{"max_first_contacts_per_day":-1}`, 422, "invalid", []string{"max_first_contacts_per_day"}},
		{"settings: queue_ttl forever", "PATCH", "/v1/instances/victim/settings", `{"queue_ttl":"forever"}`, 422, "invalid", []string{"queue_ttl"}},
		{"settings: queue_ttl 500ms", "PATCH", "/v1/instances/victim/settings", `{"queue_ttl":"500ms"}`, 422, "invalid", []string{"queue_ttl"}},
		{"settings: queue_ttl 721h", "PATCH", "/v1/instances/victim/settings", `{"queue_ttl":"721h"}`, 422, "invalid", []string{"queue_ttl"}},
		{"settings: string for a number", "PATCH", "/v1/instances/victim/settings", `{"send_delay_ms":"fast"}`, 422, "invalid", []string{"send_delay_ms"}},
		{"settings: string for a boolean", "PATCH", "/v1/instances/victim/settings", `{"reject_calls":"yes"}`, 422, "invalid", []string{"reject_calls"}},
		{"settings: number for a string", "PATCH", "/v1/instances/victim/settings", `{"queue_ttl":24}`, 422, "invalid", []string{"queue_ttl"}},
		{"settings: fraction", "PATCH", "/v1/instances/victim/settings", `{"send_delay_ms":1.5}`, 422, "invalid", []string{"send_delay_ms"}},
		{"settings: not an object", "PATCH", "/v1/instances/victim/settings", `[1]`, 422, "invalid", nil}, // fields key is "settings." (instance.decodeInto)
		{"patch: bad settings and a good name", "PATCH", "/v1/instances/victim", `{"device_name":"Hall","settings":{"send_delay_ms":-1}}`, 422, "invalid", []string{"settings.send_delay_ms"}},
		{"create: bad settings", "POST", "/v1/instances", `{"name":"y","settings":{"send_delay_ms":86400001,"queue_ttl":"forever"}}`, 422, "invalid", []string{"settings.send_delay_ms", "settings.queue_ttl"}},
		{"patch: device_name too long", "PATCH", "/v1/instances/victim", `{"device_name":"` + strings.Repeat("d", 65) + `"}`, 422, "invalid", []string{"device_name"}},

		// Webhook and proxy.
		{"patch: ftp webhook", "PATCH", "/v1/instances/victim", `{"webhook":{"url":"ftp://x"}}`, 422, "invalid", []string{"webhook.url"}},
		{"patch: webhook without host", "PATCH", "/v1/instances/victim", `{"webhook":{"url":"http://"}}`, 422, "invalid", []string{"webhook.url"}},
		{"patch: unknown webhook event", "PATCH", "/v1/instances/victim", `{"webhook":{"events":["message.exploded"]}}`, 422, "invalid", []string{"webhook.events"}},
		{"patch: bad webhook header", "PATCH", "/v1/instances/victim", `{"webhook":{"headers":{"a b":"c"}}}`, 422, "invalid", []string{"webhook.headers.a b"}},
		// Header names are RFC 9110 tokens, values have no control characters
		// (else every delivery fails with "invalid header field", retried 24 h).
		{"create: header name with parentheses", "POST", "/v1/instances", `{"name":"y","webhook":{"url":"http://192.0.2.1/h","headers":{"X(A)":"1"}}}`, 422, "invalid", []string{"webhook.headers.X(A)"}},
		{"patch: header name with a slash", "PATCH", "/v1/instances/victim", `{"webhook":{"headers":{"X/A":"1"}}}`, 422, "invalid", []string{"webhook.headers.X/A"}},
		{"patch: header name non-ASCII", "PATCH", "/v1/instances/victim", `{"webhook":{"headers":{"X-Ä":"1"}}}`, 422, "invalid", []string{"webhook.headers.X-Ä"}},
		{"patch: header value with NUL", "PATCH", "/v1/instances/victim", `{"webhook":{"headers":{"X-A":"a\u0000b"}}}`, 422, "invalid", []string{"webhook.headers.X-A"}},
		{"patch: header value with DEL", "PATCH", "/v1/instances/victim", `{"webhook":{"headers":{"X-A":"a\u007fb"}}}`, 422, "invalid", []string{"webhook.headers.X-A"}},
		{"patch: header value with ESC", "PATCH", "/v1/instances/victim", `{"webhook":{"headers":{"X-A":"a\u001bb"}}}`, 422, "invalid", []string{"webhook.headers.X-A"}},
		{"patch: header value with LF", "PATCH", "/v1/instances/victim", `{"webhook":{"headers":{"X-A":"a\nb"}}}`, 422, "invalid", []string{"webhook.headers.X-A"}},
		{"patch: our signature header", "PATCH", "/v1/instances/victim", `{"webhook":{"headers":{"x-meowgate-signature":"t=1"}}}`, 422, "invalid", []string{"webhook.headers.x-meowgate-signature"}},
		{"patch: our user agent", "PATCH", "/v1/instances/victim", `{"webhook":{"headers":{"USER-AGENT":"me"}}}`, 422, "invalid", []string{"webhook.headers.USER-AGENT"}},
		{"patch: our content type", "PATCH", "/v1/instances/victim", `{"webhook":{"headers":{"content-type":"text/plain"}}}`, 422, "invalid", []string{"webhook.headers.content-type"}},
		{"patch: host header", "PATCH", "/v1/instances/victim", `{"webhook":{"headers":{"Host":"x"}}}`, 422, "invalid", []string{"webhook.headers.Host"}},
		{"patch: webhook port too big", "PATCH", "/v1/instances/victim", `{"webhook":{"url":"http://192.0.2.1:99999/h"}}`, 422, "invalid", []string{"webhook.url"}},
		{"patch: webhook port zero", "PATCH", "/v1/instances/victim", `{"webhook":{"url":"http://192.0.2.1:0/h"}}`, 422, "invalid", []string{"webhook.url"}},
		{"patch: webhook empty port", "PATCH", "/v1/instances/victim", `{"webhook":{"url":"http://192.0.2.1:/h"}}`, 422, "invalid", []string{"webhook.url"}},
		{"patch: webhook port only", "PATCH", "/v1/instances/victim", `{"webhook":{"url":"http://:8080/h"}}`, 422, "invalid", []string{"webhook.url"}},
		{"create: ftp webhook", "POST", "/v1/instances", `{"name":"y","webhook":{"url":"ftp://x"}}`, 422, "invalid", []string{"webhook.url"}},
		{"patch: gopher proxy", "PATCH", "/v1/instances/victim", `{"proxy":{"url":"gopher://x"}}`, 422, "invalid", []string{"proxy.url"}},
		{"create: gopher proxy", "POST", "/v1/instances", `{"name":"y","proxy":{"url":"gopher://x"}}`, 422, "invalid", []string{"proxy.url"}},
		{"patch: several at once", "PATCH", "/v1/instances/victim", `{"settings":{"queue_ttl":"x"},"webhook":{"url":"ftp://x"},"proxy":{"url":"gopher://x"}}`, 422, "invalid", []string{"settings.queue_ttl", "webhook.url", "proxy.url"}},

		// Messages (nothing may be queued by these).
		{"message: syntax error", "POST", "/v1/instances/victim/messages", `{"to":`, 400, "bad_request", nil},
		{"message: unknown field", "POST", "/v1/instances/victim/messages", `{"to":"+4915100000001","text":"hi","colour":1}`, 400, "bad_request", []string{"colour"}},
		{"message: bad recipient", "POST", "/v1/instances/victim/messages", `{"to":"0151 123","text":"hi"}`, 422, "invalid", []string{"to"}},
		{"message: no recipient, no text", "POST", "/v1/instances/victim/messages", `{"type":"text"}`, 422, "invalid", []string{"to", "text"}},
		{"message: bad send_at", "POST", "/v1/instances/victim/messages", `{"to":"+4915100000001","text":"hi","send_at":"tomorrow"}`, 422, "invalid", []string{"send_at"}},
		{"message: too large", "POST", "/v1/instances/victim/messages", `{"to":"+4915100000001","text":"` + strings.Repeat("t", 2000) + `"}`, 413, "too_large", nil},
		{"message: base64 too large", "POST", "/v1/instances/victim/messages", `{"to":"+4915100000001","type":"image","base64":"` + strings.Repeat("QUJD", 500) + `"}`, 413, "too_large", nil},
		// Larger than MaxBodyBytes but within the media limit: decoded, and
		// judged on its fields.
		{"message: base64 within the media limit", "POST", "/v1/instances/victim/messages", `{"to":"0151","type":"image","base64":"` + strings.Repeat("QUJD", 300) + `"}`, 422, "invalid", []string{"to"}},
		{"message: mentions not a list", "POST", "/v1/instances/victim/messages", `{"to":"+4915100000001","text":"hi","mentions":"+4915100000002"}`, 422, "invalid", []string{"mentions"}},
		{"message: mention a number", "POST", "/v1/instances/victim/messages", `{"to":"+4915100000001","text":"hi","mentions":[4915100000002]}`, 422, "invalid", []string{"mentions"}},
		{"message: latitude a string", "POST", "/v1/instances/victim/messages", `{"to":"+4915100000001","type":"location","latitude":"52.5","longitude":13.4}`, 422, "invalid", []string{"latitude"}},
		{"message: longitude a boolean", "POST", "/v1/instances/victim/messages", `{"to":"+4915100000001","type":"location","latitude":52.5,"longitude":true}`, 422, "invalid", []string{"longitude"}},
		{"message: ptt a string", "POST", "/v1/instances/victim/messages", `{"to":"+4915100000001","type":"audio","url":"http://192.0.2.1/a.ogg","ptt":"yes"}`, 422, "invalid", []string{"ptt"}},
		{"message: view_once a number", "POST", "/v1/instances/victim/messages", `{"to":"+4915100000001","type":"image","url":"http://192.0.2.1/a.jpg","view_once":1}`, 422, "invalid", []string{"view_once"}},
		{"message: emoji a number", "POST", "/v1/instances/victim/messages", `{"to":"+4915100000001","type":"reaction","message_id":"x","emoji":1}`, 422, "invalid", []string{"emoji"}},
		{"message: contacts an object", "POST", "/v1/instances/victim/messages", `{"to":"+4915100000001","type":"contact","contacts":{"name":"Ann"}}`, 422, "invalid", []string{"contacts"}},
		{"message: contact with an unknown field", "POST", "/v1/instances/victim/messages", `{"to":"+4915100000001","type":"contact","contacts":[{"name":"Ann","email":"a@b"}]}`, 400, "bad_request", []string{"email"}},
		{"message: options a string", "POST", "/v1/instances/victim/messages", `{"to":"+4915100000001","type":"poll","question":"?","options":"a,b"}`, 422, "invalid", []string{"options"}},
		{"message: selectable a fraction", "POST", "/v1/instances/victim/messages", `{"to":"+4915100000001","type":"poll","question":"?","options":["a","b"],"selectable":1.5}`, 422, "invalid", []string{"selectable"}},
		{"message: base64 a number", "POST", "/v1/instances/victim/messages", `{"to":"+4915100000001","type":"image","base64":5}`, 422, "invalid", []string{"base64"}},
		{"message: bad multipart", "POST", "/v1/instances/victim/messages?multipart", "x", 400, "bad_request", nil},
		{"edit: no text", "PATCH", "/v1/instances/victim/messages/nope", `{}`, 422, "invalid", []string{"text"}},
		{"edit: text a number", "PATCH", "/v1/instances/victim/messages/nope", `{"text":5}`, 422, "invalid", []string{"text"}},
		{"edit: unknown field", "PATCH", "/v1/instances/victim/messages/nope", `{"text":"x","caption":"y"}`, 400, "bad_request", []string{"caption"}},
		{"edit: syntax error", "PATCH", "/v1/instances/victim/messages/nope", `{"text":`, 400, "bad_request", nil},
		{"edit: too large", "PATCH", "/v1/instances/victim/messages/nope", `{"text":"` + strings.Repeat("e", 2000) + `"}`, 413, "too_large", nil},
		{"revoke: bad for_everyone", "DELETE", "/v1/instances/victim/messages/nope?for_everyone=yes", "", 422, "invalid", []string{"for_everyone"}},
		{"messages: bad direction", "GET", "/v1/instances/victim/messages?direction=sideways", "", 422, "invalid", []string{"direction"}},
		{"messages: bad limit", "GET", "/v1/instances/victim/messages?limit=0", "", 422, "invalid", []string{"limit"}},
		{"messages: unknown before", "GET", "/v1/instances/victim/messages?before=zzz", "", 422, "invalid", []string{"before"}},
		{"message: unknown id", "GET", "/v1/instances/victim/messages/nope", "", 404, "not_found", nil},

		// Webhook deliveries.
		{"deliveries: bad status", "GET", "/v1/instances/victim/webhook/deliveries?status=lost", "", 422, "invalid", []string{"status"}},
		{"deliveries: bad limit", "GET", "/v1/instances/victim/webhook/deliveries?limit=0", "", 422, "invalid", []string{"limit"}},
		{"deliveries: unknown id", "POST", "/v1/instances/victim/webhook/deliveries/999/retry", "", 404, "not_found", nil},
		{"deliveries: bad id", "POST", "/v1/instances/victim/webhook/deliveries/abc/retry", "", 404, "not_found", nil},

		// Events queries.
		{"events: bad after", "GET", "/v1/instances/victim/events?after=abc", "", 422, "invalid", []string{"after"}},
		{"stream: unknown type", "GET", "/v1/events?types=bogus", "", 422, "invalid", []string{"types"}},
		{"stream: one unknown type", "GET", "/v1/events?types=instance.state,bogus", "", 422, "invalid", []string{"types"}},
		{"events: bad limit", "GET", "/v1/instances/victim/events?limit=0", "", 422, "invalid", []string{"limit"}},
	}
	for _, c := range cases {
		var body any
		if c.body != "" {
			body = c.body
		}
		rq := req{method: c.method, path: c.path, key: adminKey, body: body}
		if p, ok := strings.CutSuffix(c.path, "?multipart"); ok {
			rq.path, rq.header = p, map[string]string{"Content-Type": "multipart/form-data"} // no boundary
		}
		r := e.send(t, rq)
		errObj := wantErr(t, r, c.status, c.code)
		fields, _ := errObj["fields"].(map[string]any)
		for _, f := range c.fields {
			if msg, _ := fields[f].(string); msg == "" {
				t.Errorf("%s: fields lack %q: %s", c.name, f, r.body)
			}
		}
	}

	// Wrong methods and unknown routes.
	r := e.call("PUT", "/v1/instances/victim", adminKey, `{}`)
	wantErr(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	if a := r.header.Get("Allow"); a != "GET, PATCH, DELETE, HEAD" {
		t.Errorf("Allow %q", a)
	}
	r = e.call("DELETE", "/healthz", "", nil)
	wantErr(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	if a := r.header.Get("Allow"); a != "GET, HEAD" {
		t.Errorf("Allow %q", a)
	}
	r = e.call("GET", "/v1/instances/victim/connect", adminKey, nil)
	wantErr(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	if a := r.header.Get("Allow"); a != "POST" {
		t.Errorf("Allow %q", a)
	}
	for _, p := range []string{"/", "/v1", "/v1/nothing", "/v1/instances/victim/nothing", "/v2/instances", "/v1/instances/victim/connect/x"} {
		wantErr(t, e.call("GET", p, adminKey, nil), http.StatusNotFound, "not_found")
		wantErr(t, e.call("GET", p, "", nil), http.StatusNotFound, "not_found")
	}

	// Nothing was stored or changed.
	after := e.call("GET", "/v1/instances/victim", adminKey, nil)
	if !bytes.Equal(before.body, after.body) {
		t.Errorf("the instance changed:\nbefore %s\nafter  %s", before.body, after.body)
	}
	row2, err := e.st.GetInstance(context.Background(), "victim")
	if err != nil {
		t.Fatal(err)
	}
	if string(row2.Settings) != string(row.Settings) || string(row2.Webhook) != string(row.Webhook) ||
		row2.ProxyURL != row.ProxyURL || row2.DeviceName != row.DeviceName || !row2.UpdatedAt.Equal(row.UpdatedAt) {
		t.Errorf("the stored row changed:\nbefore %+v\nafter  %+v", row, row2)
	}
	for _, p := range []string{"/v1/instances/victim/messages", "/v1/instances/victim/queue"} {
		if r := e.call("GET", p, adminKey, nil); string(r.body) != "{\"messages\":[]}\n" {
			t.Errorf("GET %s after bad input: %s", p, r.body)
		}
	}
	list := e.call("GET", "/v1/instances", adminKey, nil)
	if n := len(list.obj(t)["instances"].([]any)); n != 1 {
		t.Errorf("%d instances after bad creations: %s", n, list.body)
	}
}

// TestIdempotencyMismatch: a key reused with the same message returns the
// first one; with a different message it is refused and nothing is queued.
func TestIdempotencyMismatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.create("idem", nil)
	post := func(key string, body map[string]any) *res {
		return e.send(t, req{method: "POST", path: "/v1/instances/idem/messages", key: adminKey, body: body,
			header: map[string]string{"Idempotency-Key": key}})
	}
	first := post("k1", map[string]any{"to": "+4915100000001", "text": "hello"})
	wantStatus(t, first, http.StatusAccepted)
	id := first.obj(t)["message"].(map[string]any)["id"]
	// The same message, the recipient written as its JID: the first message.
	again := post("k1", map[string]any{"to": "4915100000001@s.whatsapp.net", "text": "hello"})
	wantStatus(t, again, http.StatusAccepted)
	if got := again.obj(t)["message"].(map[string]any)["id"]; got != id || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: id %v (want %v), header %q", got, id, again.header.Get("Idempotent-Replayed"))
	}
	for _, body := range []map[string]any{
		{"to": "+4915100000001", "text": "goodbye"},
		{"to": "+4915100000002", "text": "hello"},
		{"to": "+4915100000001", "text": "hello", "send_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
	} {
		r := post("k1", body)
		obj := wantErr(t, r, http.StatusUnprocessableEntity, "idempotency_mismatch")
		if f, _ := obj["fields"].(map[string]any); f["Idempotency-Key"] == nil {
			t.Fatalf("fields lack Idempotency-Key: %s", r.body)
		}
	}
	q := e.call("GET", "/v1/instances/idem/queue", adminKey, nil)
	if n := len(q.obj(t)["messages"].([]any)); n != 1 {
		t.Fatalf("%d messages queued, want 1: %s", n, q.body)
	}
}
