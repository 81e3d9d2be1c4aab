package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/meowgate/meowgate/api"
	"github.com/meowgate/meowgate/store"
)

// Who may call a route.
const (
	anyone   = "anyone"
	admin    = "admin"    // admin key only
	inst     = "instance" // admin, or the token of the {name} instance
	anyKey   = "any key"  // admin or any token; the result is scoped
	samplePh = "+4915100000099"
)

// routes is every route the API serves, with a body that makes sense for
// it. TestRouteTableComplete keeps it in step with api.go.
var routes = []struct {
	method, path, access string
	body                 any
}{
	{"GET", "/healthz", anyone, nil},
	{"GET", "/readyz", anyone, nil},
	{"GET", "/openapi.json", anyone, nil},
	{"GET", "/metrics", admin, nil},

	{"POST", "/v1/instances", admin, map[string]any{"name": "made-by-admin"}},
	{"GET", "/v1/instances", anyKey, nil},
	{"GET", "/v1/instances/{name}", inst, nil},
	{"PATCH", "/v1/instances/{name}", inst, map[string]any{"device_name": "patched"}},
	{"DELETE", "/v1/instances/{name}", admin, nil},
	{"POST", "/v1/instances/{name}/connect", inst, nil},
	{"GET", "/v1/instances/{name}/qr", inst, nil},
	{"POST", "/v1/instances/{name}/pair-code", inst, map[string]any{"phone": "+4915100000098"}},
	{"GET", "/v1/instances/{name}/state", inst, nil},
	{"POST", "/v1/instances/{name}/disconnect", inst, nil},
	{"POST", "/v1/instances/{name}/restart", inst, nil},
	{"POST", "/v1/instances/{name}/logout", inst, nil},
	{"POST", "/v1/instances/{name}/token", inst, nil},
	{"GET", "/v1/instances/{name}/settings", inst, nil},
	{"PATCH", "/v1/instances/{name}/settings", inst, map[string]any{"mark_read": true}},
	{"POST", "/v1/instances/{name}/messages", inst, map[string]any{"to": "+4915100000096", "type": "text", "text": "hi"}},
	{"GET", "/v1/instances/{name}/messages", inst, nil},
	{"GET", "/v1/instances/{name}/messages/{id}", inst, nil},
	{"PATCH", "/v1/instances/{name}/messages/{id}", inst, map[string]any{"text": "edited"}},
	{"DELETE", "/v1/instances/{name}/messages/{id}", inst, nil},
	{"GET", "/v1/instances/{name}/messages/{id}/media", inst, nil},
	{"GET", "/v1/instances/{name}/queue", inst, nil},
	{"DELETE", "/v1/instances/{name}/queue", inst, nil},
	{"GET", "/v1/instances/{name}/events", inst, nil},
	{"GET", "/v1/events", anyKey, nil},
	{"GET", "/v1/instances/{name}/webhook/deliveries", inst, nil},
	{"POST", "/v1/instances/{name}/webhook/deliveries/{id}/retry", inst, nil},

	{"GET", "/v1/instances/{name}/groups", inst, nil},
	{"POST", "/v1/instances/{name}/groups", inst, map[string]any{"subject": "Team", "participants": []string{"+4915100000095"}}},
	{"POST", "/v1/instances/{name}/groups/join", inst, map[string]any{"code": "AbCdEfGhIjKlMnOp"}},
	{"GET", "/v1/instances/{name}/groups/{jid}", inst, nil},
	{"PATCH", "/v1/instances/{name}/groups/{jid}", inst, map[string]any{"subject": "Renamed", "announce": true}},
	{"POST", "/v1/instances/{name}/groups/{jid}/participants", inst, map[string]any{"action": "add", "participants": []string{"+4915100000095"}}},
	{"GET", "/v1/instances/{name}/groups/{jid}/invite", inst, nil},
	{"DELETE", "/v1/instances/{name}/groups/{jid}/invite", inst, nil},
	{"POST", "/v1/instances/{name}/groups/{jid}/leave", inst, nil},
	{"POST", "/v1/instances/{name}/contacts/check", inst, map[string]any{"phones": []string{"+4915100000095", samplePh}}},
	{"GET", "/v1/instances/{name}/contacts/{who}", inst, nil},
	{"POST", "/v1/instances/{name}/contacts/{who}/block", inst, nil},
	{"POST", "/v1/instances/{name}/contacts/{who}/unblock", inst, nil},
	{"POST", "/v1/instances/{name}/contacts/{who}/presence", inst, nil},
	{"POST", "/v1/instances/{name}/presence", inst, map[string]any{"state": "composing", "chat": "+4915100000095"}},

	{"POST", "/v1/sandbox/instances/{name}/scan", admin, map[string]any{}},
	{"POST", "/v1/sandbox/instances/{name}/enter-code", admin, map[string]any{"code": "ABCD-EFGH"}},
	{"POST", "/v1/sandbox/instances/{name}/incoming", admin, map[string]any{"from": "+4915100000097", "text": "hi"}},
	{"POST", "/v1/sandbox/instances/{name}/unlink", admin, nil},
	{"POST", "/v1/sandbox/instances/{name}/kick", admin, nil},
	{"GET", "/v1/sandbox/contacts/{phone}/inbox", admin, nil},
	{"POST", "/v1/sandbox/media/expire", admin, map[string]any{"instance": ""}},
	{"POST", "/v1/sandbox/groups", admin, map[string]any{"owner": ""}},
}

// sampleGroup is a well-formed group JID no instance is in.
const sampleGroup = "120363000000000001@g.us"

func fill(path, name string) string {
	return strings.NewReplacer("{name}", name, "{phone}", samplePh, "{id}", "12345", "{jid}", sampleGroup, "{who}", samplePh).Replace(path)
}

// offline is what the routes that need WhatsApp answer an authorised caller
// when the instance never connected: the input is valid, so 409
// not_connected; the two that can answer from the store answer 200.
var offline = map[string]struct {
	status int
	code   string
}{
	"GET /v1/instances/{name}/groups":                     {http.StatusOK, ""}, // the (empty) cache
	"POST /v1/instances/{name}/groups":                    {http.StatusConflict, "not_connected"},
	"POST /v1/instances/{name}/groups/join":               {http.StatusConflict, "not_connected"},
	"GET /v1/instances/{name}/groups/{jid}":               {http.StatusConflict, "not_connected"}, // not cached
	"PATCH /v1/instances/{name}/groups/{jid}":             {http.StatusConflict, "not_connected"},
	"POST /v1/instances/{name}/groups/{jid}/participants": {http.StatusConflict, "not_connected"},
	"GET /v1/instances/{name}/groups/{jid}/invite":        {http.StatusConflict, "not_connected"},
	"DELETE /v1/instances/{name}/groups/{jid}/invite":     {http.StatusConflict, "not_connected"},
	"POST /v1/instances/{name}/groups/{jid}/leave":        {http.StatusConflict, "not_connected"},
	"POST /v1/instances/{name}/contacts/check":            {http.StatusConflict, "not_connected"},
	"GET /v1/instances/{name}/contacts/{who}":             {http.StatusOK, ""}, // the ids the store knows
	"POST /v1/instances/{name}/contacts/{who}/block":      {http.StatusConflict, "not_connected"},
	"POST /v1/instances/{name}/contacts/{who}/unblock":    {http.StatusConflict, "not_connected"},
	"POST /v1/instances/{name}/contacts/{who}/presence":   {http.StatusConflict, "not_connected"},
	"POST /v1/instances/{name}/presence":                  {http.StatusConflict, "not_connected"},
}

// TestRouteTableComplete fails when api.go registers a route this file's
// list lacks, or the other way round.
func TestRouteTableComplete(t *testing.T) {
	t.Parallel()
	var want, got []string
	for _, rt := range api.RouteTable() {
		want = append(want, rt[0]+" "+rt[1])
	}
	for _, rt := range routes {
		got = append(got, rt.method+" "+rt.path)
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(want, got) {
		t.Fatalf("the test's route list differs from api.go\napi.go: %v\ntests:  %v", want, got)
	}
}

// TestRoutesServed checks each listed route is really served: another
// method on its path is a 405 whose Allow lists exactly the listed methods.
// Without a sandbox the sandbox routes do not exist.
func TestRoutesServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	methods := map[string][]string{}
	for _, rt := range routes {
		methods[rt.path] = append(methods[rt.path], rt.method)
	}
	for path, ms := range methods {
		r := e.call("PUT", fill(path, "x"), adminKey, nil)
		wantErr(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
		allow := strings.Split(r.header.Get("Allow"), ", ")
		want := append([]string(nil), ms...)
		if slices.Contains(ms, "GET") {
			want = append(want, "HEAD")
		}
		sort.Strings(allow)
		sort.Strings(want)
		if !slices.Equal(allow, want) {
			t.Errorf("PUT %s: Allow %v, want %v", path, allow, want)
		}
	}

	// Without a sandbox the sandbox routes do not exist; without a delivery
	// worker the delivery routes say so.
	bare := newEnv(t, func(o *api.Options) { o.Sandbox, o.Webhooks = nil, nil })
	bare.create("x", nil)
	for _, rt := range routes {
		switch {
		case strings.HasPrefix(rt.path, "/v1/sandbox/"):
			wantErr(t, bare.call(rt.method, fill(rt.path, "x"), adminKey, rt.body), http.StatusNotFound, "not_found")
		case strings.Contains(rt.path, "/webhook/deliveries"):
			wantErr(t, bare.call(rt.method, fill(rt.path, "x"), adminKey, rt.body), http.StatusServiceUnavailable, "unavailable")
		}
	}
}

// TestOpenAPICoversRoutes checks the OpenAPI document lists every route.
func TestOpenAPICoversRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.call("GET", "/openapi.json", "", nil)
	wantStatus(t, r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	t.Run("paths", func(t *testing.T) {
		if len(doc.Paths) == 0 {
			t.Skip("openapi.json has no paths yet (placeholder)")
		}
		for _, rt := range routes {
			if _, ok := doc.Paths[rt.path][strings.ToLower(rt.method)]; !ok {
				t.Errorf("openapi.json lacks %s %s", rt.method, rt.path)
			}
		}
	})
}

// allowed reports whether r shows the caller got past authentication:
// neither 401 nor 403, no 404 for the instance or the route, and no server
// error. (A 404 for a message or delivery {id} that does not exist is fine.)
func allowed(r *res, missing *res) bool {
	if r.status == http.StatusNotFound {
		return string(r.body) != string(missing.body) && !strings.Contains(string(r.body), "no such route")
	}
	return r.status != http.StatusUnauthorized && r.status != http.StatusForbidden &&
		r.status != http.StatusMethodNotAllowed && r.status < 500
}

// TestAuthMatrix calls every route without a key, with a wrong key, with
// the token of another instance, with the instance's own token and with the
// admin key. Each route gets an instance of its own, since some calls
// (delete, token, logout…) change it.
func TestAuthMatrix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	otherToken, _ := e.create("other", nil)
	// A 404 for another instance must look exactly like one for an
	// instance that does not exist.
	missing := e.call("GET", "/v1/instances/nope", adminKey, nil)
	wantErr(t, missing, http.StatusNotFound, "not_found")

	for i, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("r%02d", i)
			own, _ := e.create(name, nil)
			path := fill(rt.path, name)
			hasName := strings.Contains(rt.path, "{name}")
			do := func(key, via string) *res {
				return e.send(t, req{method: rt.method, path: path, key: key, via: via, body: rt.body})
			}

			// No key, and a wrong key (in each header).
			for _, c := range []struct{ key, via string }{{"", ""}, {"wrong", "bearer"}, {"wrong", "x-api-key"}, {"wrong", "apikey"}, {own + "x", "bearer"}} {
				r := do(c.key, c.via)
				if rt.access == anyone {
					wantStatus(t, r, http.StatusOK)
					continue
				}
				wantErr(t, r, http.StatusUnauthorized, "unauthorized")
			}

			// The token of another instance.
			r := do(otherToken, "apikey")
			switch {
			case rt.access == anyone || rt.access == anyKey:
				wantStatus(t, r, http.StatusOK)
			case hasName:
				wantErr(t, r, http.StatusNotFound, "not_found")
				if string(r.body) != string(missing.body) {
					t.Fatalf("404 for another instance %s differs from one for a missing instance %s", r.body, missing.body)
				}
			default:
				wantErr(t, r, http.StatusForbidden, "forbidden")
			}
			if strings.Contains(rt.path, "/messages/{id}") && rt.method != "GET" || strings.HasSuffix(rt.path, "/media") {
				if mediaDomainPending(e.m) {
					t.Skip("needs the media domain for the answer past authentication (the stubs are a 500)")
				}
			}

			// The instance's own token.
			r = do(own, "bearer")
			switch rt.access {
			case anyone, anyKey, inst:
				if !allowed(r, missing) {
					t.Fatalf("own token refused: %v", r)
				}
			case admin:
				wantErr(t, r, http.StatusForbidden, "forbidden")
			}

			// The admin key. For routes of an instance, a missing one is 404.
			if hasName {
				wantErr(t, e.send(t, req{method: rt.method, path: fill(rt.path, "nope"), key: adminKey, body: rt.body}),
					http.StatusNotFound, "not_found")
			}
			r = do(adminKey, "x-api-key")
			if !allowed(r, missing) {
				t.Fatalf("admin refused: %v", r)
			}
			// Past authentication, the routes that need WhatsApp say the
			// instance is not connected (for the admin and the own token).
			if want, ok := offline[rt.method+" "+rt.path]; ok {
				for _, key := range []string{adminKey, own} {
					r := do(key, "bearer")
					if want.code == "" {
						wantStatus(t, r, want.status)
					} else {
						wantErr(t, r, want.status, want.code)
					}
				}
			}
		})
	}
}

// TestKeyHeaders accepts a key in each of the three headers, and ignores
// other authorization schemes.
func TestKeyHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	token, _ := e.create("a", nil)
	e.create("b", nil)
	for _, via := range []string{"bearer", "x-api-key", "apikey"} {
		for _, key := range []string{adminKey, token} {
			wantStatus(t, e.send(t, req{method: "GET", path: "/v1/instances/a/state", key: key, via: via}), http.StatusOK)
		}
	}
	for _, h := range []string{"bearer " + token, "BEARER " + token, "Bearer  " + token} {
		wantStatus(t, e.send(t, req{method: "GET", path: "/v1/instances/a", header: map[string]string{"Authorization": h}}), http.StatusOK)
	}
	for _, h := range []string{"Basic " + token, token, "Bearer", "Bearer "} {
		wantErr(t, e.send(t, req{method: "GET", path: "/v1/instances/a", header: map[string]string{"Authorization": h}}),
			http.StatusUnauthorized, "unauthorized")
	}

	// The instance id works wherever the name does, for the token too.
	r := e.call("GET", "/v1/instances/a", token, nil)
	wantStatus(t, r, http.StatusOK)
	id := r.obj(t)["instance"].(map[string]any)["id"].(string)
	wantStatus(t, e.call("GET", "/v1/instances/"+id+"/state", token, nil), http.StatusOK)

	// A token lists only its own instance; the admin sees all.
	names := func(key string) []string {
		r := e.call("GET", "/v1/instances", key, nil)
		wantStatus(t, r, http.StatusOK)
		var out []string
		for _, i := range r.obj(t)["instances"].([]any) {
			out = append(out, i.(map[string]any)["name"].(string))
		}
		return out
	}
	if got := names(token); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("token lists %v", got)
	}
	if got := names(adminKey); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("admin lists %v", got)
	}
}

// TestTokenRotation: after POST …/token the old token is refused.
func TestTokenRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	t1, _ := e.create("rot", nil)
	rotate := func(key string) string {
		r := e.call("POST", "/v1/instances/rot/token", key, nil)
		wantStatus(t, r, http.StatusOK)
		tok, _ := r.obj(t)["token"].(string)
		if !strings.HasPrefix(tok, "mgt_") {
			t.Fatalf("rotated token %q", tok)
		}
		return tok
	}
	t2 := rotate(t1)
	if t2 == t1 {
		t.Fatal("rotation returned the same token")
	}
	wantErr(t, e.call("GET", "/v1/instances/rot/state", t1, nil), http.StatusUnauthorized, "unauthorized")
	wantStatus(t, e.call("GET", "/v1/instances/rot/state", t2, nil), http.StatusOK)
	t3 := rotate(adminKey)
	wantErr(t, e.call("GET", "/v1/instances/rot/state", t2, nil), http.StatusUnauthorized, "unauthorized")
	wantErr(t, e.call("GET", "/v1/instances/rot/state", t1, nil), http.StatusUnauthorized, "unauthorized")
	wantStatus(t, e.call("GET", "/v1/instances/rot", t3, nil), http.StatusOK)
}

// TestNameCannotTakeIDForm: a name that a path could confuse with another
// instance's id, or that no path can reach, is refused.
func TestNameCannotTakeIDForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_, victim := e.create("victim", nil)
	id := victim["id"].(string)
	for _, name := range []string{id, strings.ToUpper(id), "ins_", "ins_0", ".", ".."} {
		r := e.call("POST", "/v1/instances", adminKey, map[string]any{"name": name})
		wantErr(t, r, http.StatusUnprocessableEntity, "invalid")
		wantFields(t, r, "name")
	}
	for _, name := range []string{"ins_home", "ins-0a", "...", ".a"} {
		wantStatus(t, e.call("POST", "/v1/instances", adminKey, map[string]any{"name": name}), http.StatusCreated)
	}
}

// TestTakeoverByIDName: an instance named like another instance's id (as an
// older version allowed) cannot reach that other instance with its token on
// any route, and the admin's id paths mean the instance with that id.
func TestTakeoverByIDName(t *testing.T) {
	t.Parallel()
	const victimID, attackerID, attackerToken = "ins_df8f00112233aabb", "ins_0123456789abcdef", "mgt_attacker-token-for-tests"
	sum := sha256.Sum256([]byte(attackerToken))
	e := newEnvSeeded(t, func(ctx context.Context, st *store.Store) error {
		if err := st.CreateInstance(ctx, &store.Instance{ID: victimID, Name: "victim", TokenHash: "00"}); err != nil {
			return err
		}
		return st.CreateInstance(ctx, &store.Instance{ID: attackerID, Name: victimID, TokenHash: hex.EncodeToString(sum[:])})
	}, nil)
	missing := e.call("GET", "/v1/instances/nope", adminKey, nil)
	for _, rt := range routes {
		if !strings.Contains(rt.path, "{name}") {
			continue
		}
		r := e.send(t, req{method: rt.method, path: fill(rt.path, victimID), key: attackerToken, body: rt.body})
		wantErr(t, r, http.StatusNotFound, "not_found")
		if string(r.body) != string(missing.body) {
			t.Fatalf("%s %s: 404 %s differs from a missing instance's %s", rt.method, rt.path, r.body, missing.body)
		}
	}
	// The attacker still reaches its own instance by its own id.
	r := e.call("GET", "/v1/instances/"+attackerID, attackerToken, nil)
	wantStatus(t, r, http.StatusOK)
	if got := r.obj(t)["instance"].(map[string]any)["id"]; got != attackerID {
		t.Fatalf("own id resolved to %v", got)
	}
	// Nothing of the victim changed; the admin's DELETE by id deletes the
	// instance with that id.
	r = e.call("GET", "/v1/instances/victim", adminKey, nil)
	wantStatus(t, r, http.StatusOK)
	if dn := r.obj(t)["instance"].(map[string]any)["device_name"]; dn == "patched" {
		t.Fatal("the attacker patched the victim")
	}
	wantStatus(t, e.call("DELETE", "/v1/instances/"+victimID, adminKey, nil), http.StatusNoContent)
	wantErr(t, e.call("GET", "/v1/instances/victim", adminKey, nil), http.StatusNotFound, "not_found")
	wantStatus(t, e.call("GET", "/v1/instances/"+attackerID, adminKey, nil), http.StatusOK)
}
