package api

import (
	"net/http"
)

func (h *handler) checkContacts(w http.ResponseWriter, r *http.Request, c *caller) error {
	var b struct {
		Phones []string `json:"phones"`
	}
	if err := h.decode(w, r, &b, false); err != nil {
		return err
	}
	ctx, cancel := withTimeout(r, groupTimeout)
	defer cancel()
	res, err := h.m.CheckContacts(ctx, c.target, b.Phones)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": res})
	return nil
}

func (h *handler) getContact(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx, cancel := withTimeout(r, groupTimeout)
	defer cancel()
	ct, err := h.m.Contact(ctx, c.target, r.PathValue("who"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"contact": ct})
	return nil
}

func (h *handler) blockContact(block bool) func(http.ResponseWriter, *http.Request, *caller) error {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		ctx, cancel := withTimeout(r, groupTimeout)
		defer cancel()
		ct, err := h.m.Block(ctx, c.target, r.PathValue("who"), block)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"contact": ct})
		return nil
	}
}

func (h *handler) subscribePresence(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx, cancel := withTimeout(r, groupTimeout)
	defer cancel()
	if err := h.m.SubscribePresence(ctx, c.target, r.PathValue("who")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscribed": r.PathValue("who")})
	return nil
}

func (h *handler) setPresence(w http.ResponseWriter, r *http.Request, c *caller) error {
	var b struct {
		State string `json:"state"`
		Chat  string `json:"chat"`
	}
	if err := h.decode(w, r, &b, false); err != nil {
		return err
	}
	ctx, cancel := withTimeout(r, groupTimeout)
	defer cancel()
	if err := h.m.SetPresence(ctx, c.target, b.Chat, b.State); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"state": b.State, "chat": b.Chat})
	return nil
}
