package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/store"
)

func (h *handler) sendMessage(w http.ResponseWriter, r *http.Request, c *caller) error {
	if isMultipart(r) || r.ContentLength < 0 || r.ContentLength > h.opts.MaxBodyBytes {
		// A body with media may take longer to arrive than the server's
		// read and write timeouts allow a JSON request (the caller is
		// authenticated by now).
		rc := http.NewResponseController(w)
		deadline := time.Now().Add(uploadTime)
		_ = rc.SetReadDeadline(deadline)
		_ = rc.SetWriteDeadline(deadline)
	}
	if isMultipart(r) {
		// The file is read while Send stages it (upload.go): Send runs
		// inside the parse, once every field before the file is known.
		return h.sendMultipart(w, r, c)
	}
	var b sendBody
	if err := decodeMax(w, r, &b, false, h.messageLimit()); err != nil {
		return err
	}
	return h.send(w, r, c, b.params())
}

// uploadTime bounds receiving a message with media and answering it: 100
// MiB at 2 Mbit/s, with room to stage the file.
const uploadTime = 10 * time.Minute

// messageLimit is the body limit of POST …/messages: the largest media file
// base64-encoded (4 bytes for every 3), plus the ordinary limit for the rest.
func (h *handler) messageLimit() int64 {
	return h.opts.MaxBodyBytes + 4*((h.opts.MaxUploadBytes+2)/3)
}

// send queues p and writes the 202.
func (h *handler) send(w http.ResponseWriter, r *http.Request, c *caller, p instance.SendParams) error {
	// Staging a media file (a URL fetched, an upload written to disk) takes
	// longer than queueing a text; the Manager bounds the fetch itself.
	timeout := 15 * time.Second
	if p.URL != "" || p.File != nil || p.Base64 != "" {
		timeout = 10 * time.Minute
	}
	ctx, cancel := withTimeout(r, timeout)
	defer cancel()
	msg, replay, err := h.m.Send(ctx, c.target, p, strings.TrimSpace(r.Header.Get("Idempotency-Key")))
	if err != nil {
		return err
	}
	if replay {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"message": msg})
	return nil
}

// editMessage is PATCH …/messages/{id}: {"text"} edits a sent text message.
func (h *handler) editMessage(w http.ResponseWriter, r *http.Request, c *caller) error {
	var b editBody
	if err := h.decode(w, r, &b, false); err != nil {
		return err
	}
	if b.Text == nil {
		return invalidFields("some fields are invalid", map[string]string{"text": "is required"})
	}
	ctx, cancel := withTimeout(r, 15*time.Second)
	defer cancel()
	msg, err := h.m.EditMessage(ctx, c.target, r.PathValue("id"), *b.Text)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": msg})
	return nil
}

// revokeMessage is DELETE …/messages/{id}: ?for_everyone=true revokes a
// sent message on WhatsApp; without it a queued message is canceled.
func (h *handler) revokeMessage(w http.ResponseWriter, r *http.Request, c *caller) error {
	forEveryone := false
	if v := r.URL.Query().Get("for_everyone"); v != "" {
		switch v {
		case "true", "1":
			forEveryone = true
		case "false", "0":
		default:
			return invalidFields("bad query", map[string]string{"for_everyone": "must be true, false, 1 or 0"})
		}
	}
	ctx, cancel := withTimeout(r, 15*time.Second)
	defer cancel()
	msg, err := h.m.RevokeMessage(ctx, c.target, r.PathValue("id"), forEveryone)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": msg})
	return nil
}

func (h *handler) listMessages(w http.ResponseWriter, r *http.Request, c *caller) error {
	q := r.URL.Query()
	f := store.MessageFilter{Direction: q.Get("direction"), Before: q.Get("before"), Limit: 50}
	fields := map[string]string{}
	if f.Direction != "" && f.Direction != "in" && f.Direction != "out" {
		fields["direction"] = "must be in or out"
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 500 {
			fields["limit"] = "must be between 1 and 500"
		}
		f.Limit = n
	}
	if chat := q.Get("chat"); chat != "" {
		jid, err := instance.ChatJID(chat)
		if err != nil {
			fields["chat"] = err.Error()
		}
		f.Chat = jid
	}
	if len(fields) > 0 {
		return invalidFields("bad query", fields)
	}
	msgs, err := h.m.Messages(r.Context(), c.target, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs})
	return nil
}

func (h *handler) getMessage(w http.ResponseWriter, r *http.Request, c *caller) error {
	msg, err := h.m.Message(r.Context(), c.target, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": msg})
	return nil
}

func (h *handler) listQueue(w http.ResponseWriter, r *http.Request, c *caller) error {
	msgs, err := h.m.Queue(r.Context(), c.target)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs})
	return nil
}

func (h *handler) clearQueue(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx, cancel := withTimeout(r, 15*time.Second)
	defer cancel()
	n, err := h.m.CancelQueue(ctx, c.target)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"canceled": n})
	return nil
}
