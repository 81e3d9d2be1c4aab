// Package client is a typed Go client for the meowgate HTTP API. It knows
// the wire only (routes, JSON shapes, error codes) and, of the server's
// packages, only the event vocabulary (package event, which imports
// nothing), so third parties can use it as it is; the meowgate CLI, the
// benchmarks and the end-to-end tests use it too.
//
//	c := client.New("http://127.0.0.1:8080", key)
//	created, err := c.CreateInstance(ctx, client.CreateInstanceRequest{Name: "pi"})
//
// Every method returns *Error for an answer in the API's error shape.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout bounds each request of a Client made without
// WithHTTPClient. The event stream, SendFile and Media are not bounded by
// it (only by their context).
const DefaultTimeout = 30 * time.Second

// maxBody bounds the answers the client reads into memory.
const maxBody = 16 << 20

// Client calls one meowgate with one key (the admin key or an instance
// token). It is safe for concurrent use.
type Client struct {
	base   string
	auth   []string // the Authorization header's value, shared read-only by every request
	hc     *http.Client
	stream *http.Client // hc without its timeout, for the event stream and files
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests through hc (its
// transport, timeout and redirect policy).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// New returns a client for the meowgate at baseURL ("http://127.0.0.1:8080")
// that authenticates with key; an empty key sends none (health routes).
func New(baseURL, key string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/"), hc: &http.Client{Timeout: DefaultTimeout}}
	if key != "" {
		c.auth = []string{"Bearer " + key}
	}
	for _, o := range opts {
		o(c)
	}
	s := *c.hc
	s.Timeout = 0
	c.stream = &s
	return c
}

// BaseURL is the address the client calls, without a trailing slash.
func (c *Client) BaseURL() string { return c.base }

// Header values shared by every request: the transport only reads them.
var (
	jsonContentType = []string{"application/json"}
)

// call is one request.
type call struct {
	method, path string
	in           any    // JSON-encoded as the body unless nil
	out          any    // receives the decoded 2xx answer unless nil
	idemKey      string // Idempotency-Key header
	raw          bool   // return the answer's bytes
	header       *http.Header
	body         io.Reader // sent as it is, with contentType, when in is nil
	contentType  string
	// long calls (an upload, a file download) go through the client
	// without a timeout: they are bounded by their context only.
	long bool
}

// bufs holds the buffers answers are read into.
var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// do performs a call. A non-2xx answer is an *Error; a transport failure is
// returned wrapped, with the context's error when that is the cause.
func (c *Client) do(ctx context.Context, k call) ([]byte, error) {
	resp, err := c.roundTrip(ctx, k)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	buf := bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufs.Put(buf)
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxBody)); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s %s: reading the answer: %w", k.method, k.path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, decodeError(resp, buf.Bytes())
	}
	if k.header != nil {
		*k.header = resp.Header
	}
	if k.out != nil && buf.Len() > 0 {
		if err := json.Unmarshal(buf.Bytes(), k.out); err != nil {
			return nil, fmt.Errorf("%s %s: unexpected answer: %w", k.method, k.path, err)
		}
	}
	if k.raw {
		return bytes.Clone(buf.Bytes()), nil
	}
	return nil, nil
}

// roundTrip sends the call's request and returns the answer unread.
func (c *Client) roundTrip(ctx context.Context, k call) (*http.Response, error) {
	body := k.body
	if k.in != nil {
		b, err := json.Marshal(k.in)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encoding the body: %w", k.method, k.path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, c.base+k.path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", k.method, k.path, err)
	}
	if c.auth != nil {
		req.Header["Authorization"] = c.auth
	}
	switch {
	case k.in != nil:
		req.Header["Content-Type"] = jsonContentType
	case k.body != nil:
		req.Header.Set("Content-Type", k.contentType)
	}
	if k.idemKey != "" {
		req.Header["Idempotency-Key"] = []string{k.idemKey}
	}
	hc := c.hc
	if k.long {
		hc = c.stream
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s %s: %w", k.method, k.path, err)
	}
	return resp, nil
}

// Do sends a request with the client's key and returns the answer's body
// verbatim; out, unless nil, receives it decoded. It is for callers that
// want the JSON as the server wrote it, and for routes the typed methods do
// not cover. path starts with "/" and may carry a query.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) ([]byte, error) {
	return c.do(ctx, call{method: method, path: path, in: in, out: out, raw: true})
}

// instancePath is /v1/instances/{name} followed by rest.
func instancePath(name string, rest ...string) string {
	p := "/v1/instances/" + url.PathEscape(name)
	for _, r := range rest {
		p += r
	}
	return p
}

// query builds "?k=v&…" from the non-empty pairs.
func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// itoa is strconv.Itoa that leaves 0 (unset) empty.
func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// Error is an answer in the API's error shape
// {"error":{"code","message","fields"}}, or any other non-2xx answer (with
// the code "http_<status>").
type Error struct {
	Status  int               `json:"-"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
	// State is the instance's state on a 409 state conflict
	// (already_connected, not_connected, not_paired, not_awaiting_qr).
	State string `json:"state,omitempty"`
	// RetryAfter is the Retry-After of a 429 (or 503).
	RetryAfter time.Duration `json:"-"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("meowgate: HTTP %d %s: %s", e.Status, e.Code, e.Message)
	if e.State != "" {
		s += " (state " + e.State + ")"
	}
	return s
}

// IsCode reports whether err is an *Error with the code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// StatusOf is the HTTP status of an *Error, or 0 for any other error.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

func decodeError(resp *http.Response, data []byte) *Error {
	var eb struct {
		Error *Error `json:"error"`
	}
	e := &Error{}
	if json.Unmarshal(data, &eb) == nil && eb.Error != nil && eb.Error.Code != "" {
		e = eb.Error
	} else {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		if msg == "" {
			msg = resp.Status
		}
		e.Code, e.Message = "http_"+strconv.Itoa(resp.StatusCode), msg
	}
	e.Status = resp.StatusCode
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		} else if t, err := http.ParseTime(s); err == nil {
			e.RetryAfter = max(0, time.Until(t))
		}
	}
	return e
}
