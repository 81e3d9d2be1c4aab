// Package api serves meowgate's HTTP API: every route is listed in routes
// below, handlers return errors, and one adapter turns those into the JSON
// error shape with stable codes.
package api

import (
	"context"
	"crypto/subtle"
	_ "embed"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/wasim"
)

// Options configure the API.
type Options struct {
	Manager *instance.Manager
	Log     *slog.Logger
	// AdminKey may use every route.
	AdminKey string
	// RateLimit is the steady requests per second allowed per key, with
	// bursts up to RateBurst; CreatePerMinute bounds instance creation.
	RateLimit       float64
	RateBurst       int
	CreatePerMinute int
	// AuthFailBurst is how many wrong keys one client address may send
	// before it is slowed to one a second.
	AuthFailBurst int
	MaxBodyBytes  int64
	// MaxUploadBytes is the largest media file a message may carry (default
	// 100 MiB): POST …/messages takes up to that much more than
	// MaxBodyBytes, base64-encoded in JSON or raw in a multipart upload.
	MaxUploadBytes int64
	// Ready reports whether /readyz should say 200.
	Ready *atomic.Bool
	// Sandbox, when set, enables the /v1/sandbox routes against it.
	Sandbox wasim.Control
	// Webhooks serves the webhook delivery routes (*webhook.Worker); nil
	// makes them answer 503.
	Webhooks Webhooks
	// Metrics writes the Prometheus text format; nil disables /metrics.
	Metrics func(w http.ResponseWriter)
	// MetricsOpen lets loopback clients read /metrics without a key.
	MetricsOpen bool
	Version     string
	// Console serves the web console at / and accepts its session cookie
	// (console.go).
	Console bool
	// Evolution serves the Evolution API v2 compatibility routes
	// (api/evolution) under EvolutionPrefix ("" = Evolution's root paths).
	Evolution       bool
	EvolutionPrefix string
}

type handler struct {
	opts   Options
	m      *instance.Manager
	log    *slog.Logger
	admin  []byte
	limits *limiter
	mux    *http.ServeMux
	views  *views // cached encodings of instances
	// sessions and assets are the console's; nil when it is disabled.
	sessions *sessions
	assets   map[string]asset
}

// access says who may call a route.
type access int

const (
	anyone access = iota
	adminOnly
	instanceRoute // admin, or the token of the {name} instance
	authenticated // admin or any token; the handler scopes the result
)

type route struct {
	method, pattern string
	access          access
	fn              func(w http.ResponseWriter, r *http.Request, c *caller) error
}

func (h *handler) routes() []route {
	return []route{
		{"GET", "/healthz", anyone, h.healthz},
		{"GET", "/readyz", anyone, h.readyz},
		{"GET", "/openapi.json", anyone, h.openapi},
		{"GET", "/metrics", adminOnly, h.metrics},

		{"POST", "/v1/instances", adminOnly, h.createInstance},
		{"GET", "/v1/instances", authenticated, h.listInstances},
		{"GET", "/v1/instances/{name}", instanceRoute, h.getInstance},
		{"PATCH", "/v1/instances/{name}", instanceRoute, h.updateInstance},
		{"DELETE", "/v1/instances/{name}", adminOnly, h.deleteInstance},
		{"POST", "/v1/instances/{name}/connect", instanceRoute, h.lifecycle(http.StatusAccepted, 15*time.Second, h.m.Connect)},
		{"GET", "/v1/instances/{name}/qr", instanceRoute, h.qr},
		{"POST", "/v1/instances/{name}/pair-code", instanceRoute, h.pairCode},
		{"GET", "/v1/instances/{name}/state", instanceRoute, h.state},
		{"POST", "/v1/instances/{name}/disconnect", instanceRoute, h.lifecycle(http.StatusOK, 15*time.Second, h.m.Disconnect)},
		{"POST", "/v1/instances/{name}/restart", instanceRoute, h.lifecycle(http.StatusAccepted, 15*time.Second, h.m.Restart)},
		{"POST", "/v1/instances/{name}/logout", instanceRoute, h.lifecycle(http.StatusOK, 30*time.Second, h.m.Logout)},
		{"POST", "/v1/instances/{name}/token", instanceRoute, h.rotateToken},
		{"GET", "/v1/instances/{name}/settings", instanceRoute, h.getSettings},
		{"PATCH", "/v1/instances/{name}/settings", instanceRoute, h.updateSettings},
		{"POST", "/v1/instances/{name}/messages", instanceRoute, h.sendMessage},
		{"GET", "/v1/instances/{name}/messages", instanceRoute, h.listMessages},
		{"GET", "/v1/instances/{name}/messages/{id}", instanceRoute, h.getMessage},
		{"PATCH", "/v1/instances/{name}/messages/{id}", instanceRoute, h.editMessage},
		{"DELETE", "/v1/instances/{name}/messages/{id}", instanceRoute, h.revokeMessage},
		{"GET", "/v1/instances/{name}/messages/{id}/media", instanceRoute, h.messageMedia},
		{"GET", "/v1/instances/{name}/groups", instanceRoute, h.listGroups},
		{"POST", "/v1/instances/{name}/groups", instanceRoute, h.createGroup},
		{"POST", "/v1/instances/{name}/groups/join", instanceRoute, h.joinGroup},
		{"GET", "/v1/instances/{name}/groups/{jid}", instanceRoute, h.getGroup},
		{"PATCH", "/v1/instances/{name}/groups/{jid}", instanceRoute, h.updateGroup},
		{"POST", "/v1/instances/{name}/groups/{jid}/participants", instanceRoute, h.groupParticipants},
		{"GET", "/v1/instances/{name}/groups/{jid}/invite", instanceRoute, h.groupInvite(false)},
		{"DELETE", "/v1/instances/{name}/groups/{jid}/invite", instanceRoute, h.groupInvite(true)},
		{"POST", "/v1/instances/{name}/groups/{jid}/leave", instanceRoute, h.leaveGroup},
		{"POST", "/v1/instances/{name}/contacts/check", instanceRoute, h.checkContacts},
		{"GET", "/v1/instances/{name}/contacts/{who}", instanceRoute, h.getContact},
		{"POST", "/v1/instances/{name}/contacts/{who}/block", instanceRoute, h.blockContact(true)},
		{"POST", "/v1/instances/{name}/contacts/{who}/unblock", instanceRoute, h.blockContact(false)},
		{"POST", "/v1/instances/{name}/contacts/{who}/presence", instanceRoute, h.subscribePresence},
		{"POST", "/v1/instances/{name}/presence", instanceRoute, h.setPresence},
		{"GET", "/v1/instances/{name}/queue", instanceRoute, h.listQueue},
		{"DELETE", "/v1/instances/{name}/queue", instanceRoute, h.clearQueue},
		{"GET", "/v1/instances/{name}/events", instanceRoute, h.instanceEvents},
		{"GET", "/v1/events", authenticated, h.stream},
		{"GET", "/v1/instances/{name}/webhook/deliveries", instanceRoute, h.listDeliveries},
		{"POST", "/v1/instances/{name}/webhook/deliveries/{id}/retry", instanceRoute, h.retryDelivery},

		{"POST", "/v1/sandbox/instances/{name}/scan", adminOnly, h.sandboxScan},
		{"POST", "/v1/sandbox/instances/{name}/enter-code", adminOnly, h.sandboxEnterCode},
		{"POST", "/v1/sandbox/instances/{name}/incoming", adminOnly, h.sandboxIncoming},
		{"POST", "/v1/sandbox/instances/{name}/unlink", adminOnly, h.sandboxUnlink},
		{"POST", "/v1/sandbox/instances/{name}/kick", adminOnly, h.sandboxKick},
		{"GET", "/v1/sandbox/contacts/{phone}/inbox", adminOnly, h.sandboxInbox},
		{"POST", "/v1/sandbox/media/expire", adminOnly, h.sandboxExpireMedia},
		{"POST", "/v1/sandbox/groups", adminOnly, h.sandboxCreateGroup},
	}
}

// New returns the API's http.Handler.
func New(opts Options) http.Handler {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.MaxUploadBytes <= 0 {
		opts.MaxUploadBytes = 100 << 20
	}
	if opts.RateLimit <= 0 {
		opts.RateLimit = 50
	}
	if opts.RateBurst <= 0 {
		opts.RateBurst = 100
	}
	if opts.CreatePerMinute <= 0 {
		opts.CreatePerMinute = 5
	}
	if opts.AuthFailBurst <= 0 {
		opts.AuthFailBurst = 20
	}
	if opts.Ready == nil {
		opts.Ready = new(atomic.Bool)
		opts.Ready.Store(true)
	}
	h := &handler{opts: opts, m: opts.Manager, log: opts.Log, admin: []byte(opts.AdminKey), mux: http.NewServeMux()}
	h.views = &views{m: opts.Manager}
	h.limits = newLimiter(opts.RateLimit, opts.RateBurst, opts.CreatePerMinute)
	h.limits.failBurst = opts.AuthFailBurst
	all := h.routes()
	if opts.Console {
		assets, err := loadAssets()
		if err != nil {
			panic("api: the embedded console: " + err.Error()) // a broken build
		}
		h.sessions, h.assets = newSessions(), assets
		all = append(all, h.consoleRoutes()...)
	}
	methods := map[string][]string{}
	for _, rt := range all {
		if strings.HasPrefix(rt.pattern, "/v1/sandbox/") && opts.Sandbox == nil {
			continue
		}
		hd := h.adapt(rt)
		if isConsolePattern(rt.pattern) {
			hd = withConsoleHeaders(hd)
		}
		h.mux.Handle(rt.method+" "+rt.pattern, hd)
		methods[rt.pattern] = append(methods[rt.pattern], rt.method)
	}
	// A known path with another method is a 405 in the JSON error shape.
	// Registered per method, not as a method-less pattern: that would
	// conflict with a literal sibling such as POST …/contacts/check beside
	// GET …/contacts/{who}.
	for pattern, ms := range methods {
		allow := strings.Join(ms, ", ")
		if slices.Contains(ms, "GET") {
			allow += ", HEAD"
			ms = append(ms, "HEAD")
		}
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"} {
			if slices.Contains(ms, m) {
				continue
			}
			h.mux.HandleFunc(m+" "+pattern, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Allow", allow)
				h.writeError(w, r, errorf(http.StatusMethodNotAllowed, codeMethodNotAllowed, "%s is not allowed here; use %s", r.Method, allow))
			})
		}
	}
	if opts.Evolution {
		h.mountEvolution()
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { h.writeError(w, r, errNotFound) })
	return h.recoverer(h.refuseDeliveries(h.mux))
}

// caller is who made the request.
type caller struct {
	admin    bool
	instance *instance.Info // set for token callers
	key      string         // rate-limit key
	// target is the id of the instance the path's {name} resolves to, or
	// "" when there is no {name} or no such instance.
	target  string
	session *session // the console session that authenticated the request
}

// canSee reports whether the caller may see the instance.
func (c *caller) canSee(id string) bool { return c.admin || (c.instance != nil && c.instance.ID == id) }

func (h *handler) adapt(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var start time.Time
		debug := h.log.Enabled(r.Context(), slog.LevelDebug)
		if debug {
			start = time.Now()
		}
		c, err := h.authenticate(r, rt.access)
		if err == nil {
			err = rt.fn(w, r, c)
		}
		if err != nil {
			h.writeError(w, r, err)
		}
		if debug {
			h.log.Debug("request", "method", r.Method, "path", r.URL.Path, "duration", time.Since(start))
		}
	})
}

// authenticate checks the key for routes that need one, and the rate limits.
func (h *handler) authenticate(r *http.Request, a access) (*caller, error) {
	if a == anyone {
		return nil, nil
	}
	key := apiKey(r)
	var se *session
	if key == "" {
		var err error
		if key, se, err = h.sessionKey(r); err != nil {
			return nil, err
		}
	}
	if key == "" {
		if a == adminOnly && r.URL.Path == "/metrics" && h.opts.MetricsOpen && isLoopback(r) {
			return &caller{admin: true}, nil
		}
		return nil, errUnauthorized
	}
	c := &caller{session: se}
	if len(h.admin) > 0 && subtle.ConstantTimeCompare([]byte(key), h.admin) == 1 {
		c.admin, c.key = true, "admin"
	} else if info, ok := h.m.Authenticate(key); ok {
		c.instance, c.key = info, "i:"+info.ID
	} else if se != nil {
		// The key changed (rotated token, deleted instance): the session
		// ends, and it is no guess to count.
		h.sessions.drop(se)
		return nil, errUnauthorized
	} else {
		// Wrong keys are rate-limited per client address, so a key cannot
		// be guessed at full speed.
		if wait := h.limits.allowFailure(remoteHost(r)); wait > 0 {
			return nil, &Error{Status: http.StatusTooManyRequests, Code: codeRateLimited, Message: "too many failed authentications", RetryAfter: wait}
		}
		return nil, errUnauthorized
	}
	if wait := h.limits.allow(c.key); wait > 0 {
		return nil, &Error{Status: http.StatusTooManyRequests, Code: codeRateLimited, Message: "too many requests", RetryAfter: wait}
	}
	// {name} is resolved once, here: handlers act on the resolved id, and
	// a token may act only where that id is its own. Comparing the path
	// text instead let a token whose instance is named like another's id
	// act on that other instance.
	if name := r.PathValue("name"); name != "" {
		if info, err := h.m.Get(name); err == nil {
			c.target = info.ID
		}
	}
	own := c.instance != nil && c.target != "" && c.target == c.instance.ID
	switch a {
	case adminOnly:
		if !c.admin {
			// An instance token must not learn which other instances exist.
			if r.PathValue("name") != "" && !own {
				return nil, errNoInstance
			}
			return nil, errForbidden
		}
	case instanceRoute:
		if !c.admin && !own {
			return nil, errNoInstance
		}
	}
	return c, nil
}

// apiKey reads the key from Authorization: Bearer, X-Api-Key or apikey.
func apiKey(r *http.Request) string {
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	if k := r.Header.Get("X-Api-Key"); k != "" {
		return k
	}
	return r.Header.Get("apikey")
}

func remoteHost(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

func isLoopback(r *http.Request) bool {
	host := remoteHost(r)
	return host == "::1" || strings.HasPrefix(host, "127.")
}

func (h *handler) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.log.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", v)
				h.writeError(w, r, errInternal)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// withTimeout bounds work done on behalf of a request.
func withTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}
