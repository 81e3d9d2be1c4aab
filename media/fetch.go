package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// Fetcher stages media; its zero value fetches URLs with a default client
// and a 60 s timeout. It is safe for concurrent use.
type Fetcher struct {
	// Client fetches URLs; nil means a default client. Redirects are
	// followed only to http and https, at most 5 (unless the client has
	// its own CheckRedirect).
	Client *http.Client
	// Timeout bounds a whole fetch, headers and body; 0 means 60 s.
	Timeout time.Duration
}

const (
	defaultTimeout = 60 * time.Second
	maxRedirects   = 5
)

func (f *Fetcher) timeout() time.Duration {
	if f == nil || f.Timeout <= 0 {
		return defaultTimeout
	}
	return f.Timeout
}

// redirectError is a redirect the fetcher refuses.
type redirectError struct{ msg string }

func (e *redirectError) Error() string { return e.msg }

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return &redirectError{fmt.Sprintf("%s redirected more than %d times", via[0].URL.Host, maxRedirects)}
	}
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return &redirectError{fmt.Sprintf("%s redirected to a %s: URL; only http and https are fetched", via[0].URL.Host, s)}
	}
	return nil
}

func (f *Fetcher) client() *http.Client {
	if f == nil || f.Client == nil {
		return &http.Client{CheckRedirect: checkRedirect}
	}
	if f.Client.CheckRedirect != nil {
		return f.Client
	}
	c := *f.Client
	c.CheckRedirect = checkRedirect
	return &c
}

// fetched is an open URL response.
type fetched struct {
	body     io.ReadCloser
	served   string // the response's Content-Type, normalized
	fileName string // from Content-Disposition or the URL path
	host     string
	cancel   context.CancelFunc
}

func (r *fetched) Close() error {
	err := r.body.Close()
	r.cancel()
	return err
}

func durText(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return d.String()
}

// open starts fetching a URL: it checks the scheme, the status, the
// announced length and the served type before any of the body is read.
// parent is the caller's context, to tell its cancelation from our timeout.
func (f *Fetcher) open(parent context.Context, kind, raw string) (*fetched, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, inputErr("url", "not a valid URL: %v", errors.Unwrap(err))
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, inputErr("url", "only http and https URLs can be fetched, not %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, inputErr("url", "the URL has no host")
	}
	timeout := f.timeout()
	ctx, cancel := context.WithTimeout(parent, timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel()
		return nil, inputErr("url", "not a valid URL: %v", err)
	}
	req.Header.Set("Accept", "*/*")
	resp, err := f.client().Do(req)
	if err != nil {
		cancel()
		return nil, fetchErr(parent, err, u.Host, timeout, false)
	}
	fail := func(e error) (*fetched, error) {
		resp.Body.Close()
		cancel()
		return nil, e
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fail(inputErr("url", "%s answered %s", u.Host, resp.Status))
	}
	if resp.ContentLength > MaxSize(kind) {
		return fail(tooLarge("url", kind, resp.ContentLength))
	}
	served := normalizeMime(resp.Header.Get("Content-Type"))
	if !servedFits(kind, served) {
		return fail(inputErr("url", "%s serves %s, not %s", u.Host, served, kindNoun(kind)))
	}
	name := ""
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		name = cleanName(params["filename"])
	}
	if name == "" {
		name = urlName(resp.Request.URL)
	}
	if name == "" {
		name = urlName(u)
	}
	return &fetched{body: resp.Body, served: served, fileName: name, host: u.Host, cancel: cancel}, nil
}

// fetchErr turns a failed request or body read into a message naming the
// host; the caller's own cancelation stays a plain error.
func fetchErr(parent context.Context, err error, host string, timeout time.Duration, body bool) error {
	if parent.Err() != nil {
		return fmt.Errorf("media: fetching from %s: %w", host, parent.Err())
	}
	var re *redirectError
	if errors.As(err, &re) {
		return inputErr("url", "%s", re.msg)
	}
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		if body {
			return inputErr("url", "%s did not send the whole file within %s", host, durText(timeout))
		}
		return inputErr("url", "%s did not answer within %s", host, durText(timeout))
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return inputErr("url", "cannot resolve host %s: %s", dns.Name, dns.Err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return inputErr("url", "cannot fetch from %s: %v", host, err)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// servedFits says whether a served Content-Type can be of the kind; the
// bytes decide the exact type later. Generic types always fit.
func servedFits(kind, served string) bool {
	if isGeneric(served) || kind == KindDocument {
		return true
	}
	family, _, _ := strings.Cut(served, "/")
	switch kind {
	case KindImage, KindSticker:
		return family == "image"
	case KindVideo:
		return family == "video"
	case KindAudio:
		return family == "audio" || served == "video/mp4" || served == "video/3gpp"
	}
	return false
}

func kindNoun(kind string) string {
	switch kind {
	case KindImage:
		return "an image (" + allowedList(kind) + ")"
	case KindSticker:
		return "a sticker (image/webp)"
	case KindVideo:
		return "a video (" + allowedList(kind) + ")"
	case KindAudio:
		return "audio (" + allowedList(kind) + ")"
	}
	return "a " + kind
}

// urlName is the last segment of a URL's path, if it looks like a name.
func urlName(u *url.URL) string {
	if u == nil || strings.HasSuffix(u.Path, "/") {
		return ""
	}
	return cleanName(path.Base(u.Path))
}

// cleanName keeps the last element of a client-given name, without
// control characters; "" if nothing is left.
func cleanName(s string) string {
	s = strings.ReplaceAll(s, "\\", "/")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7F {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if s == "." || s == ".." {
		return ""
	}
	if len(s) > 255 {
		s = strings.ToValidUTF8(s[len(s)-255:], "")
	}
	return s
}
