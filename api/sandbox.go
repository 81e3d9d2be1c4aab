package api

import (
	"errors"
	"net/http"
	"time"

	"go.mau.fi/whatsmeow/types"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/wasim"
)

// simError maps the simulator's refusals to API errors; the central
// mapper (toAPIError) knows nothing of the simulator.
func simError(err error) error {
	switch {
	case errors.Is(err, wasim.ErrNoPendingQR), errors.Is(err, wasim.ErrNoPendingCode):
		return errorf(http.StatusConflict, codeNotAwaitingQR, "%v", err)
	case errors.Is(err, wasim.ErrWrongCode):
		return invalidFields("the code does not match", map[string]string{"code": "does not match the code the instance shows"})
	case errors.Is(err, wasim.ErrNotOnWhatsApp), errors.Is(err, wasim.ErrBadPhoneNumber):
		return invalidFields(err.Error(), map[string]string{"phone": err.Error()})
	}
	return err
}

// The sandbox routes act out the phone's and the contacts' side against the
// simulator; they exist only in sandbox mode.

func (h *handler) linkedDevice(name string) (*instance.Info, types.JID, error) {
	info, err := h.m.Get(name)
	if err != nil {
		return nil, types.EmptyJID, err
	}
	if info.JID == "" {
		return info, types.EmptyJID, &instance.StateError{Err: instance.ErrNotPaired, State: info.State}
	}
	jid, err := types.ParseJID(info.JID)
	return info, jid, err
}

func (h *handler) sandboxScan(w http.ResponseWriter, r *http.Request, c *caller) error {
	var p struct {
		Phone string `json:"phone"`
	}
	if err := h.decode(w, r, &p, true); err != nil {
		return err
	}
	if p.Phone != "" && !instance.ValidPhone(p.Phone) {
		return &Error{Status: http.StatusUnprocessableEntity, Code: codeInvalid, Message: "bad phone", Fields: map[string]string{"phone": "must be an E.164 number"}}
	}
	name := c.target
	info, err := h.m.Get(name)
	if err != nil {
		return err
	}
	if p.Phone == "" {
		p.Phone = info.Phone
	}
	qr, err := h.m.QR(name)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(r, 30*time.Second)
	defer cancel()
	jid, err := h.opts.Sandbox.Scan(ctx, qr.Code, p.Phone)
	if err != nil {
		return simError(err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"phone": "+" + jid.User, "jid": jid.String()})
	return nil
}

func (h *handler) sandboxEnterCode(w http.ResponseWriter, r *http.Request, c *caller) error {
	var p struct {
		Code string `json:"code"`
	}
	if err := h.decode(w, r, &p, false); err != nil {
		return err
	}
	if p.Code == "" {
		return &Error{Status: http.StatusUnprocessableEntity, Code: codeInvalid, Message: "code is required", Fields: map[string]string{"code": "is required"}}
	}
	info, err := h.m.Get(c.target)
	if err != nil {
		return err
	}
	if info.Phone == "" {
		return &instance.StateError{Err: instance.ErrNotAwaitingQR, State: info.State}
	}
	ctx, cancel := withTimeout(r, 60*time.Second)
	defer cancel()
	jid, err := h.opts.Sandbox.EnterCode(ctx, info.Phone, p.Code)
	if err != nil {
		return simError(err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"phone": "+" + jid.User, "jid": jid.String()})
	return nil
}

func (h *handler) sandboxUnlink(w http.ResponseWriter, r *http.Request, c *caller) error {
	_, jid, err := h.linkedDevice(c.target)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(r, 30*time.Second)
	defer cancel()
	if err := h.opts.Sandbox.Unlink(ctx, jid); err != nil {
		return simError(err)
	}
	writeRaw(w, http.StatusOK, []byte(`{}`))
	return nil
}

func (h *handler) sandboxKick(w http.ResponseWriter, r *http.Request, c *caller) error {
	info, jid, err := h.linkedDevice(c.target)
	if err != nil {
		return err
	}
	if info.State != event.StateConnected {
		return &instance.StateError{Err: instance.ErrNotConnected, State: info.State}
	}
	ctx, cancel := withTimeout(r, 30*time.Second)
	defer cancel()
	if err := h.opts.Sandbox.Kick(ctx, jid); err != nil {
		return simError(err)
	}
	writeRaw(w, http.StatusOK, []byte(`{}`))
	return nil
}

func (h *handler) sandboxInbox(w http.ResponseWriter, r *http.Request, c *caller) error {
	phone := r.PathValue("phone")
	if !instance.ValidPhone(phone) {
		return &Error{Status: http.StatusUnprocessableEntity, Code: codeInvalid, Message: "bad phone", Fields: map[string]string{"phone": "must be an E.164 number such as +4915123456789"}}
	}
	msgs, err := h.opts.Sandbox.Inbox(r.Context(), phone)
	if err != nil {
		return simError(err)
	}
	type msg struct {
		ID         string    `json:"id"`
		From       string    `json:"from"`
		Text       string    `json:"text"`
		ReceivedAt time.Time `json:"received_at"`
		wasim.InboxRich
	}
	out := []msg{}
	for _, m := range msgs {
		if !m.Echo {
			out = append(out, msg{ID: m.ID, From: m.From, Text: m.Text, ReceivedAt: m.ReceivedAt.UTC(), InboxRich: m.InboxRich})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": out})
	return nil
}
