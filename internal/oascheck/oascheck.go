// Package oascheck holds HTTP exchanges against the OpenAPI document
// (api/openapi.json), so the document cannot drift from the code. Only
// tests import it: it keeps kin-openapi out of the binary.
package oascheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Doc is a loaded, validated document with its router. It is safe for
// concurrent use: validation only reads it.
type Doc struct {
	doc    *openapi3.T
	router routers.Router
	server *url.URL // the document's first server: requests are matched as if sent there
	bodies *bodies
}

// Load reads the document at path, checks that it is valid OpenAPI 3.1 with
// every $ref resolved, and builds its router.
func Load(path string) (*Doc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the OpenAPI document: %w", err)
	}
	loader := openapi3.NewLoader() // no external $refs: the document is one file
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.IsOpenAPI32OrLater() {
		return nil, fmt.Errorf("%s: openapi %q, want 3.1.x", path, doc.OpenAPI)
	}
	// Examples are validated too: they are part of what readers copy.
	if err := doc.Validate(loader.Context, openapi3.EnableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("%s is not valid OpenAPI 3.1: %w", path, err)
	}
	if len(doc.Servers) == 0 {
		return nil, fmt.Errorf("%s: no servers", path)
	}
	server, err := url.Parse(doc.Servers[0].URL)
	if err != nil {
		return nil, fmt.Errorf("%s: server URL: %w", path, err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: building the router: %w", path, err)
	}
	b, err := newBodies(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &Doc{doc: doc, router: router, server: server, bodies: b}, nil
}

// Exchange is one finished HTTP call as a client saw it.
type Exchange struct {
	Method string
	Path   string // path and query, as sent
	Header http.Header
	Body   []byte // the request body as sent; nil for none

	Status     int
	RespHeader http.Header
	RespBody   []byte
	// BodyUnread: the response body was not read (an event stream); only
	// its status and headers are checked.
	BodyUnread bool
}

// Check validates the request and the response of x against the document.
// The error names method, path and status and says what differs.
//
// A request the document rejects (bad parameter, body against the schema)
// is fine only if the server rejected it too, with a 4xx: tests send bad
// input on purpose, and the document must not accept less than the server.
// Credentials are checked the same way: a request that carries none of the
// documented schemes must have been answered 401 (or be on a route whose
// security is empty).
func (d *Doc) Check(ctx context.Context, x Exchange) error {
	where := fmt.Sprintf("%s %s → %d", x.Method, x.Path, x.Status)
	u, err := url.Parse(x.Path)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	u.Scheme, u.Host = d.server.Scheme, d.server.Host
	method := x.Method
	if method == http.MethodHead {
		method = http.MethodGet // HEAD is GET without the body (RFC 9110 9.3.2)
	}
	hr, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(x.Body))
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	hr.Header = x.Header.Clone()
	if hr.Header == nil {
		hr.Header = http.Header{}
	}
	if len(x.Body) > 0 && hr.Header.Get("Content-Type") == "" {
		hr.Header.Set("Content-Type", "application/json") // the server reads every body as JSON
	}

	route, pathParams, err := d.router.FindRoute(hr)
	if err != nil {
		// Unknown routes are the server's 404 and 405, or a 400 it gives
		// before routing (webhook_loop); their body is still the
		// documented error shape.
		if x.Status != http.StatusNotFound && x.Status != http.StatusMethodNotAllowed && x.Status != http.StatusBadRequest {
			return fmt.Errorf("%s: the document has no such operation (%v)", where, err)
		}
		return d.checkUnrouted(x, where)
	}

	reqOpts := &openapi3filter.Options{
		MultiError:          true,
		ExcludeRequestBody:  true, // see bodies
		SkipSettingDefaults: true,
		AuthenticationFunc:  credentialsPresent,
	}
	reqOpts.WithCustomSchemaErrorFunc(schemaReason)
	in := &openapi3filter.RequestValidationInput{Request: hr, PathParams: pathParams, Route: route, Options: reqOpts}
	if x.Status == http.StatusUnauthorized {
		in.Options.AuthenticationFunc = openapi3filter.NoopAuthenticationFunc
	}
	err = openapi3filter.ValidateRequest(ctx, in)
	if err == nil {
		err = d.checkRequestBody(route, hr.Header.Get("Content-Type"), x.Body)
	}
	if err != nil {
		if x.Status < 400 || x.Status >= 500 {
			return fmt.Errorf("%s: the server accepted a request the document rejects: %v", where, err)
		}
	}

	return d.checkResponse(ctx, x, in, where)
}

// checkRequestBody validates a request body against the operation's.
func (d *Doc) checkRequestBody(route *routers.Route, contentType string, body []byte) error {
	rb := route.Operation.RequestBody
	switch {
	case len(body) == 0:
		if rb != nil && rb.Value != nil && rb.Value.Required {
			return errors.New("the request body is required")
		}
		return nil
	case rb == nil:
		return errors.New("the operation takes no request body")
	}
	if mt, params, _ := mime.ParseMediaType(contentType); mt == "multipart/form-data" {
		ptr, err := d.bodies.mediaSchema(opPointer(route)+"/requestBody", mt)
		if err != nil {
			return fmt.Errorf("multipart/form-data is not documented: %w", err)
		}
		return d.bodies.checkForm(ptr, params["boundary"], body)
	}
	ptr, err := d.bodies.mediaSchema(opPointer(route)+"/requestBody", "application/json")
	if err != nil {
		return err
	}
	if err := d.bodies.validate(ptr, body); err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	return nil
}

// opPointer is the JSON pointer of the route's operation in the document.
func opPointer(route *routers.Route) string {
	return "/paths/" + escape(route.Path) + "/" + strings.ToLower(route.Method)
}

func (d *Doc) checkResponse(ctx context.Context, x Exchange, in *openapi3filter.RequestValidationInput, where string) error {
	resp := in.Route.Operation.Responses.Status(x.Status)
	if resp == nil || resp.Value == nil {
		return fmt.Errorf("%s: status %d is not documented for this operation", where, x.Status)
	}
	ct := x.RespHeader.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	opts := &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true}
	opts.WithCustomSchemaErrorFunc(schemaReason)
	content := resp.Value.Content
	opts.ExcludeResponseBody = true // see bodies
	switch {
	case len(content) == 0:
		if len(x.RespBody) > 0 {
			return fmt.Errorf("%s: the document has no body for this status, the server sent %q (%s)", where, ct, clip(x.RespBody))
		}
	case content.Get(ct) == nil:
		return fmt.Errorf("%s: Content-Type %q is not documented for this status (documented: %s)", where, ct, strings.Join(keys(content), ", "))
	case x.BodyUnread || x.Method == http.MethodHead || !isJSON(mt):
		// Headers only; the body's media type matched above.
		if err := checkOpaque(mt, x); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	default:
		ptr, err := d.bodies.mediaSchema(opPointer(in.Route)+"/responses/"+strconv.Itoa(x.Status), mediaKey(content, ct))
		if err == nil {
			err = d.bodies.validate(ptr, x.RespBody)
		}
		if err != nil {
			return fmt.Errorf("%s: the response body differs from the document: %v\nbody: %s", where, err, clip(x.RespBody))
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 x.Status,
		Header:                 x.RespHeader,
		Body:                   io.NopCloser(bytes.NewReader(x.RespBody)),
		Options:                opts,
	}
	if x.Method == http.MethodHead {
		// ValidateResponse skips HEAD; the request was routed as GET.
		out.RequestValidationInput = &openapi3filter.RequestValidationInput{Request: in.Request, PathParams: in.PathParams, Route: in.Route}
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("%s: the response differs from the document: %v\nbody: %s", where, err, clip(x.RespBody))
	}
	return nil
}

// checkUnrouted validates the error body of a 400, 404 or 405 for a path or
// method the document does not have.
func (d *Doc) checkUnrouted(x Exchange, where string) error {
	name := "NotFound"
	if x.Status == http.StatusBadRequest {
		name = "BadRequest"
	}
	if x.Status == http.StatusMethodNotAllowed {
		name = "MethodNotAllowed"
		if x.RespHeader.Get("Allow") == "" {
			return fmt.Errorf("%s: 405 without Allow", where)
		}
	}
	ref := d.doc.Components.Responses[name]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("%s: the document has no components.responses.%s", where, name)
	}
	if x.Method == http.MethodHead {
		return nil
	}
	ct := x.RespHeader.Get("Content-Type")
	if ref.Value.Content.Get(ct) == nil {
		return fmt.Errorf("%s: Content-Type %q is not that of components.responses.%s", where, ct, name)
	}
	ptr, err := d.bodies.mediaSchema("/components/responses/"+name, mediaKey(ref.Value.Content, ct))
	if err == nil {
		err = d.bodies.validate(ptr, x.RespBody)
	}
	if err != nil {
		return fmt.Errorf("%s: the body differs from components.responses.%s: %v\nbody: %s", where, name, err, clip(x.RespBody))
	}
	return nil
}

// credentialsPresent accepts a security scheme when the request carries its
// header; checking the key itself is the server's job.
func credentialsPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s := in.SecurityScheme
	h := in.RequestValidationInput.Request.Header
	switch {
	case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
		if a := h.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			return nil
		}
	case s.Type == "apiKey" && s.In == "header":
		if h.Get(s.Name) != "" {
			return nil
		}
	case s.Type == "apiKey" && s.In == "cookie":
		if c, err := in.RequestValidationInput.Request.Cookie(s.Name); err == nil && c.Value != "" {
			return nil
		}
	default:
		return fmt.Errorf("security scheme %q (%s) is not one the gateway uses", in.SecuritySchemeName, s.Type)
	}
	return errors.New("no credentials for " + in.SecuritySchemeName)
}

// schemaReason words a schema error without the schema and value dumps
// kin-openapi adds by default: the path and what is wrong there.
func schemaReason(err *openapi3.SchemaError) string {
	if err.Origin != nil {
		return err.Origin.Error()
	}
	return err.Reason
}

// checkOpaque checks the bodies JSON Schema cannot describe.
func checkOpaque(mt string, x Exchange) error {
	if x.BodyUnread || x.Method == http.MethodHead {
		return nil
	}
	switch {
	case mt == "image/png":
		if !bytes.HasPrefix(x.RespBody, []byte("\x89PNG\r\n\x1a\n")) {
			return fmt.Errorf("image/png body is not a PNG: %s", clip(x.RespBody))
		}
	case strings.HasPrefix(mt, "text/"):
		if len(x.RespBody) == 0 {
			return fmt.Errorf("empty %s body", mt)
		}
	}
	return nil
}

// mediaKey is the key of content that kin-openapi matches to ct.
func mediaKey(content openapi3.Content, ct string) string {
	mt := content.Get(ct)
	for k, v := range content {
		if v == mt {
			return k
		}
	}
	return ct
}

func isJSON(mt string) bool { return mt == "application/json" || strings.HasSuffix(mt, "+json") }

func keys(c openapi3.Content) []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}

func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// CheckSchema validates a JSON value against the component schema name
// (components.schemas.<name>): for payloads no exchange carries whole, such
// as the data of event types a test cannot provoke.
func (d *Doc) CheckSchema(name string, value []byte) error {
	return d.bodies.validate("/components/schemas/"+escape(name), value)
}
