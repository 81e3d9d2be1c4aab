package oascheck

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocumentValid loads api/openapi.json: valid OpenAPI 3.1, every $ref
// resolved, the examples matching their schemas.
func TestDocumentValid(t *testing.T) {
	if _, err := Load("../../api/openapi.json"); err != nil {
		t.Fatal(err)
	}
}

// TestLoadRejects checks that Load fails on a dangling $ref and on a schema
// error, so TestDocumentValid can fail.
func TestLoadRejects(t *testing.T) {
	orig, err := os.ReadFile("../../api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ old, new string }{
		"dangling ref":  {`"#/components/schemas/Instance"`, `"#/components/schemas/Nope"`},
		"bad type":      {`"type": "object"`, `"type": "objekt"`},
		"bad example":   {`"code": "bad_request",`, `"code": "no_such_code",`},
		"wrong version": {`"openapi": "3.1.0"`, `"openapi": "3.0.3"`},
	} {
		t.Run(name, func(t *testing.T) {
			if !bytes.Contains(orig, []byte(c.old)) {
				t.Fatalf("the document has no %s", c.old)
			}
			p := filepath.Join(t.TempDir(), "openapi.json")
			if err := os.WriteFile(p, bytes.Replace(orig, []byte(c.old), []byte(c.new), 1), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(p); err == nil {
				t.Fatal("loaded")
			} else {
				t.Log(err)
			}
		})
	}
}

// TestCheckRejects checks that Check catches the drifts it is for.
func TestCheckRejects(t *testing.T) {
	d, err := Load("../../api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	auth := http.Header{"Authorization": {"Bearer k"}}
	js := http.Header{"Content-Type": {"application/json"}}
	ok := Exchange{Method: "GET", Path: "/healthz", Status: 200, RespHeader: js, RespBody: []byte(`{"status":"ok"}`)}
	if err := d.Check(context.Background(), ok); err != nil {
		t.Fatalf("a good exchange: %v", err)
	}
	for name, c := range map[string]struct {
		x    Exchange
		want string
	}{
		"undocumented status": {Exchange{Method: "GET", Path: "/healthz", Status: 418, RespHeader: js, RespBody: []byte(`{}`)}, "not documented"},
		"undocumented route":  {Exchange{Method: "GET", Path: "/v1/nope", Status: 200, RespHeader: js, RespBody: []byte(`{}`)}, "no such operation"},
		"bad error shape":     {Exchange{Method: "GET", Path: "/v1/instances/x", Header: auth, Status: 404, RespHeader: js, RespBody: []byte(`{"error":{"code":"nope","message":"m"}}`)}, "differs"},
		"extra property":      {Exchange{Method: "GET", Path: "/v1/instances/x", Header: auth, Status: 404, RespHeader: js, RespBody: []byte(`{"error":{"code":"not_found","message":"m","detail":"d"}}`)}, "differs"},
		"missing property":    {Exchange{Method: "GET", Path: "/v1/instances/x/state", Header: auth, Status: 200, RespHeader: js, RespBody: []byte(`{}`)}, "differs"},
		"wrong content type":  {Exchange{Method: "GET", Path: "/healthz", Status: 200, RespHeader: http.Header{"Content-Type": {"text/html"}}, RespBody: []byte(`x`)}, "not documented"},
		"accepted bad body":   {Exchange{Method: "POST", Path: "/v1/instances", Header: auth, Body: []byte(`{"name":""}`), Status: 201, RespHeader: js, RespBody: []byte(`{}`)}, "accepted a request"},
		"accepted no key":     {Exchange{Method: "GET", Path: "/v1/instances", Status: 200, RespHeader: js, RespBody: []byte(`{"instances":[]}`)}, "accepted a request"},
		"not a png":           {Exchange{Method: "GET", Path: "/v1/instances/x/qr?format=png", Header: auth, Status: 200, RespHeader: http.Header{"Content-Type": {"image/png"}}, RespBody: []byte(`{}`)}, "not a PNG"},
	} {
		t.Run(name, func(t *testing.T) {
			err := d.Check(context.Background(), c.x)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
			if testing.Verbose() {
				t.Log(err)
			}
		})
	}
}
