package wasim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"go.mau.fi/whatsmeow/types"
)

// Control is what the sandbox needs from a simulator, whether it runs in
// this process (Local) or in its own (Remote, over the control API).
type Control interface {
	Scan(ctx context.Context, qr, phone string) (types.JID, error)
	EnterCode(ctx context.Context, phone, code string) (types.JID, error)
	Incoming(ctx context.Context, from, to, text, pushName string) (string, error)
	// Send is a contact sending any kind of message (media, location, poll…).
	Send(ctx context.Context, spec IncomingSpec) (string, error)
	// ExpireMedia makes the media of a message answer 404 on download.
	ExpireMedia(ctx context.Context, messageID string) error
	Unlink(ctx context.Context, device types.JID) error
	Kick(ctx context.Context, device types.JID) error
	Inbox(ctx context.Context, phone string) ([]InboxMessage, error)
	// SetProfile, SetPresence and SetChatState act out a contact's profile,
	// online state and typing (profile.go, presence.go).
	SetProfile(ctx context.Context, phone string, p Profile) error
	SetPresence(ctx context.Context, phone string, available bool) error
	SetChatState(ctx context.Context, contact, to, state string) error
	// MigrateToLID flips an account's linked devices to LID-addressed DMs.
	MigrateToLID(ctx context.Context, account string) (string, error)
	// CreateGroup is a contact creating a group (group_control.go).
	CreateGroup(ctx context.Context, spec GroupSpec) (types.JID, error)
	// AddContactDevice gives a contact one more device (group_devices.go).
	AddContactDevice(ctx context.Context, phone string) (types.JID, error)
	// Addr is the host:port whatsmeow clients connect to.
	Addr() string
}

// Local returns the Control of an in-process simulator.
func Local(s *Server) Control { return local{s} }

type local struct{ s *Server }

func (l local) Scan(ctx context.Context, qr, phone string) (types.JID, error) {
	return l.s.Scan(ctx, qr, phone)
}
func (l local) EnterCode(ctx context.Context, phone, code string) (types.JID, error) {
	return l.s.EnterCode(ctx, phone, code)
}
func (l local) Incoming(ctx context.Context, from, to, text, pushName string) (string, error) {
	return l.s.Incoming(ctx, from, to, text, pushName)
}
func (l local) Send(ctx context.Context, spec IncomingSpec) (string, error) {
	return l.s.Send(ctx, spec)
}
func (l local) ExpireMedia(_ context.Context, messageID string) error {
	return l.s.ExpireMedia(messageID)
}
func (l local) Unlink(ctx context.Context, device types.JID) error { return l.s.Unlink(ctx, device) }
func (l local) Kick(_ context.Context, device types.JID) error     { return l.s.Kick(device) }
func (l local) Inbox(_ context.Context, phone string) ([]InboxMessage, error) {
	return l.s.Inbox(phone)
}
func (l local) Addr() string { return l.s.Addr() }

// Errors travel over the control API by name, so a Remote returns the same
// sentinel errors as a Local.
var controlErrors = map[string]error{
	"no_pending_qr":    ErrNoPendingQR,
	"no_pending_code":  ErrNoPendingCode,
	"wrong_code":       ErrWrongCode,
	"not_on_whatsapp":  ErrNotOnWhatsApp,
	"unknown_device":   ErrUnknownDevice,
	"not_linked":       ErrNotLinked,
	"bad_phone_number": ErrBadPhoneNumber,
	"unknown_message":  ErrUnknownMessage,
	"invalid_message":  ErrInvalidSpec,
	"group_not_found":  ErrGroupNotFound,
	"not_in_group":     ErrNotInGroup,
	"not_group_admin":  ErrNotGroupAdmin,
}

type controlRequest struct {
	QR       string `json:"qr,omitempty"`
	Phone    string `json:"phone,omitempty"`
	Code     string `json:"code,omitempty"`
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
	Text     string `json:"text,omitempty"`
	PushName string `json:"push_name,omitempty"`
	Device   string `json:"device,omitempty"`
	// Spec is the message of "send"; MessageID the id of "expire-media".
	Spec      *IncomingSpec `json:"spec,omitempty"`
	MessageID string        `json:"message_id,omitempty"`
	// Profile of "set-profile"; Available of "set-presence"; State of "set-chat-state".
	Profile   *Profile   `json:"profile,omitempty"`
	Available bool       `json:"available,omitempty"`
	State     string     `json:"state,omitempty"`
	Group     *GroupSpec `json:"group,omitempty"`
}

type controlResponse struct {
	JID      string         `json:"jid,omitempty"`
	ID       string         `json:"id,omitempty"`
	Messages []InboxMessage `json:"messages,omitempty"`
	Error    string         `json:"error,omitempty"`
	Message  string         `json:"message,omitempty"`
	Field    string         `json:"field,omitempty"` // of an invalid_message
}

// controlRoutes adds the operator API that Remote talks to. It listens on
// the simulator's loopback address only.
func (s *Server) controlRoutes(mux *http.ServeMux) {
	c := Local(s)
	handle := func(path string, f func(ctx context.Context, req controlRequest) (controlResponse, error)) {
		mux.HandleFunc("POST /_wasim/"+path, func(w http.ResponseWriter, r *http.Request) {
			var req controlRequest
			// Large enough for a media file in "send".
			if err := json.NewDecoder(io.LimitReader(r.Body, 256<<20)).Decode(&req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			resp, err := f(r.Context(), req)
			status := http.StatusOK
			if err != nil {
				status = http.StatusConflict
				resp = controlResponse{Error: "internal", Message: err.Error()}
				for name, e := range controlErrors {
					if errors.Is(err, e) {
						resp.Error = name
					}
				}
				var se *SpecError
				if errors.As(err, &se) {
					resp.Field, resp.Message = se.Field, se.Msg
				}
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(resp)
		})
	}
	handle("scan", func(ctx context.Context, req controlRequest) (controlResponse, error) {
		jid, err := c.Scan(ctx, req.QR, req.Phone)
		return controlResponse{JID: jid.String()}, err
	})
	handle("enter-code", func(ctx context.Context, req controlRequest) (controlResponse, error) {
		jid, err := c.EnterCode(ctx, req.Phone, req.Code)
		return controlResponse{JID: jid.String()}, err
	})
	handle("incoming", func(ctx context.Context, req controlRequest) (controlResponse, error) {
		id, err := c.Incoming(ctx, req.From, req.To, req.Text, req.PushName)
		return controlResponse{ID: id}, err
	})
	handle("send", func(ctx context.Context, req controlRequest) (controlResponse, error) {
		if req.Spec == nil {
			return controlResponse{}, specErr("spec", "is required")
		}
		id, err := c.Send(ctx, *req.Spec)
		return controlResponse{ID: id}, err
	})
	handle("expire-media", func(ctx context.Context, req controlRequest) (controlResponse, error) {
		return controlResponse{}, c.ExpireMedia(ctx, req.MessageID)
	})
	device := func(f func(context.Context, types.JID) error) func(context.Context, controlRequest) (controlResponse, error) {
		return func(ctx context.Context, req controlRequest) (controlResponse, error) {
			jid, err := types.ParseJID(req.Device)
			if err != nil {
				return controlResponse{}, fmt.Errorf("%w: %v", ErrUnknownDevice, err)
			}
			return controlResponse{}, f(ctx, jid)
		}
	}
	handle("unlink", device(c.Unlink))
	handle("kick", device(c.Kick))
	handle("inbox", func(ctx context.Context, req controlRequest) (controlResponse, error) {
		msgs, err := c.Inbox(ctx, req.Phone)
		return controlResponse{Messages: msgs}, err
	})
	socialControlRoutes(c, handle)
	groupControlRoutes(c, handle)
	mux.HandleFunc("GET /_wasim/healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
}

// Remote returns the Control of a simulator running in another process on
// addr (host:port), e.g. started with `wasim serve`.
func Remote(addr string) Control {
	return &remote{addr: addr, hc: &http.Client{Timeout: 60 * time.Second}}
}

type remote struct {
	addr string
	hc   *http.Client
}

func (r *remote) Addr() string { return r.addr }

func (r *remote) call(ctx context.Context, path string, req controlRequest) (controlResponse, error) {
	body, _ := json.Marshal(req)
	u := (&url.URL{Scheme: "http", Host: r.addr, Path: "/_wasim/" + path}).String()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return controlResponse{}, err
	}
	hr.Header.Set("Content-Type", "application/json")
	res, err := r.hc.Do(hr)
	if err != nil {
		return controlResponse{}, fmt.Errorf("wasim: control %s: %w", path, err)
	}
	defer res.Body.Close()
	var resp controlResponse
	if err := json.NewDecoder(io.LimitReader(res.Body, 16<<20)).Decode(&resp); err != nil {
		return controlResponse{}, fmt.Errorf("wasim: control %s: HTTP %d: %w", path, res.StatusCode, err)
	}
	if resp.Error != "" {
		if resp.Error == "invalid_message" {
			return resp, &SpecError{Field: resp.Field, Msg: resp.Message}
		}
		if e, ok := controlErrors[resp.Error]; ok {
			return resp, fmt.Errorf("%w (%s)", e, resp.Message)
		}
		return resp, fmt.Errorf("wasim: control %s: %s", path, resp.Message)
	}
	return resp, nil
}

func (r *remote) jid(ctx context.Context, path string, req controlRequest) (types.JID, error) {
	resp, err := r.call(ctx, path, req)
	if err != nil {
		return types.EmptyJID, err
	}
	return types.ParseJID(resp.JID)
}

func (r *remote) Scan(ctx context.Context, qr, phone string) (types.JID, error) {
	return r.jid(ctx, "scan", controlRequest{QR: qr, Phone: phone})
}
func (r *remote) EnterCode(ctx context.Context, phone, code string) (types.JID, error) {
	return r.jid(ctx, "enter-code", controlRequest{Phone: phone, Code: code})
}
func (r *remote) Incoming(ctx context.Context, from, to, text, pushName string) (string, error) {
	resp, err := r.call(ctx, "incoming", controlRequest{From: from, To: to, Text: text, PushName: pushName})
	return resp.ID, err
}
func (r *remote) Send(ctx context.Context, spec IncomingSpec) (string, error) {
	resp, err := r.call(ctx, "send", controlRequest{Spec: &spec})
	return resp.ID, err
}
func (r *remote) ExpireMedia(ctx context.Context, messageID string) error {
	_, err := r.call(ctx, "expire-media", controlRequest{MessageID: messageID})
	return err
}
func (r *remote) Unlink(ctx context.Context, device types.JID) error {
	_, err := r.call(ctx, "unlink", controlRequest{Device: device.String()})
	return err
}
func (r *remote) Kick(ctx context.Context, device types.JID) error {
	_, err := r.call(ctx, "kick", controlRequest{Device: device.String()})
	return err
}
func (r *remote) Inbox(ctx context.Context, phone string) ([]InboxMessage, error) {
	resp, err := r.call(ctx, "inbox", controlRequest{Phone: phone})
	if resp.Messages == nil {
		resp.Messages = []InboxMessage{}
	}
	return resp.Messages, err
}
