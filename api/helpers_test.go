package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meowgate/meowgate/api"
	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/internal/oascheck"
	"github.com/meowgate/meowgate/store"
	"github.com/meowgate/meowgate/wasim"
	"github.com/meowgate/meowgate/webhook"
)

// The tests drive the real handler over HTTP, with a real Manager over a
// SQLite file and real whatsmeow clients talking to an in-process simulator.

const (
	adminKey    = "admin-key-for-tests-0123456789"
	waitTimeout = 20 * time.Second
)

func testLog() *slog.Logger {
	lvl := slog.LevelError
	if os.Getenv("MEOWGATE_TEST_DEBUG") != "" {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

type env struct {
	t    *testing.T
	sim  *wasim.Server
	st   *store.Store
	m    *instance.Manager
	srv  *httptest.Server
	hc   *http.Client
	opts api.Options
}

// newEnv starts a simulator, a Manager over a fresh SQLite file and the API
// in sandbox mode. Limits are generous unless tweak changes them.
func newEnv(t *testing.T, tweak func(*api.Options)) *env {
	t.Helper()
	return newEnvSeeded(t, nil, tweak)
}

// newEnvSeeded is newEnv with rows written into the store before the
// Manager loads it: a database left by an older version.
func newEnvSeeded(t *testing.T, seed func(context.Context, *store.Store) error, tweak func(*api.Options)) *env {
	t.Helper()
	ctx := context.Background()
	var simLog *slog.Logger
	if os.Getenv("MEOWGATE_TEST_DEBUG") != "" {
		simLog = testLog().With("side", "wasim")
	}
	sim, err := wasim.New(ctx, wasim.Options{Log: simLog, DeliveryDelay: 10 * time.Millisecond, ReadDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "meowgate.db"), testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if seed != nil {
		if err := seed(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	m, err := instance.NewManager(ctx, instance.Options{Store: st, Log: testLog(), HTTPClient: sim.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	t.Cleanup(func() {
		// Let the traffic between the clients and the simulator settle
		// before the Manager closes the sockets (see wasim's harness: closing
		// mid-send trips a data race inside whatsmeow).
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sim.Wait(ctx, sim.Idle)
	})
	// The real delivery worker; its client never leaves the machine (test
	// instances may carry LAN webhook URLs).
	noNet := &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("tests make no outside connections")
	}}}
	hooks, err := webhook.New(webhook.Options{Store: st, Manager: m, Log: testLog(), HTTPClient: noNet})
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hooks.Close) // before m.Close: the worker calls the Manager
	opts := api.Options{
		Manager:         m,
		Webhooks:        hooks,
		Log:             testLog(),
		AdminKey:        adminKey,
		RateLimit:       1e6,
		RateBurst:       1e6,
		CreatePerMinute: 10000,
		AuthFailBurst:   1e6,
		Sandbox:         wasim.Local(sim),
		Metrics:         func(w http.ResponseWriter) { _, _ = io.WriteString(w, "meowgate_up 1\n") },
		Version:         "test",
	}
	if tweak != nil {
		tweak(&opts)
	}
	srv := httptest.NewServer(api.New(opts))
	t.Cleanup(srv.Close) // runs first: no handler outlives the Manager
	return &env{t: t, sim: sim, st: st, m: m, srv: srv, hc: srv.Client(), opts: opts}
}

// res is a finished response.
type res struct {
	status int
	header http.Header
	body   []byte
	req    string // "METHOD path", for messages
}

// obj decodes the body as a JSON object.
func (r *res) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("%s: body is not a JSON object: %v\n%s", r.req, err, r.body)
	}
	return m
}

func (r *res) String() string {
	return r.req + " → " + http.StatusText(r.status) + " " + string(r.body)
}

// req describes a request. key is sent as "Authorization: Bearer" unless via
// names another header ("x-api-key", "apikey").
type req struct {
	method, path string
	key          string
	via          string
	body         any // nil: no body; string or []byte: raw; else JSON-encoded
	header       map[string]string
	timeout      time.Duration // default 30 s
}

func (e *env) call(method, path, key string, body any) *res {
	e.t.Helper()
	return e.send(e.t, req{method: method, path: path, key: key, body: body})
}

// send performs r. A text/event-stream response is not read: only its
// status and headers are returned.
func (e *env) send(t testing.TB, r req) *res {
	t.Helper()
	if r.timeout == 0 {
		r.timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	hr, sent := e.newRequest(t, ctx, r)
	resp, err := e.hc.Do(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	out := &res{status: resp.StatusCode, header: resp.Header, req: r.method + " " + r.path}
	unread := strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	if !unread {
		if out.body, err = io.ReadAll(resp.Body); err != nil {
			t.Fatalf("%s %s: reading body: %v", r.method, r.path, err)
		}
	}
	checkDoc(t, hr, sent, resp, out.body, unread)
	return out
}

// apiDoc is api/openapi.json, loaded and compiled once per test binary.
var apiDoc = sync.OnceValues(func() (*oascheck.Doc, error) { return oascheck.Load("openapi.json") })

// checkDoc fails t unless the exchange matches the OpenAPI document: every
// call the tests make is checked, so the document cannot drift from the
// code. It uses Errorf, as send may run off the test goroutine.
func checkDoc(t testing.TB, hr *http.Request, sent []byte, resp *http.Response, body []byte, unread bool) {
	t.Helper()
	doc, err := apiDoc()
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	err = doc.Check(context.Background(), oascheck.Exchange{
		Method: hr.Method, Path: hr.URL.RequestURI(), Header: hr.Header, Body: sent,
		Status: resp.StatusCode, RespHeader: resp.Header, RespBody: body, BodyUnread: unread,
	})
	if err != nil {
		t.Errorf("OpenAPI: %v", err)
	}
}

// newRequest builds r and returns it with the body it carries.
func (e *env) newRequest(t testing.TB, ctx context.Context, r req) (*http.Request, []byte) {
	t.Helper()
	var sent []byte
	switch b := r.body.(type) {
	case nil:
	case string:
		sent = []byte(b)
	case []byte:
		sent = b
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		sent = js
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(sent)
	}
	hr, err := http.NewRequestWithContext(ctx, r.method, e.srv.URL+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.key != "" {
		switch r.via {
		case "", "bearer":
			hr.Header.Set("Authorization", "Bearer "+r.key)
		case "x-api-key":
			hr.Header.Set("X-Api-Key", r.key)
		case "apikey":
			hr.Header.Set("apikey", r.key)
		default:
			t.Fatalf("unknown key header %q", r.via)
		}
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	return hr, sent
}

// wantStatus fails unless r has the status.
func wantStatus(t testing.TB, r *res, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", r.req, r.status, status, r.body)
	}
}

// wantErr checks the JSON error shape, status and code, and returns the
// inner error object.
func wantErr(t testing.TB, r *res, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d (%s); body %s", r.req, r.status, status, code, r.body)
	}
	return checkErrShape(t, r, code)
}

func checkErrShape(t testing.TB, r *res, code string) map[string]any {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: error Content-Type %q", r.req, ct)
	}
	var body struct {
		Error map[string]any `json:"error"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Error == nil {
		t.Fatalf("%s: not the JSON error shape: %v; body %s", r.req, err, r.body)
	}
	if got, _ := body.Error["code"].(string); got != code {
		t.Fatalf("%s: error code %q, want %q; body %s", r.req, got, code, r.body)
	}
	if msg, _ := body.Error["message"].(string); msg == "" {
		t.Fatalf("%s: error without a message: %s", r.req, r.body)
	}
	if r.status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("%s: 401 without WWW-Authenticate", r.req)
	}
	return body.Error
}

// wantFields checks a 422 invalid error and that it names each field.
func wantFields(t testing.TB, r *res, fields ...string) map[string]any {
	t.Helper()
	e := wantErr(t, r, http.StatusUnprocessableEntity, "invalid")
	got, _ := e["fields"].(map[string]any)
	for _, f := range fields {
		if msg, _ := got[f].(string); msg == "" {
			t.Fatalf("%s: fields lack %q: %s", r.req, f, r.body)
		}
	}
	return got
}

// create makes an instance as admin and returns its token.
func (e *env) create(name string, extra map[string]any) (token string, inst map[string]any) {
	e.t.Helper()
	body := map[string]any{"name": name}
	for k, v := range extra {
		body[k] = v
	}
	r := e.call("POST", "/v1/instances", adminKey, body)
	wantStatus(e.t, r, http.StatusCreated)
	o := r.obj(e.t)
	token, _ = o["token"].(string)
	if !strings.HasPrefix(token, "mgt_") {
		e.t.Fatalf("create %s: token %q", name, token)
	}
	inst, _ = o["instance"].(map[string]any)
	return token, inst
}

// waitState waits, through Manager.Watch, until the instance is in state,
// then returns GET …/state as the API shows it.
func (e *env) waitState(name, state string) map[string]any {
	e.t.Helper()
	e.waitFor(name, func(i *instance.Info) bool { return i.State == state })
	r := e.call("GET", "/v1/instances/"+name+"/state", adminKey, nil)
	wantStatus(e.t, r, http.StatusOK)
	return r.obj(e.t)
}

// waitFor waits, through Manager.Watch, until cond holds for the instance.
func (e *env) waitFor(name string, cond func(*instance.Info) bool) *instance.Info {
	e.t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		ch, info, err := e.m.Watch(name)
		if err != nil {
			e.t.Fatalf("watch %s: %v", name, err)
		}
		if cond(info) {
			return info
		}
		select {
		case <-ch:
		case <-deadline.C:
			e.t.Fatalf("%s: timed out waiting; now %s/%s", name, info.State, info.Reason)
		}
	}
}

// waitQR waits until the instance shows a QR code and returns GET …/qr.
func (e *env) waitQR(name string) map[string]any {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := e.m.WaitQR(ctx, name); err != nil {
		e.t.Fatalf("%s: waiting for a QR code: %v", name, err)
	}
	r := e.call("GET", "/v1/instances/"+name+"/qr", adminKey, nil)
	wantStatus(e.t, r, http.StatusOK)
	return r.obj(e.t)
}

// link connects name by scanning its QR code through the sandbox route.
func (e *env) link(name, phone string) {
	e.t.Helper()
	e.waitQR(name)
	n := e.presences(phone)
	r := e.call("POST", "/v1/sandbox/instances/"+name+"/scan", adminKey, map[string]string{"phone": phone})
	wantStatus(e.t, r, http.StatusOK)
	e.waitLogin(name, phone, n)
}

// presences counts the presences the account's linked devices sent.
func (e *env) presences(phone string) int { return len(e.sim.Presences(phone)) }

// waitLogin waits until the instance is connected and its sender has sent
// the presence it sends on every login (more than before presences).
//
// Stopping the client while that send is in flight trips -race inside
// whatsmeow: the instance's sender passes a context that stopping cancels,
// NoiseSocket.SendFrame then returns without waiting for its writer
// goroutine, which reads FrameSocket.conn unlocked while Disconnect (or a
// server hang-up) writes it. Tests that stop, restart, kick or unlink
// right after a login wait for the presence first.
func (e *env) waitLogin(name, phone string, before int) map[string]any {
	e.t.Helper()
	st := e.waitState(name, event.StateConnected)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.sim.Wait(ctx, func() bool { return e.presences(phone) > before }); err != nil {
		e.t.Fatalf("%s: no presence after login (see waitLogin): %v", name, err)
	}
	return st
}

type apiEvent struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Instance  string          `json:"instance"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// events lists GET /v1/instances/{name}/events?query.
func (e *env) events(name, key, query string) []apiEvent {
	e.t.Helper()
	r := e.call("GET", "/v1/instances/"+name+"/events"+query, key, nil)
	wantStatus(e.t, r, http.StatusOK)
	var body struct {
		Events []apiEvent `json:"events"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		e.t.Fatalf("events: %v: %s", err, r.body)
	}
	return body.Events
}

// sseEvent is one event read off GET /v1/events.
type sseEvent struct {
	id, event, data string
}

// sse is an open Server-Sent Events stream.
type sse struct {
	t      *testing.T
	resp   *http.Response
	cancel context.CancelFunc
	ch     chan sseEvent
	retry  chan string
}

// openSSE opens GET path (a /v1/events URL) and checks it is a stream.
func (e *env) openSSE(path, key string, header map[string]string) *sse {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hr, _ := e.newRequest(e.t, ctx, req{method: "GET", path: path, key: key, header: header})
	resp, err := e.hc.Do(hr)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	checkDoc(e.t, hr, nil, resp, nil, true)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		e.t.Fatalf("GET %s: %d %s: %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	s := &sse{t: e.t, resp: resp, cancel: cancel, ch: make(chan sseEvent, 64), retry: make(chan string, 1)}
	e.t.Cleanup(s.close)
	go s.read(ctx)
	return s
}

func (s *sse) close() {
	s.cancel()
	s.resp.Body.Close()
}

func (s *sse) read(ctx context.Context) {
	defer close(s.ch)
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur != (sseEvent{}) {
				select {
				case s.ch <- cur:
				case <-ctx.Done():
					return
				}
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, ":"): // comment (ping)
		case strings.HasPrefix(line, "retry: "):
			select {
			case s.retry <- strings.TrimPrefix(line, "retry: "):
			default:
			}
		case strings.HasPrefix(line, "id: "):
			cur.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data += strings.TrimPrefix(line, "data: ")
		default:
			cur.data += "\x00unexpected line: " + line
		}
	}
}

// next returns the next event, failing after the timeout.
func (s *sse) next() (sseEvent, apiEvent) {
	s.t.Helper()
	select {
	case ev, ok := <-s.ch:
		if !ok {
			s.t.Fatal("event stream ended")
		}
		var body apiEvent
		if err := json.Unmarshal([]byte(ev.data), &body); err != nil {
			s.t.Fatalf("SSE data is not an event: %v: %q", err, ev.data)
		}
		if body.ID != ev.id || body.Type != ev.event {
			s.t.Fatalf("SSE id/event lines (%s, %s) disagree with data %s", ev.id, ev.event, ev.data)
		}
		return ev, body
	case <-time.After(waitTimeout):
		s.t.Fatal("timed out waiting for an event on the stream")
	}
	panic("unreachable")
}

// until reads events up to and including the one with id last.
func (s *sse) until(last string) []apiEvent {
	s.t.Helper()
	var out []apiEvent
	for {
		_, ev := s.next()
		out = append(out, ev)
		if ev.ID == last {
			return out
		}
		if idLess(last, ev.ID) {
			s.t.Fatalf("stream passed event %s without sending it (now at %s)", last, ev.ID)
		}
	}
}

// idLess compares two decimal event ids.
func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func eventIDs(evs []apiEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}
