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
	var b sendBody
	if err := h.decode(w, r, &b, false); err != nil {
		return err
	}
	ctx, cancel := withTimeout(r, 15*time.Second)
	defer cancel()
	msg, replay, err := h.m.Send(ctx, c.target, instance.SendParams{To: b.To, Type: b.Type, Text: b.Text, ReplyTo: b.ReplyTo, SendAt: b.SendAt}, strings.TrimSpace(r.Header.Get("Idempotency-Key")))
	if err != nil {
		return err
	}
	if replay {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"message": msg})
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
