package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/meowgate/meowgate/api"
	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/internal/oascheck"
	"github.com/meowgate/meowgate/store"
)

// The delivery routes, served by the api package over the real worker.
func TestDeliveryRoutes(t *testing.T) {
	e := newEnv(t, nil)
	reject := true
	rc := newReceiver(t, func(w http.ResponseWriter, delivery string, n int) int {
		if reject {
			return http.StatusBadRequest
		}
		return 200
	})
	const admin = "admin-key-0123456789"
	srv := httptest.NewServer(api.New(api.Options{Manager: e.m, Log: testLog(), AdminKey: admin, Webhooks: e.w}))
	t.Cleanup(srv.Close)
	ins := e.create("routes", hook(rc.srv.URL, nil))
	_, otherToken, _, err := e.m.Create(context.Background(), instance.CreateParams{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	ev1 := e.event(ins, event.TypeMessageReceived, `{}`)
	dead := e.waitStatus(ins, ev1, store.DeliveryDead)
	rc.mu.Lock()
	reject = false
	rc.mu.Unlock()
	ev2 := e.event(ins, event.TypeMessageSent, `{}`)
	done := e.waitStatus(ins, ev2, store.DeliveryDelivered)

	call := func(method, path, key string, wantStatus int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		checkDoc(t, req, resp, b)
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, wantStatus)
		}
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: %s", method, path, b)
		}
		return out
	}
	list := func(query string) []map[string]any {
		t.Helper()
		out := call("GET", "/v1/instances/routes/webhook/deliveries"+query, admin, 200)
		var ds []map[string]any
		for _, d := range out["deliveries"].([]any) {
			ds = append(ds, d.(map[string]any))
		}
		return ds
	}

	ds := list("")
	if len(ds) != 2 || ds[0]["event_id"] != id(ev2) || ds[1]["event_id"] != id(ev1) {
		t.Fatalf("deliveries %v", ds)
	}
	d0, d1 := ds[0], ds[1]
	if d0["id"] != id(done.ID) || d0["event_type"] != "message.sent" || d0["status"] != "delivered" || d0["attempts"] != 1.0 ||
		d0["next_attempt_at"] != nil || d0["last_status_code"] != 200.0 || d0["last_error"] != nil || d0["last_attempt_at"] == nil || d0["created_at"] == nil {
		t.Errorf("delivered: %v", d0)
	}
	if d1["status"] != "dead" || d1["last_status_code"] != 400.0 || !strings.HasPrefix(d1["last_error"].(string), "HTTP 400") {
		t.Errorf("dead: %v", d1)
	}
	if ds := list("?status=dead&limit=5"); len(ds) != 1 || ds[0]["id"] != id(dead.ID) {
		t.Errorf("?status=dead: %v", ds)
	}
	if ds := list("?limit=1"); len(ds) != 1 || ds[0]["id"] != id(done.ID) {
		t.Errorf("?limit=1: %v", ds)
	}
	for _, q := range []string{"?status=bogus", "?limit=0", "?limit=1001", "?limit=x"} {
		out := call("GET", "/v1/instances/routes/webhook/deliveries"+q, admin, 422)
		if out["error"].(map[string]any)["code"] != "invalid" {
			t.Errorf("%s: %v", q, out)
		}
	}
	// Another instance's token sees neither the list nor the retry.
	call("GET", "/v1/instances/routes/webhook/deliveries", otherToken, 404)
	call("POST", "/v1/instances/routes/webhook/deliveries/"+id(dead.ID)+"/retry", otherToken, 404)
	call("POST", "/v1/instances/other/webhook/deliveries/"+id(dead.ID)+"/retry", otherToken, 404)
	call("GET", "/v1/instances/other/webhook/deliveries", otherToken, 200)

	call("POST", "/v1/instances/routes/webhook/deliveries/999999/retry", admin, 404)
	call("POST", "/v1/instances/routes/webhook/deliveries/abc/retry", admin, 404)
	out := call("POST", "/v1/instances/routes/webhook/deliveries/"+id(done.ID)+"/retry", admin, 409)
	if msg := out["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "delivered") {
		t.Errorf("409 message %q", msg)
	}
	out = call("POST", "/v1/instances/routes/webhook/deliveries/"+id(dead.ID)+"/retry", admin, 202)
	if d := out["delivery"].(map[string]any); d["id"] != id(dead.ID) || d["status"] != "pending" {
		t.Errorf("retried: %v", d)
	}
	e.waitStatus(ins, ev1, store.DeliveryDelivered)

	// Without a worker the routes say so.
	bare := httptest.NewServer(api.New(api.Options{Manager: e.m, Log: testLog(), AdminKey: admin}))
	t.Cleanup(bare.Close)
	req, _ := http.NewRequest("GET", bare.URL+"/v1/instances/routes/webhook/deliveries", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkDoc(t, req, resp, b)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("without Webhooks: %d", resp.StatusCode)
	}
}

// apiDoc is api/openapi.json, loaded once per test binary.
var apiDoc = sync.OnceValues(func() (*oascheck.Doc, error) { return oascheck.Load("../api/openapi.json") })

// checkDoc fails t unless the exchange (a request without a body) matches
// the OpenAPI document.
func checkDoc(t *testing.T, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	doc, err := apiDoc()
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	err = doc.Check(context.Background(), oascheck.Exchange{
		Method: req.Method, Path: req.URL.RequestURI(), Header: req.Header,
		Status: resp.StatusCode, RespHeader: resp.Header, RespBody: body,
	})
	if err != nil {
		t.Errorf("OpenAPI: %v", err)
	}
}
