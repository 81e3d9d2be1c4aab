// Package instance runs WhatsApp instances: a Manager owns one actor per
// instance, and each actor owns its whatsmeow client, its state machine and
// its settings. The api package calls the Manager; the store keeps the rows.
package instance

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// Connection is the Evolution-style view of a state.
func Connection(state string) string {
	switch state {
	case event.StateConnected:
		return "open"
	case event.StateStarting, event.StateScanQR:
		return "connecting"
	default:
		return "close"
	}
}

// Errors the api maps to HTTP statuses.
var (
	ErrNotFound         = errors.New("instance not found")
	ErrNameTaken        = errors.New("an instance with that name already exists")
	ErrAlreadyConnected = errors.New("instance is already connected or connecting")
	ErrNotConnected     = errors.New("instance is not connected")
	ErrNotPaired        = errors.New("instance is not linked to a phone")
	ErrNotAwaitingQR    = errors.New("instance is not waiting for a QR scan")
	ErrClosed           = errors.New("instance manager is shut down")
)

// StateError is a conflict with the instance's current state.
type StateError struct {
	Err   error
	State string
}

func (e *StateError) Error() string { return fmt.Sprintf("%v (state %s)", e.Err, e.State) }
func (e *StateError) Unwrap() error { return e.Err }

// ValidationError lists bad input fields and what is wrong with each.
type ValidationError struct{ Fields map[string]string }

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k]
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

func invalid(field, msg string) error {
	return &ValidationError{Fields: map[string]string{field: msg}}
}

// Info is the published snapshot of an instance: a plain value the api
// renders. Secrets in it are masked (Webhook.Masked, MaskURL).
type Info struct {
	ID         string
	Name       string
	DeviceName string
	State      string
	Reason     string
	Since      time.Time
	Phone      string
	JID        string
	PushName   string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Settings   Settings
	Webhook    Webhook // masked
	ProxyURL   string  // masked
	Counts     store.Counts
	Until      time.Time // when a temporary ban or a restriction ends; zero otherwise
}

// QR is the current pairing code of an instance.
type QR struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

var (
	nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,50}$`)
	// idFormRE matches what newID makes (and case variants): a name of
	// that form could be mistaken for another instance's id in a path.
	idFormRE = regexp.MustCompile(`(?i)^ins_[0-9a-f]*$`)
)

// NameRule says what ValidName accepts, for error messages.
const NameRule = `must be 1-50 characters of A-Z a-z 0-9 . _ -, not "." or "..", and not of the form of an instance id (ins_ and hex digits)`

// ValidName reports whether s may name an instance: paths take a name or
// an id, so a name is never "." or ".." (unreachable by path) nor of an
// id's form (ambiguous with another instance's id).
func ValidName(s string) bool {
	return nameRE.MatchString(s) && s != "." && s != ".." && !idFormRE.MatchString(s)
}

var e164RE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// ValidPhone reports whether s is an E.164 number ("+" and 7–15 digits).
func ValidPhone(s string) bool { return e164RE.MatchString(s) }

// Webhook is an instance's webhook configuration as stored.
type Webhook struct {
	URL          string            `json:"url"`
	Enabled      bool              `json:"enabled"`
	Secret       string            `json:"secret,omitempty"`
	Headers      map[string]string `json:"headers,omitempty"`
	Events       []string          `json:"events,omitempty"`
	IncludeMedia bool              `json:"include_media"`
	// Format is the shape of deliveries: "" (meowgate's envelope) or
	// FormatEvolution (Evolution API v2's, for webhooks set through the
	// compatibility routes); ByEvents posts each event to URL/<event-name>
	// as Evolution's webhookByEvents does.
	Format   string `json:"format,omitempty"`
	ByEvents bool   `json:"by_events,omitempty"`
}

// FormatEvolution is Webhook.Format for Evolution API v2 deliveries.
const FormatEvolution = "evolution"

// Masked returns w as it may be shown: the secret and sensitive header
// values replaced by Mask, the URL's credentials masked (see MaskURL,
// SensitiveHeader). Headers is never nil.
func (w Webhook) Masked() Webhook {
	m := w
	m.URL, m.Headers = MaskURL(w.URL), maskHeaders(w.Headers)
	if w.Secret != "" {
		m.Secret = Mask
	}
	return m
}

// Validate checks the webhook; an empty URL means "no webhook". It is pure
// (no DNS, no listen address): SelfGuard.Check adds the loop check.
func (w Webhook) Validate() map[string]string {
	p := map[string]string{}
	if w.URL != "" {
		if msg := webhookURLProblem(w.URL); msg != "" {
			p["webhook.url"] = msg
		}
	} else if w.Enabled {
		p["webhook.url"] = "is required when the webhook is enabled"
	}
	if w.Format != "" && w.Format != FormatEvolution {
		p["webhook.format"] = `must be "" or "evolution"`
	}
	for _, e := range w.Events {
		known := false
		for _, k := range event.Types {
			known = known || e == k
		}
		if !known {
			p["webhook.events"] = fmt.Sprintf("unknown event type %q (known: %s)", e, strings.Join(event.Types, ", "))
		}
	}
	for k, v := range w.Headers {
		if msg := webhookHeaderProblem(k, v); msg != "" {
			p["webhook.headers."+k] = msg
		}
	}
	if len(w.Secret) > 256 {
		p["webhook.secret"] = "must be at most 256 characters"
	}
	if len(p) == 0 {
		return nil
	}
	return p
}

// proxyProblem says what is wrong with a proxy URL, or "": http, https
// and socks5 URLs are accepted, "" means no proxy.
func proxyProblem(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5") {
		return "must be an http://, https:// or socks5:// URL with a host"
	}
	return ""
}
