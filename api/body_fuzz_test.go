package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meowgate/meowgate/api"
	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/store"
	"github.com/meowgate/meowgate/wasim"
)

// The fuzz targets send bodies and queries through the real handler, with a
// real Manager over a SQLite file and a real simulator behind the sandbox
// routes, and check the contract rather than just "no panic": never a 5xx;
// a 4xx is the JSON error shape with a stable code that fits the status; a
// 2xx carries back what the body set.

// fuzzEnv is one handler per fuzz process, with an unlinked instance
// "victim" (never connected, so bodies only meet validation and storage).
type fuzzEnv struct {
	h      http.Handler
	m      *instance.Manager
	sentID string // a message of victim's, for reply_to
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	f.Helper()
	ctx := context.Background()
	sim, err := wasim.New(ctx, wasim.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { sim.Close() })
	st, err := store.Open(ctx, filepath.Join(f.TempDir(), "meowgate.db"), testLog())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	// HTTPClient: "connect": true in a create body dials the simulator.
	m, err := instance.NewManager(ctx, instance.Options{Store: st, Log: testLog(), HTTPClient: sim.HTTPClient(), QRWait: 10 * time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(m.Close)
	if _, _, _, err := m.Create(ctx, instance.CreateParams{Name: "victim"}); err != nil {
		f.Fatal(err)
	}
	msg, _, err := m.Send(ctx, "victim", instance.SendParams{To: "+4915123456789", Text: "first"}, "")
	if err != nil {
		f.Fatal(err)
	}
	h := api.New(api.Options{
		Manager: m, Log: testLog(), AdminKey: adminKey, MaxBodyBytes: 64 << 10,
		RateLimit: 1e9, RateBurst: 1e9, CreatePerMinute: 1e9, AuthFailBurst: 1e9,
		Sandbox: wasim.Local(sim),
	})
	return &fuzzEnv{h: h, m: m, sentID: msg.ID}
}

// serve runs one admin request through the handler.
func (e *fuzzEnv) serve(method, path, body string, header map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+adminKey)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// codesByStatus are the stable error codes each status may carry.
var codesByStatus = map[int][]string{
	400: {"bad_request", "webhook_loop"},
	404: {"not_found"},
	409: {"conflict", "already_connected", "not_connected", "not_paired", "not_awaiting_qr", "not_editable"},
	413: {"too_large"},
	422: {"invalid", "idempotency_mismatch"},
	507: {"storage_full"},
}

// checkReply fails on a 5xx or a malformed error, and returns a 2xx body
// decoded (nil for an empty body) or nil for an error.
func checkReply(t *testing.T, what string, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	body := w.Body.Bytes()
	if w.Code >= 500 {
		t.Fatalf("%s: %d %s", what, w.Code, body)
	}
	if w.Code >= 200 && w.Code < 300 {
		if len(body) == 0 || strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream") {
			return nil
		}
		var obj map[string]any
		if err := json.Unmarshal(body, &obj); err != nil {
			t.Fatalf("%s: %d with a body that is not a JSON object: %v\n%s", what, w.Code, err, body)
		}
		return obj
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: %d with Content-Type %q", what, w.Code, ct)
	}
	var e struct {
		Error *struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(&e); err != nil || e.Error == nil || e.Error.Message == "" {
		t.Fatalf("%s: %d is not the error shape (%v): %s", what, w.Code, err, body)
	}
	allowed, ok := codesByStatus[w.Code]
	if !ok || !contains(allowed, e.Error.Code) {
		t.Fatalf("%s: status %d with code %q: %s", what, w.Code, e.Error.Code, body)
	}
	if w.Code == 422 && len(e.Error.Fields) == 0 {
		t.Fatalf("%s: 422 names no field: %s", what, body)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sameJSON reports whether got carries every value of want: objects are
// compared key by key (as encoding/json matches fields, ignoring case; a
// key given twice in different cases is skipped), arrays element by
// element, and null in want means "left as it was".
func sameJSON(want, got any) bool {
	switch w := want.(type) {
	case nil:
		return true
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		folded := map[string]int{}
		for k := range w {
			folded[strings.ToLower(k)]++
		}
		for k, v := range w {
			if folded[strings.ToLower(k)] > 1 {
				continue
			}
			gv, found := g[k]
			for gk, x := range g {
				if !found && strings.EqualFold(gk, k) {
					gv, found = x, true
				}
			}
			if !found || !sameJSON(v, gv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !sameJSON(w[i], g[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(want, got)
	}
}

// field looks a key up the way encoding/json matches a struct field.
func field(obj map[string]any, name string) (any, bool) {
	if v, ok := obj[name]; ok {
		return v, true
	}
	var out any
	found := false
	for k, v := range obj {
		if strings.EqualFold(k, name) {
			if found {
				return nil, false // ambiguous: which one wins depends on order
			}
			out, found = v, true
		}
	}
	return out, found
}

// checkInstance checks that the instance in a 2xx reply carries what the
// create or patch body set.
func checkInstance(t *testing.T, body string, inst map[string]any) {
	t.Helper()
	var in map[string]any
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatalf("2xx for a body that is not a JSON object: %v", err)
	}
	for _, k := range []string{"name", "device_name", "phone"} {
		v, ok := field(in, k)
		if k == "device_name" && v == "" && inst[k] != "" {
			continue // no name of its own: the gateway's default is shown
		}
		if ok && !sameJSON(v, inst[k]) {
			t.Fatalf("%s: sent %#v, got %#v", k, v, inst[k])
		}
	}
	if v, ok := field(in, "settings"); ok && !sameJSON(v, inst["settings"]) {
		t.Fatalf("settings: sent %v, got %v", v, inst["settings"])
	}
	if v, ok := field(in, "webhook"); ok && v != nil {
		hook := map[string]any{}
		for k, x := range v.(map[string]any) {
			hook[k] = x
		}
		if s, ok := field(hook, "secret"); ok {
			for k := range hook {
				if strings.EqualFold(k, "secret") {
					delete(hook, k)
				}
			}
			got := inst["webhook"].(map[string]any)["has_secret"]
			if s, isStr := s.(string); isStr && got != (s != "") {
				t.Fatalf("webhook.has_secret = %v after secret %q", got, s)
			}
		}
		// Credentials in the URL and sensitive header values come back masked.
		for k, x := range hook {
			switch {
			case strings.EqualFold(k, "url"):
				if u, isStr := x.(string); isStr {
					hook[k] = instance.MaskURL(u)
				}
			case strings.EqualFold(k, "headers"):
				if hs, isMap := x.(map[string]any); isMap {
					masked := map[string]any{}
					for name, val := range hs {
						if s, isStr := val.(string); isStr && s != "" && instance.SensitiveHeader(name) {
							val = instance.Mask
						}
						masked[name] = val
					}
					hook[k] = masked
				}
			}
		}
		if !sameJSON(hook, inst["webhook"]) {
			t.Fatalf("webhook: sent %v, got %v", v, inst["webhook"])
		}
	}
	if v, ok := field(in, "proxy"); ok && v != nil {
		if u, ok := field(v.(map[string]any), "url"); ok && u != nil {
			if got := inst["proxy"].(map[string]any)["url"]; got != instance.MaskURL(u.(string)) {
				t.Fatalf("proxy.url: sent %q, got %q", u, got)
			}
		}
	}
}

var instanceSeeds = []string{
	`{"name":"fz","device_name":"Kitchen","phone":"+4915123456789"}`,
	`{"name":"fz","settings":{"send_delay_ms":500,"mark_read":true,"queue_ttl":"1h"},"webhook":{"url":"http://192.168.1.10/hook","secret":"s3cr3t","events":["message.received"],"headers":{"X-Token":"t"}},"proxy":{"url":"socks5://u:p@10.0.0.1:1080"}}`,
	`{"name":"fz","connect":true}`,
	`{"name":"victim"}`,
	`{"name":"a b","phone":"0151","connect":"yes"}`,
	`{"Name":"fz","SETTINGS":{"Mark_Read":true},"Webhook":{"URL":"https://h/x","Enabled":false}}`,
	`{"name":"fz","settings":{"send_delay_ms":1e3}}`,
	`{"name":"fz","settings":{"send_delay_ms":-1,"queue_ttl":"1000h","colour":"red"}}`,
	`{"name":"fz","webhook":{"url":"ftp://x","headers":{"Host":"h","X-Meowgate-Event":"x"},"events":["nope"]}}`,
	`{"name":"fz","webhook":null,"proxy":{"url":null},"settings":null}`,
	`{"name":"fz","proxy":{"url":"http://"}}`,
	`{"name":"fz","webhook":{"headers":{"a":null}}}`,
	`{"name":"fz","device_name":"x"} {"name":"y"}`,
	`[]`, `"x"`, `null`, ``, `{"name":`, `{"name":"fz",}`, "\xff",
}

// FuzzCreateInstance posts create bodies; a created instance is deleted
// again so names stay free.
func FuzzCreateInstance(f *testing.F) {
	e := newFuzzEnv(f)
	for _, s := range instanceSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		w := e.serve("POST", "/v1/instances", body, nil)
		obj := checkReply(t, "create", w)
		if obj == nil {
			return
		}
		if w.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", w.Code, w.Body)
		}
		inst := obj["instance"].(map[string]any)
		name := inst["name"].(string)
		t.Cleanup(func() {
			if d := e.serve("DELETE", "/v1/instances/"+name, "", nil); d.Code != http.StatusNoContent {
				t.Errorf("delete %s: %d %s", name, d.Code, d.Body)
			}
		})
		if tok, _ := obj["token"].(string); tok == "" {
			t.Fatalf("create: no token: %s", w.Body)
		}
		checkInstance(t, body, inst)
	})
}

// FuzzUpdateInstance patches victim; the changes accumulate across inputs,
// which is fine: each 2xx must carry what its own body set.
func FuzzUpdateInstance(f *testing.F) {
	e := newFuzzEnv(f)
	for _, s := range instanceSeeds {
		f.Add(strings.Replace(s, `"name":"fz",`, ``, 1))
	}
	f.Add(`{"device_name":null}`)
	f.Add(`{"device_name":"` + strings.Repeat("d", 65) + `"}`)
	f.Fuzz(func(t *testing.T, body string) {
		w := e.serve("PATCH", "/v1/instances/victim", body, nil)
		if obj := checkReply(t, "patch", w); obj != nil {
			checkInstance(t, body, obj["instance"].(map[string]any))
		}
	})
}

// FuzzInstanceWebhook and FuzzInstanceProxy fuzz the nested webhook and
// proxy objects of a patch (the same decoder serves create).
func FuzzInstanceWebhook(f *testing.F) {
	e := newFuzzEnv(f)
	for _, s := range []string{
		`{"url":"https://example.com/hook","secret":"s","headers":{"X-A":"1"},"events":["message.received","instance.state"],"include_media":true}`,
		`{"url":"","enabled":true}`, `{"enabled":false}`, `{"url":"http://h","headers":{"Content-Type":"x"}}`,
		`{"url":"http://h","headers":{"X-A":"a\r\nb"}}`, `{"url":"http://h","secret":"` + strings.Repeat("s", 257) + `"}`,
		`{"events":null,"headers":null}`, `{"headers":{"":"x"}}`, `{"url":5}`, `{"uri":"x"}`, `[]`, `null`, `"x"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, hook string) {
		body := `{"webhook":` + hook + `}`
		w := e.serve("PATCH", "/v1/instances/victim", body, nil)
		if obj := checkReply(t, "patch webhook", w); obj != nil {
			checkInstance(t, body, obj["instance"].(map[string]any))
		}
	})
}

func FuzzInstanceProxy(f *testing.F) {
	e := newFuzzEnv(f)
	for _, s := range []string{
		`{"url":"socks5://u:p@127.0.0.1:1080"}`, `{"url":"http://proxy:3128"}`, `{"url":""}`, `{"url":null}`,
		`{"url":"ftp://x"}`, `{"url":"http://"}`, `{"url":"http://u:p%zz@h"}`, `{"url":1}`, `{"host":"x"}`, `{}`, `[]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, proxy string) {
		body := `{"proxy":` + proxy + `}`
		w := e.serve("PATCH", "/v1/instances/victim", body, nil)
		if obj := checkReply(t, "patch proxy", w); obj != nil {
			checkInstance(t, body, obj["instance"].(map[string]any))
		}
	})
}

// FuzzUpdateSettings patches victim's settings; a 200 carries what the
// body set, and sending the returned settings back changes nothing.
func FuzzUpdateSettings(f *testing.F) {
	e := newFuzzEnv(f)
	for _, s := range []string{
		`{"send_delay_ms":500,"send_jitter_ms":100,"mark_read":true,"queue_ttl":"2h","reject_calls":true,"reject_call_message":"busy"}`,
		`{"always_online":true,"ignore_groups":true,"ignore_broadcasts":true,"mark_read_on_reply":true,"read_status":true,"sync_full_history":true,"typing_simulation":true}`,
		`{"send_delay_ms":86400001}`, `{"send_delay_ms":-1}`, `{"send_delay_ms":1.5}`, `{"send_delay_ms":"1"}`,
		`{"queue_ttl":"0s"}`, `{"queue_ttl":"721h"}`, `{"queue_ttl":5}`, `{"mark_read":null}`, `{"Mark_Read":true}`,
		`{"colour":"red"}`, `{}`, ``, `[]`, `{"mark_read":tru}`, `{"send_delay_ms":9223372036854775808}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		w := e.serve("PATCH", "/v1/instances/victim/settings", body, nil)
		obj := checkReply(t, "settings", w)
		if obj == nil {
			return
		}
		var in any
		if err := json.Unmarshal([]byte(body), &in); err != nil || !sameJSON(in, obj) {
			t.Fatalf("settings: sent %s, got %s", body, w.Body)
		}
		again := e.serve("PATCH", "/v1/instances/victim/settings", w.Body.String(), nil)
		if again.Code != http.StatusOK || again.Body.String() != w.Body.String() {
			t.Fatalf("settings sent back: %d %s, want 200 %s", again.Code, again.Body, w.Body)
		}
	})
}

// FuzzSendMessage posts message bodies of every type with an optional
// Idempotency-Key. A body starting with "--" is sent as multipart/form-data
// with the boundary "fz" (fields, and the file in the part "file").
func FuzzSendMessage(f *testing.F) {
	e := newFuzzEnv(f)
	soon := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, s := range []string{
		`{"to":"+4915123456789","text":"hi"}`,
		`{"to":"4915123456789@s.whatsapp.net","type":"text","text":"hi","reply_to":"` + e.sentID + `"}`,
		`{"to":"120363025246125486@g.us","text":"later","send_at":"` + soon + `"}`,
		`{"to":"123456789@lid","text":"x","send_at":"2001-01-01T00:00:00Z"}`,
		`{"to":"+4915123456789","text":"x","send_at":"tomorrow"}`,
		`{"to":"+4915123456789","text":"x","send_at":"2999-01-01T00:00:00+02:00"}`,
		`{"to":"+0151","type":"image","text":" "}`,
		`{"to":"4915123456789:2@s.whatsapp.net","text":"x","reply_to":"nope"}`,
		`{"to":"+4915123456789","text":"x","mentions":["+4915123456789"]}`,
		`{"to":5,"text":true}`, `{"To":" +4915123456789 ","TEXT":"case"}`, `{}`, `[]`, ``,
		`{"to":"+4915123456789","type":"image","url":"http://192.0.2.1/a.jpg","caption":"c","view_once":true}`,
		`{"to":"+4915123456789","type":"audio","base64":"T2dnUw==","mimetype":"audio/ogg","ptt":true}`,
		`{"to":"+4915123456789","type":"document","base64":"JVBERi0=","file_name":"a.pdf","url":"http://192.0.2.1/a"}`,
		`{"to":"+4915123456789","type":"location","latitude":52.52,"longitude":13.4,"name":"n","address":"a"}`,
		`{"to":"+4915123456789","type":"location","latitude":91,"longitude":"x"}`,
		`{"to":"+4915123456789","type":"contact","contacts":[{"name":"Ann","phone":"+4915100000001"}]}`,
		`{"to":"+4915123456789","type":"contact","contacts":[{"name":"Ann","mail":"x"}],"vcard":"BEGIN:VCARD"}`,
		`{"to":"+4915123456789","type":"reaction","message_id":"` + e.sentID + `","emoji":""}`,
		`{"to":"+4915123456789","type":"reaction","message_id":"x","emoji":null}`,
		`{"to":"+4915123456789","type":"poll","question":"?","options":["a","b","a"],"selectable":3}`,
		`{"to":"+4915123456789","type":"sticker","base64":"UklGRg==","mentions":[1]}`,
		multipartSeed("to", "+4915123456789", "text", "hi"),
		multipartSeed("to", "+4915123456789", "type", "document", "caption", "c", "file", "%PDF-1.4 x"),
		multipartSeed("to", "+4915123456789", "type", "location", "latitude", "north", "ptt", "maybe"),
		multipartSeed("to", "+4915123456789", "type", "document", "file", "x", "caption", "late"),
		multipartSeed("to", "+4915123456789", "type", "poll", "options", "a", "options", "b", "selectable", "1"),
		"--fz\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n+49", // cut off
	} {
		f.Add(s, "")
	}
	f.Add(`{"to":"+4915123456789","text":"idem"}`, "key-1")
	f.Add(`{"to":"+4915123456789","text":"other body, same key"}`, "key-1")
	f.Add(`{"to":"+4915123456789","text":"x"}`, strings.Repeat("k", 201))
	f.Fuzz(func(t *testing.T, body, idem string) {
		var hdr map[string]string
		if idem = strings.Trim(idem, " \t"); idem != "" {
			if !validHeaderValue(idem) {
				return // a server never sees this header
			}
			hdr = map[string]string{"Idempotency-Key": idem}
		}
		multi := strings.HasPrefix(body, "--")
		if multi {
			if hdr == nil {
				hdr = map[string]string{}
			}
			hdr["Content-Type"] = "multipart/form-data; boundary=fz"
		}
		w := e.serve("POST", "/v1/instances/victim/messages", body, hdr)
		obj := checkReply(t, "send", w)
		if obj == nil {
			return
		}
		if w.Code != http.StatusAccepted {
			t.Fatalf("send: %d %s", w.Code, w.Body)
		}
		msg := obj["message"].(map[string]any)
		id, _ := msg["id"].(string)
		if g := e.serve("GET", "/v1/instances/victim/messages/"+id, "", nil); g.Code != http.StatusOK {
			t.Fatalf("accepted message %q cannot be read back: %d %s", id, g.Code, g.Body)
		}
		if w.Header().Get("Idempotent-Replayed") == "true" || multi {
			return // the first message with this key, whatever this body says
		}
		var in struct {
			To      string `json:"to"`
			Type    string `json:"type"`
			Text    string `json:"text"`
			ReplyTo string `json:"reply_to"`
			SendAt  string `json:"send_at"`
		}
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			t.Fatalf("202 for a body that does not decode: %v", err)
		}
		if in.Type == "" {
			in.Type = "text"
		}
		if msg["type"] != in.Type {
			t.Fatalf("type: sent %q, got %v", in.Type, msg["type"])
		}
		if in.Type != "text" {
			in.Text, _ = msg["text"].(string) // captions and the like are the domain's to place
		}
		chat, err := instance.ChatJID(in.To)
		if err != nil || msg["chat"] != chat || msg["to"] != in.To || msg["text"] != in.Text {
			t.Fatalf("sent %s, got %s (chat %q, %v)", body, w.Body, chat, err)
		}
		if rt, _ := msg["reply_to"].(string); rt != in.ReplyTo {
			t.Fatalf("reply_to: sent %q, got %q", in.ReplyTo, rt)
		}
		if in.SendAt != "" {
			want, _ := time.Parse(time.RFC3339, in.SendAt)
			got, err := time.Parse(time.RFC3339Nano, msg["send_at"].(string))
			if err != nil || !got.Equal(want) {
				t.Fatalf("send_at: sent %q, got %v", in.SendAt, msg["send_at"])
			}
		}
	})
}

// multipartSeed is a multipart/form-data body with the boundary "fz" of
// name, value pairs; the pair named "file" is a file part.
func multipartSeed(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString("--fz\r\nContent-Disposition: form-data; name=\"" + kv[i] + "\"")
		if kv[i] == "file" {
			b.WriteString("; filename=\"f.bin\"\r\nContent-Type: application/octet-stream")
		}
		b.WriteString("\r\n\r\n" + kv[i+1] + "\r\n")
	}
	b.WriteString("--fz--\r\n")
	return b.String()
}

// validHeaderValue reports whether a request with this header value could
// reach the server (net/http refuses control characters).
func validHeaderValue(v string) bool {
	for _, c := range []byte(v) {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// FuzzSandboxBodies posts the bodies of the sandbox routes (and pair-code,
// the other small body) for victim, which is not linked: valid bodies end
// in a 409, never in a 5xx.
func FuzzSandboxBodies(f *testing.F) {
	e := newFuzzEnv(f)
	for i, s := range []string{
		`{"phone":"+4915123456789"}`, `{}`, ``, `{"code":"ABCD-EFGH"}`, `{"code":""}`,
		`{"from":"+4915123456789","text":"hello","push_name":"Ann"}`, `{"from":"0151","text":""}`,
		`{"phone":"0151"}`, `{"phone":5}`, `{"extra":1}`, `[]`, `{"from":`,
	} {
		f.Add(uint8(i), s)
	}
	routes := []string{"scan", "enter-code", "incoming", "unlink", "kick"}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		path := "/v1/instances/victim/pair-code"
		if int(route)%(len(routes)+1) < len(routes) {
			path = "/v1/sandbox/instances/victim/" + routes[int(route)%(len(routes)+1)]
		}
		w := e.serve("POST", path, body, nil)
		checkReply(t, path, w)
		if w.Code < 300 {
			t.Fatalf("%s: %d for an unlinked instance: %s", path, w.Code, w.Body)
		}
	})
}
