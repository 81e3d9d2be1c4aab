package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/meowgate/meowgate/event"
)

// The web console: static files embedded in the binary, served at / and
// /console/assets/, and a cookie session so the browser never holds the key
// where a script can read it. The session is only accepted when the console
// is enabled (Options.Console).

//go:embed console
var consoleFiles embed.FS

const (
	sessionCookie = "meowgate_session"
	csrfHeader    = "X-CSRF-Token"
	// sessionTTL is how long a console login lasts; then the browser asks
	// for the key again.
	sessionTTL = 12 * time.Hour
	// maxSessions bounds the memory logins can take; the oldest goes first.
	maxSessions = 1000
	codeCSRF    = "csrf_failed"
)

var errCSRF = errorf(http.StatusForbidden, codeCSRF, "a request authenticated by the console session needs the "+csrfHeader+" header from the login")

// consoleCSP allows only the server's own files: no inline script or style,
// images also as data: URIs (the QR code), no framing.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// consoleRoutes are added to routes() when the console is enabled.
func (h *handler) consoleRoutes() []route {
	return []route{
		{"GET", "/{$}", anyone, h.consoleIndex},
		{"GET", "/console/assets/{file}", anyone, h.consoleAsset},
		{"POST", "/console/login", anyone, h.consoleLogin},
		{"POST", "/console/logout", authenticated, h.consoleLogout},
		{"GET", "/console/info", authenticated, h.consoleInfo},
	}
}

func isConsolePattern(p string) bool { return p == "/{$}" || strings.HasPrefix(p, "/console/") }

// withConsoleHeaders sets the browser hardening headers on every console
// response, errors included.
func withConsoleHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", consoleCSP)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}

// assetTypes is fixed here, not read from the system's mime.types, so the
// console is served the same everywhere.
var assetTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// asset is one embedded file with its validator.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

func loadAssets() (map[string]asset, error) {
	out := map[string]asset{}
	err := fs.WalkDir(consoleFiles, "console", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := consoleFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := assetTypes[path.Ext(p)]
		if ct == "" {
			return fmt.Errorf("%s: no content type for this extension", p)
		}
		out[path.Base(p)] = asset{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	return out, err
}

func (h *handler) consoleIndex(w http.ResponseWriter, r *http.Request, _ *caller) error {
	return h.serveAsset(w, r, "index.html")
}

func (h *handler) consoleAsset(w http.ResponseWriter, r *http.Request, _ *caller) error {
	name := r.PathValue("file")
	if name == "index.html" {
		return errNotFound
	}
	return h.serveAsset(w, r, name)
}

func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request, name string) error {
	a, ok := h.assets[name]
	if !ok {
		return errNotFound
	}
	w.Header().Set("ETag", a.etag)
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.Header().Set("Content-Type", a.contentType)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.body)
	}
	return nil
}

// sessions are the console logins, in memory: a restart logs everyone out.
type sessions struct {
	mu   sync.Mutex
	byID map[[32]byte]*session // by the hash of the cookie value
	now  func() time.Time
}

// session holds the key it logged in with, server-side only, and checks it
// again on every request: a rotated token or a deleted instance ends it.
type session struct {
	id      [32]byte
	key     string
	csrf    string
	expires time.Time
}

func newSessions() *sessions {
	return &sessions{byID: map[[32]byte]*session{}, now: time.Now}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session for key and returns it with the cookie value.
func (s *sessions) create(key string) (*session, string) {
	cookie := randomToken()
	se := &session{id: sha256.Sum256([]byte(cookie)), key: key, csrf: randomToken(), expires: s.now().Add(sessionTTL)}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for id, o := range s.byID {
		if !now.Before(o.expires) {
			delete(s.byID, id)
		}
	}
	for len(s.byID) >= maxSessions {
		var oldest *session
		for _, o := range s.byID {
			if oldest == nil || o.expires.Before(oldest.expires) {
				oldest = o
			}
		}
		delete(s.byID, oldest.id)
	}
	s.byID[se.id] = se
	return se, cookie
}

// lookup returns the live session the request's cookie names, or nil.
func (s *sessions) lookup(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	id := sha256.Sum256([]byte(c.Value))
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.byID[id]
	if se == nil {
		return nil
	}
	if !s.now().Before(se.expires) {
		delete(s.byID, id)
		return nil
	}
	return se
}

func (s *sessions) drop(se *session) {
	s.mu.Lock()
	delete(s.byID, se.id)
	s.mu.Unlock()
}

// csrfOK reports whether the request carries the session's CSRF token.
func (se *session) csrfOK(r *http.Request) bool {
	got := r.Header.Get(csrfHeader)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(se.csrf)) == 1
}

// overTLS reports whether the browser reached the server over https,
// directly or through a TLS-terminating proxy. A forged header only makes
// the forger's own cookie Secure.
func overTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func safeMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// sessionKey returns the key of the request's console session when it
// carries no key of its own, refusing a state-changing request without the
// CSRF token.
func (h *handler) sessionKey(r *http.Request) (string, *session, error) {
	if h.sessions == nil {
		return "", nil, nil
	}
	se := h.sessions.lookup(r)
	if se == nil {
		return "", nil, nil
	}
	if !safeMethod(r.Method) && !se.csrfOK(r) {
		return "", nil, errCSRF
	}
	return se.key, se, nil
}

func (h *handler) consoleLogin(w http.ResponseWriter, r *http.Request, _ *caller) error {
	// A JSON Content-Type cannot be sent cross-site without a CORS
	// preflight, which this server never grants: no login CSRF.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return errorf(http.StatusBadRequest, codeBadRequest, "the login takes a JSON body with Content-Type: application/json")
	}
	var p struct {
		Key string `json:"key"`
	}
	if err := h.decode(w, r, &p, false); err != nil {
		return err
	}
	if p.Key == "" {
		return invalidFields("key is required", map[string]string{"key": "is required: the admin key or an instance token"})
	}
	c := &caller{}
	if len(h.admin) > 0 && subtle.ConstantTimeCompare([]byte(p.Key), h.admin) == 1 {
		c.admin = true
	} else if info, ok := h.m.Authenticate(p.Key); ok {
		c.instance = info
	} else {
		// A login is a key guess like any other: the same per-address limit.
		if wait := h.limits.allowFailure(remoteHost(r)); wait > 0 {
			return &Error{Status: http.StatusTooManyRequests, Code: codeRateLimited, Message: "too many failed authentications", RetryAfter: wait}
		}
		return errUnauthorized
	}
	se, cookie := h.sessions.create(p.Key)
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: cookie, Path: "/", Expires: se.expires, MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: overTLS(r),
	})
	writeJSON(w, http.StatusOK, h.whoami(c, se))
	return nil
}

func (h *handler) consoleLogout(w http.ResponseWriter, r *http.Request, c *caller) error {
	if c.session != nil {
		h.sessions.drop(c.session)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: overTLS(r)})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) consoleInfo(w http.ResponseWriter, _ *http.Request, c *caller) error {
	writeJSON(w, http.StatusOK, h.whoami(c, c.session))
	return nil
}

// consoleWho is what the console needs to know about the caller and the
// server; csrf_token is only sent to a session's own requests.
type consoleWho struct {
	Admin      bool      `json:"admin"`
	Instance   string    `json:"instance,omitempty"`
	Sandbox    bool      `json:"sandbox"`
	Version    string    `json:"version"`
	EventTypes []string  `json:"event_types"`
	CSRFToken  string    `json:"csrf_token,omitempty"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
}

func (h *handler) whoami(c *caller, se *session) consoleWho {
	out := consoleWho{Admin: c.admin, Sandbox: h.opts.Sandbox != nil, Version: h.opts.Version, EventTypes: event.Types}
	if c.instance != nil {
		out.Instance = c.instance.Name
		if info, err := h.m.Get(c.instance.ID); err == nil {
			out.Instance = info.Name
		}
	}
	if se != nil {
		out.CSRFToken, out.ExpiresAt = se.csrf, se.expires.UTC()
	}
	return out
}
