package evolution_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meowgate/meowgate/api"
	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/store"
	"github.com/meowgate/meowgate/wasim"
)

// The contract tests drive the real API handler (with the compatibility
// routes on) over HTTP, a real Manager over SQLite and whatsmeow clients
// against the in-process simulator, and compare statuses and JSON shapes
// with Evolution API v2.3's.

const adminKey = "admin-key-for-tests-0123456789"

type env struct {
	t   *testing.T
	sim *wasim.Server
	m   *instance.Manager
	srv *httptest.Server
}

func newEnv(t *testing.T, evolution bool, prefix string) *env {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sim, err := wasim.New(ctx, wasim.Options{DeliveryDelay: 10 * time.Millisecond, ReadDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "meowgate.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m, err := instance.NewManager(ctx, instance.Options{Store: st, Log: log, HTTPClient: sim.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sim.Wait(ctx, sim.Idle)
	})
	srv := httptest.NewServer(api.New(api.Options{Manager: m, Log: log, AdminKey: adminKey, RateLimit: 1e6, RateBurst: 1e6,
		CreatePerMinute: 10000, AuthFailBurst: 1e6, Sandbox: wasim.Local(sim), Evolution: evolution, EvolutionPrefix: prefix}))
	t.Cleanup(srv.Close)
	return &env{t: t, sim: sim, m: m, srv: srv}
}

type res struct {
	status int
	body   []byte
	req    string
}

func (e *env) call(method, path, key string, body any) *res {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		if s, ok := body.(string); ok {
			b = []byte(s)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if key != "" {
		req.Header.Set("apikey", key)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &res{status: resp.StatusCode, body: b, req: method + " " + path}
}

func (r *res) json(t *testing.T) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%s: not JSON: %s", r.req, r.body)
	}
	return v
}

// want checks the status and that the body has the shape: a map of field
// names to a shape, "string", "number", "boolean", "null", "array",
// "object", alternatives joined by "|", or a nested map.
func (e *env) want(r *res, status int, shape any) map[string]any {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("%s: status %d, want %d: %s", r.req, r.status, status, r.body)
	}
	v := r.json(e.t)
	checkShape(e.t, r.req, "", v, shape)
	o, _ := v.(map[string]any)
	return o
}

func typeOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	}
	return "object"
}

func checkShape(t *testing.T, req, path string, v any, shape any) {
	t.Helper()
	switch s := shape.(type) {
	case string:
		if !strings.Contains("|"+s+"|", "|"+typeOf(v)+"|") {
			t.Fatalf("%s: %s is %s (%v), want %s", req, path, typeOf(v), v, s)
		}
	case map[string]any:
		o, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: %s is %s, want an object", req, path, typeOf(v))
		}
		for k, sub := range s {
			x, ok := o[k]
			if !ok {
				t.Fatalf("%s: %s lacks %q: %v", req, path, k, o)
			}
			checkShape(t, req, path+"."+k, x, sub)
		}
	}
}

// errShape is Evolution's error body.
func errShape(status int, msg string) map[string]any {
	return map[string]any{"status": "number", "error": "string", "response": map[string]any{"message": msg}}
}

func (e *env) wantErr(r *res, status int) map[string]any {
	e.t.Helper()
	msg := "array"
	if status == http.StatusUnauthorized {
		msg = "string"
	}
	o := e.want(r, status, errShape(status, msg))
	if int(o["status"].(float64)) != status || o["error"] != http.StatusText(status) {
		e.t.Fatalf("%s: error body %v", r.req, o)
	}
	return o
}

var qrShape = map[string]any{"pairingCode": "string|null", "code": "string", "base64": "string", "count": "number"}

var sendShape = map[string]any{
	"key":     map[string]any{"remoteJid": "string", "fromMe": "boolean", "id": "string"},
	"status":  "string",
	"message": "object", "messageType": "string", "messageTimestamp": "number", "instanceId": "string",
}

// link scans the instance's QR code in the sandbox.
func (e *env) link(name, phone string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := e.m.WaitQR(ctx, name); err != nil {
		e.t.Fatal(err)
	}
	r := e.call("POST", "/v1/sandbox/instances/"+name+"/scan", adminKey, map[string]string{"phone": phone})
	if r.status != http.StatusOK {
		e.t.Fatalf("scan: %d %s", r.status, r.body)
	}
	for {
		ch, info, err := e.m.Watch(name)
		if err != nil {
			e.t.Fatal(err)
		}
		if info.State == "connected" && len(e.sim.Presences(phone)) > 0 {
			return
		}
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			e.t.Fatalf("%s: not connected: %s", name, info.State)
		}
	}
}

func storeFilter() store.MessageFilter { return store.MessageFilter{Limit: 1000} }
