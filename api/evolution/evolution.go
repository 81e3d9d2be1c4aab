// Package evolution serves the Evolution API v2 compatibility routes: the
// paths, auth, bodies and error shapes that clients written for Evolution
// API (n8n's Evolution node, Typebot, Chatwoot bridges) send, mapped onto
// meowgate's instance.Manager. It is another wire format over the same
// domain: every message still goes through the paced queue, every webhook
// through the durable event log. docs/evolution.md lists what is served.
package evolution

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/meowgate/meowgate/instance"
)

// Options configure the compatibility routes.
type Options struct {
	Manager *instance.Manager
	Log     *slog.Logger
	// AdminKey plays Evolution's global API key.
	AdminKey string
	// MaxBodyBytes bounds a request body; MaxUploadBytes is the largest
	// media file a send may carry (base64 in the JSON body).
	MaxBodyBytes   int64
	MaxUploadBytes int64
	// Limit applies the API's rate limits: key is "admin" or "i:<instance
	// id>" for an accepted key, "" for a refused one (then counted per
	// client address). It returns how long to wait, or 0.
	Limit func(r *http.Request, key string) time.Duration
	// ServerURL is the public address Evolution reports as server_url; ""
	// leaves it to the request's host.
	ServerURL string
}

// Roots are the path roots the routes live under; the api mounts each
// (below its prefix) onto this handler.
var Roots = []string{"/instance/", "/settings/", "/webhook/", "/message/", "/chat/", "/group/"}

type handler struct {
	opts  Options
	m     *instance.Manager
	log   *slog.Logger
	admin []byte
	mux   *http.ServeMux
	qrs   qrCounter
}

// access says who may call a route.
type access int

const (
	adminOnly access = iota // the global key
	own                     // the global key or the {name} instance's token
	anyKey                  // the global key or any token; the handler scopes
)

type route struct {
	method, pattern string
	access          access
	fn              func(w http.ResponseWriter, r *http.Request, c *caller) error
}

// caller is who made the request and the instance the path names.
type caller struct {
	admin  bool
	token  *instance.Info // the instance whose token was sent
	target *instance.Info // the {name} instance; nil without {name}
}

// New returns the handler of the compatibility routes, at Evolution's
// root paths (the api strips its prefix before).
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
	h := &handler{opts: opts, m: opts.Manager, log: opts.Log, admin: []byte(opts.AdminKey), mux: http.NewServeMux()}
	for _, rt := range h.routes() {
		h.mux.Handle(rt.method+" "+rt.pattern, h.adapt(rt))
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// Evolution's own 404 for a path it does not know.
		writeError(w, &apiError{status: http.StatusNotFound, messages: []any{"Cannot " + r.Method + " " + r.URL.RequestURI()}})
	})
	return h.mux
}

func (h *handler) routes() []route {
	return []route{
		{"POST", "/instance/create", adminOnly, h.create},
		{"GET", "/instance/connect/{name}", own, h.connect},
		{"POST", "/instance/connect/{name}", own, h.connect},
		{"GET", "/instance/connectionState/{name}", own, h.connectionState},
		{"GET", "/instance/fetchInstances", anyKey, h.fetchInstances},
		{"POST", "/instance/restart/{name}", own, h.restart},
		{"DELETE", "/instance/logout/{name}", own, h.logout},
		{"POST", "/instance/logout/{name}", own, h.logout},
		{"DELETE", "/instance/delete/{name}", own, h.delete},
		{"POST", "/instance/setPresence/{name}", own, h.setPresence},

		{"POST", "/settings/set/{name}", own, h.setSettings},
		{"GET", "/settings/find/{name}", own, h.findSettings},
		{"POST", "/webhook/set/{name}", own, h.setWebhook},
		{"GET", "/webhook/find/{name}", own, h.findWebhook},

		{"POST", "/message/sendText/{name}", own, h.send(kindText)},
		{"POST", "/message/sendMedia/{name}", own, h.send(kindMedia)},
		{"POST", "/message/sendWhatsAppAudio/{name}", own, h.send(kindAudio)},
		{"POST", "/message/sendLocation/{name}", own, h.send(kindLocation)},
		{"POST", "/message/sendContact/{name}", own, h.send(kindContact)},
		{"POST", "/message/sendReaction/{name}", own, h.send(kindReaction)},
		{"POST", "/message/sendPoll/{name}", own, h.send(kindPoll)},

		{"POST", "/chat/whatsappNumbers/{name}", own, h.whatsappNumbers},

		{"POST", "/group/create/{name}", own, h.createGroup},
		{"GET", "/group/fetchAllGroups/{name}", own, h.fetchAllGroups},
		{"GET", "/group/findGroupInfos/{name}", own, h.findGroupInfos},
		{"GET", "/group/participants/{name}", own, h.participants},
		{"POST", "/group/updateParticipant/{name}", own, h.updateParticipant},
		{"POST", "/group/updateGroupSubject/{name}", own, h.updateGroup("subject")},
		{"POST", "/group/updateGroupDescription/{name}", own, h.updateGroup("description")},
		{"POST", "/group/updateSetting/{name}", own, h.updateGroup("setting")},
		{"GET", "/group/inviteCode/{name}", own, h.inviteCode},
		{"POST", "/group/revokeInviteCode/{name}", own, h.revokeInviteCode},
		{"GET", "/group/acceptInviteCode/{name}", own, h.acceptInviteCode},
		{"DELETE", "/group/leaveGroup/{name}", own, h.leaveGroup},
	}
}

func (h *handler) adapt(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.log.Error("panic in an Evolution route", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeError(w, errInternal)
			}
		}()
		c, err := h.authenticate(r, rt.access)
		if err == nil {
			err = rt.fn(w, r, c)
		}
		if err != nil {
			ae := toAPIError(err, r.PathValue("name"))
			if ae == errInternal {
				h.log.Error("Evolution route failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeError(w, ae)
		}
	})
}

// authenticate checks the apikey header as Evolution does: the global key
// may do everything; an instance's token only that instance's routes. A
// token never learns whether another instance exists: it gets 401 for any
// name not its own, where the global key gets 404 for an unknown one.
func (h *handler) authenticate(r *http.Request, a access) (*caller, error) {
	key := r.Header.Get("apikey")
	c := &caller{}
	switch {
	case key == "":
		return nil, errUnauthorized
	case len(h.admin) > 0 && subtle.ConstantTimeCompare([]byte(key), h.admin) == 1:
		c.admin = true
	default:
		info, ok := h.m.Authenticate(key)
		if !ok {
			if err := h.limit(r, ""); err != nil {
				return nil, err
			}
			return nil, errUnauthorized
		}
		c.token = info
	}
	rateKey := "admin"
	if c.token != nil {
		rateKey = "i:" + c.token.ID
	}
	if err := h.limit(r, rateKey); err != nil {
		return nil, err
	}
	if a == adminOnly && !c.admin {
		return nil, errUnauthorized
	}
	if name := r.PathValue("name"); name != "" {
		info, err := h.m.Get(name)
		if !c.admin && (err != nil || info.ID != c.token.ID) {
			return nil, errUnauthorized
		}
		if err != nil {
			return nil, errNoInstance(name)
		}
		c.target = info
	}
	return c, nil
}

func (h *handler) limit(r *http.Request, key string) error {
	if h.opts.Limit == nil {
		return nil
	}
	if wait := h.opts.Limit(r, key); wait > 0 {
		return &apiError{status: http.StatusTooManyRequests, messages: []any{"too many requests"}, retryAfter: wait}
	}
	return nil
}

// withTimeout bounds work done on behalf of a request.
func withTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}

// qrCounter numbers the QR codes each instance showed, as Evolution's
// qrcode.count does.
type qrCounter struct {
	mu   sync.Mutex
	last map[string]string
	n    map[string]int
}

func (q *qrCounter) count(id, code string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.last == nil {
		q.last, q.n = map[string]string{}, map[string]int{}
	}
	if code != "" && q.last[id] != code {
		q.last[id] = code
		q.n[id]++
	}
	return q.n[id]
}

func (q *qrCounter) forget(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.last, id)
	delete(q.n, id)
}
