package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/meowgate/meowgate/api"
)

func withConsole(o *api.Options) { o.Console = true }

// login logs in to the console and returns the session cookie and the
// CSRF token.
func (e *env) login(key string) (cookie, csrf string) {
	e.t.Helper()
	r := e.send(e.t, req{method: "POST", path: "/console/login", body: map[string]string{"key": key},
		header: map[string]string{"Content-Type": "application/json"}})
	wantStatus(e.t, r, http.StatusOK)
	var sc *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "meowgate_session" {
			sc = c
		}
	}
	if sc == nil || sc.Value == "" {
		e.t.Fatalf("login set no session cookie: %v", r.header["Set-Cookie"])
	}
	if !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Path != "/" || sc.MaxAge <= 0 {
		e.t.Errorf("session cookie %q: want HttpOnly, SameSite=Strict, Path=/ and a lifetime", r.header.Get("Set-Cookie"))
	}
	csrf, _ = r.obj(e.t)["csrf_token"].(string)
	if len(csrf) < 32 {
		e.t.Fatalf("login: csrf_token %q", csrf)
	}
	return "meowgate_session=" + sc.Value, csrf
}

// as sends a request with the console cookie and, if set, the CSRF token.
func (e *env) as(cookie, csrf, method, path string, body any) *res {
	e.t.Helper()
	hd := map[string]string{"Cookie": cookie}
	if csrf != "" {
		hd["X-CSRF-Token"] = csrf
	}
	return e.send(e.t, req{method: method, path: path, body: body, header: hd})
}

func wantConsoleHeaders(t *testing.T, r *res) {
	t.Helper()
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", r.req, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") {
		t.Errorf("%s: CSP %q allows too much", r.req, csp)
	}
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s: %s %q, want %q", r.req, h, got, want)
		}
	}
}

func TestConsoleDisabled(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"/", "/console/assets/app.js", "/console/info"} {
		wantErr(t, e.call("GET", p, "", nil), http.StatusNotFound, "not_found")
	}
	r := e.send(t, req{method: "POST", path: "/console/login", body: map[string]string{"key": adminKey},
		header: map[string]string{"Content-Type": "application/json"}})
	wantErr(t, r, http.StatusNotFound, "not_found")
}

// TestConsolePage checks the page and its files: the security headers,
// no inline script or style (the CSP would block them), and the weight.
func TestConsolePage(t *testing.T) {
	e := newEnv(t, withConsole)
	page := e.call("GET", "/", "", nil)
	wantStatus(t, page, http.StatusOK)
	wantConsoleHeaders(t, page)
	if ct := page.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("/: Content-Type %q", ct)
	}
	html := string(page.body)
	if m := regexp.MustCompile(`<script(\s[^>]*)?>`).FindAllString(html, -1); len(m) == 0 {
		t.Error("no script tag")
	} else {
		for _, tag := range m {
			if !strings.Contains(tag, `src="/console/assets/`) {
				t.Errorf("inline or foreign script: %s", tag)
			}
		}
	}
	if regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=|https?://`).MatchString(html) {
		t.Error("the page has an inline style, an inline handler or an absolute URL")
	}
	total := len(page.body)
	for _, f := range regexp.MustCompile(`/console/assets/[A-Za-z0-9._-]+`).FindAllString(html, -1) {
		r := e.call("GET", f, "", nil)
		wantStatus(t, r, http.StatusOK)
		wantConsoleHeaders(t, r)
		total += len(r.body)
		// A revalidation costs nothing.
		r2 := e.send(t, req{method: "GET", path: f, header: map[string]string{"If-None-Match": r.header.Get("ETag")}})
		wantStatus(t, r2, http.StatusNotModified)
	}
	t.Logf("first page: %d bytes", total)
	if total > 200<<10 {
		t.Errorf("first page is %d bytes, want under 200 KiB", total)
	}
	wantErr(t, e.call("GET", "/console/assets/nothing.js", "", nil), http.StatusNotFound, "not_found")
	wantErr(t, e.call("GET", "/console/assets/index.html", "", nil), http.StatusNotFound, "not_found")
	// Every other route is as before.
	wantErr(t, e.call("GET", "/v1/nothing", adminKey, nil), http.StatusNotFound, "not_found")
	wantStatus(t, e.call("GET", "/healthz", "", nil), http.StatusOK)
}

// TestConsoleSession: the cookie authenticates, state changes need the
// CSRF token, logout ends the session.
func TestConsoleSession(t *testing.T) {
	e := newEnv(t, withConsole)
	// The key goes only in a JSON body.
	r := e.send(t, req{method: "POST", path: "/console/login", body: `{"key":"` + adminKey + `"}`, header: map[string]string{"Content-Type": "text/plain"}})
	wantErr(t, r, http.StatusBadRequest, "bad_request")
	r = e.send(t, req{method: "POST", path: "/console/login", body: map[string]string{"key": ""}, header: map[string]string{"Content-Type": "application/json"}})
	wantFields(t, r, "key")

	cookie, csrf := e.login(adminKey)
	info := e.as(cookie, "", "GET", "/console/info", nil)
	wantStatus(t, info, http.StatusOK)
	wantConsoleHeaders(t, info)
	o := info.obj(t)
	if o["admin"] != true || o["csrf_token"] != csrf || o["sandbox"] != true {
		t.Errorf("info %s", info.body)
	}
	// A key caller never sees a CSRF token.
	if o := e.call("GET", "/console/info", adminKey, nil).obj(t); o["csrf_token"] != nil {
		t.Errorf("info with a key has a csrf_token: %v", o)
	}
	wantStatus(t, e.as(cookie, "", "GET", "/v1/instances", nil), http.StatusOK)

	body := map[string]any{"name": "csrf"}
	wantErr(t, e.as(cookie, "", "POST", "/v1/instances", body), http.StatusForbidden, "csrf_failed")
	wantErr(t, e.as(cookie, csrf+"x", "POST", "/v1/instances", body), http.StatusForbidden, "csrf_failed")
	wantErr(t, e.as(cookie, "", "DELETE", "/v1/instances/csrf", nil), http.StatusForbidden, "csrf_failed")
	wantErr(t, e.call("GET", "/v1/instances/csrf", adminKey, nil), http.StatusNotFound, "not_found")
	wantStatus(t, e.as(cookie, csrf, "POST", "/v1/instances", body), http.StatusCreated)

	// Another session's token does not fit this one.
	cookie2, csrf2 := e.login(adminKey)
	wantErr(t, e.as(cookie, csrf2, "PATCH", "/v1/instances/csrf", map[string]any{"device_name": "x"}), http.StatusForbidden, "csrf_failed")

	wantErr(t, e.as(cookie, "", "POST", "/console/logout", nil), http.StatusForbidden, "csrf_failed")
	out := e.as(cookie, csrf, "POST", "/console/logout", nil)
	wantStatus(t, out, http.StatusNoContent)
	if sc := out.header.Get("Set-Cookie"); !strings.Contains(sc, "meowgate_session=;") || !strings.Contains(sc, "Max-Age=0") {
		t.Errorf("logout Set-Cookie %q", sc)
	}
	wantErr(t, e.as(cookie, "", "GET", "/v1/instances", nil), http.StatusUnauthorized, "unauthorized")
	wantErr(t, e.as(cookie, csrf, "POST", "/v1/instances", map[string]any{"name": "late"}), http.StatusUnauthorized, "unauthorized")
	wantStatus(t, e.as(cookie2, "", "GET", "/v1/instances", nil), http.StatusOK) // the other session lives on
	wantErr(t, e.as("meowgate_session=forged", "", "GET", "/v1/instances", nil), http.StatusUnauthorized, "unauthorized")
}

// TestConsoleTokenSession: an instance token's session sees only its
// instance, and ends when the token is rotated.
func TestConsoleTokenSession(t *testing.T) {
	e := newEnv(t, withConsole)
	tok, _ := e.create("mine", nil)
	e.create("theirs", nil)
	cookie, csrf := e.login(tok)
	o := e.as(cookie, "", "GET", "/console/info", nil).obj(t)
	if o["admin"] != false || o["instance"] != "mine" {
		t.Errorf("info %v", o)
	}
	list := e.as(cookie, "", "GET", "/v1/instances", nil)
	wantStatus(t, list, http.StatusOK)
	if strings.Contains(string(list.body), "theirs") || !strings.Contains(string(list.body), "mine") {
		t.Errorf("token session lists %s", list.body)
	}
	wantErr(t, e.as(cookie, "", "GET", "/v1/instances/theirs", nil), http.StatusNotFound, "not_found")
	wantErr(t, e.as(cookie, csrf, "POST", "/v1/instances", map[string]any{"name": "x"}), http.StatusForbidden, "forbidden")
	wantStatus(t, e.as(cookie, csrf, "POST", "/v1/instances/mine/token", nil), http.StatusOK)
	wantErr(t, e.as(cookie, "", "GET", "/v1/instances/mine", nil), http.StatusUnauthorized, "unauthorized")
}

// TestConsoleLoginRateLimited: wrong logins count as wrong keys.
func TestConsoleLoginRateLimited(t *testing.T) {
	e := newEnv(t, func(o *api.Options) { o.Console, o.AuthFailBurst = true, 3 })
	login := func(key string) *res {
		return e.send(t, req{method: "POST", path: "/console/login", body: map[string]string{"key": key},
			header: map[string]string{"Content-Type": "application/json"}})
	}
	for range 3 {
		wantErr(t, login("wrong-key-guess"), http.StatusUnauthorized, "unauthorized")
	}
	r := login("wrong-key-guess")
	wantErr(t, r, http.StatusTooManyRequests, "rate_limited")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// The same address guessing through the API's key header is slowed too.
	wantErr(t, e.call("GET", "/v1/instances", "wrong-key-guess", nil), http.StatusTooManyRequests, "rate_limited")
}
