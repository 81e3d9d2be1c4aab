package wasim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/types"
)

// Account-health controls (facts 4.1, 4.3, 4.7): bans, a minimum client
// version, the version page web.whatsapp.com serves, and restricted
// accounts whose messages to strangers WhatsApp refuses.

// DefaultRevision is the client revision the version page names until
// SetLatestRevision changes it: the one the pinned whatsmeow is built with.
const DefaultRevision = 1031080782

// health is the state of the controls, guarded by its own lock (logins
// read it on every connect).
type health struct {
	mu         sync.Mutex
	bans       map[string]ban         // by account phone digits
	minVersion [3]uint32              // logins older than this get 405; zero: any
	revision   uint32                 // what the version page says; 0: DefaultRevision
	restricted map[string]restriction // by account phone digits
	wrote      map[string]bool        // "contact>account" digits: the contact wrote to the account
}

type ban struct {
	reason int // 402 for a temporary ban, 403 or 406 for a permanent one
	code   int // temporary-ban code (101 too many messages to non-contacts…)
	until  time.Time
}

type restriction struct {
	code  string
	until time.Time
}

func (h *health) init() {
	if h.bans == nil {
		h.bans, h.restricted, h.wrote = map[string]ban{}, map[string]restriction{}, map[string]bool{}
	}
}

// TempBan bans an account for d with WhatsApp's temporary-ban code (101:
// too many messages to non-contacts, 102: blocked by users…): its
// connections drop, and each login until then fails with
// <failure reason="402" code=… expire=seconds-left/>.
func (s *Server) TempBan(phone string, code int, d time.Duration) error {
	return s.setBan(phone, ban{reason: 402, code: code, until: time.Now().Add(d)})
}

// PermaBan bans an account for good: its connections drop, and each login
// fails with <failure reason=…/> (406 "banned", or 403 "locked"), which
// makes whatsmeow log out and delete the device.
func (s *Server) PermaBan(phone string, reason int) error {
	if reason != 403 && reason != 406 && reason != 401 {
		return fmt.Errorf("wasim: a permanent ban is 401, 403 or 406, not %d", reason)
	}
	return s.setBan(phone, ban{reason: reason})
}

// Unban lifts any ban of an account.
func (s *Server) Unban(phone string) {
	s.health.mu.Lock()
	s.health.init()
	delete(s.health.bans, digitsOf(phone))
	s.health.mu.Unlock()
}

func (s *Server) setBan(phone string, b ban) error {
	digits := digitsOf(phone)
	if s.lookupUser(digits) == nil {
		return fmt.Errorf("%w: %s", ErrNotOnWhatsApp, phone)
	}
	s.health.mu.Lock()
	s.health.init()
	s.health.bans[digits] = b
	s.health.mu.Unlock()
	s.mu.Lock()
	var drop []*conn
	for dev, c := range s.conns {
		if jid, err := types.ParseJID(dev); err == nil && jid.User == digits {
			drop = append(drop, c)
		}
	}
	s.mu.Unlock()
	for _, c := range drop {
		c.closeNow() // the client reconnects and meets the ban at login
	}
	return nil
}

// SetMinClientVersion makes logins whose ClientPayload.UserAgent.AppVersion
// is older than v ("2.3000.N") fail with 405, as WhatsApp answers a client
// it no longer accepts; "" accepts every version.
func (s *Server) SetMinClientVersion(v string) error {
	var min [3]uint32
	if v != "" {
		var err error
		if min, err = parseVersion(v); err != nil {
			return err
		}
	}
	s.health.mu.Lock()
	s.health.minVersion = min
	s.health.mu.Unlock()
	return nil
}

// SetLatestRevision sets the client_revision the version page
// (GET https://web.whatsapp.com/) names.
func (s *Server) SetLatestRevision(rev uint32) {
	s.health.mu.Lock()
	s.health.revision = rev
	s.health.mu.Unlock()
}

// Restrict makes WhatsApp refuse, until d has passed, every DM the account
// sends to someone who never wrote to it, with ack error code (463 is what
// WhatsApp answers today). Messages to people who wrote to it pass.
func (s *Server) Restrict(phone, code string, d time.Duration) {
	s.health.mu.Lock()
	s.health.init()
	s.health.restricted[digitsOf(phone)] = restriction{code: code, until: time.Now().Add(d)}
	s.health.mu.Unlock()
}

// noteWrote records that contact sent a message to account.
func (s *Server) noteWrote(contact, account string) {
	s.health.mu.Lock()
	s.health.init()
	s.health.wrote[digitsOf(contact)+">"+digitsOf(account)] = true
	s.health.mu.Unlock()
}

// restrictionRefusal is the ack error for a DM from account to rcpt, or "".
func (s *Server) restrictionRefusal(account, rcpt string) string {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	r, ok := s.health.restricted[account]
	if !ok || time.Now().After(r.until) || s.health.wrote[rcpt+">"+account] {
		return ""
	}
	return r.code
}

// loginFailure is the <failure/> a login of device gets from a ban or the
// minimum version, or nil.
func (s *Server) loginFailure(device types.JID, p *waWa6.ClientPayload) *waBinary.Node {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	if b, ok := s.health.bans[device.User]; ok {
		if b.reason != 402 {
			return &waBinary.Node{Tag: "failure", Attrs: waBinary.Attrs{"reason": strconv.Itoa(b.reason), "location": "wasim"}}
		}
		if left := time.Until(b.until); left > 0 {
			return &waBinary.Node{Tag: "failure", Attrs: waBinary.Attrs{"reason": "402", "code": strconv.Itoa(b.code),
				"expire": strconv.Itoa(int((left + time.Second - 1) / time.Second)), "location": "wasim"}}
		}
		delete(s.health.bans, device.User)
	}
	if min := s.health.minVersion; min != ([3]uint32{}) {
		av := p.GetUserAgent().GetAppVersion()
		got := [3]uint32{av.GetPrimary(), av.GetSecondary(), av.GetTertiary()}
		if older(got, min) {
			return &waBinary.Node{Tag: "failure", Attrs: waBinary.Attrs{"reason": "405", "location": "wasim"}}
		}
	}
	return nil
}

// serveVersionPage answers GET / as web.whatsapp.com does, with the
// "client_revision" whatsmeow.GetLatestVersion reads.
func (s *Server) serveVersionPage(w http.ResponseWriter, _ *http.Request) {
	s.health.mu.Lock()
	rev := s.health.revision
	s.health.mu.Unlock()
	if rev == 0 {
		rev = DefaultRevision
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!DOCTYPE html><html><head><script>self.__SSR={"server_revision":%d,"client_revision":%d,"hsi":"wasim"};</script></head><body></body></html>`, rev, rev)
}

func older(a, b [3]uint32) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func parseVersion(v string) ([3]uint32, error) {
	var out [3]uint32
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return out, fmt.Errorf("wasim: version %q is not of the form 2.3000.N", v)
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return out, fmt.Errorf("wasim: version %q is not of the form 2.3000.N", v)
		}
		out[i] = uint32(n)
	}
	return out, nil
}

// digitsOf strips "+" and any JID suffix from a phone.
func digitsOf(phone string) string {
	phone = strings.TrimPrefix(phone, "+")
	if i := strings.IndexAny(phone, "@:."); i >= 0 {
		phone = phone[:i]
	}
	return phone
}

// healthRoutes adds the version page and the operator controls of this
// file to the control API.
func (s *Server) healthRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.serveVersionPage)
	type req struct {
		Phone    string `json:"phone"`
		Code     int    `json:"code"`      // temp-ban code, or permanent-ban reason
		Seconds  int    `json:"seconds"`   // temp-ban / restriction length
		Version  string `json:"version"`   // min-version
		Revision uint32 `json:"revision"`  // latest-version
		AckError string `json:"ack_error"` // restrict
	}
	handle := func(path string, f func(r req) error) {
		mux.HandleFunc("POST /_wasim/"+path, func(w http.ResponseWriter, hr *http.Request) {
			var r req
			if err := json.NewDecoder(io.LimitReader(hr.Body, 1<<16)).Decode(&r); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if err := f(r); err != nil {
				http.Error(w, err.Error(), http.StatusConflict)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
	}
	handle("temp-ban", func(r req) error { return s.TempBan(r.Phone, r.Code, time.Duration(r.Seconds)*time.Second) })
	handle("ban", func(r req) error { return s.PermaBan(r.Phone, r.Code) })
	handle("unban", func(r req) error { s.Unban(r.Phone); return nil })
	handle("min-version", func(r req) error { return s.SetMinClientVersion(r.Version) })
	handle("latest-version", func(r req) error { s.SetLatestRevision(r.Revision); return nil })
	handle("restrict", func(r req) error {
		if r.AckError == "" {
			r.AckError = "463"
		}
		s.Restrict(r.Phone, r.AckError, time.Duration(r.Seconds)*time.Second)
		return nil
	})
}
