package api

import (
	"net/http"
	"time"

	"github.com/meowgate/meowgate/instance"
)

// WhatsApp answers group calls within seconds; a slow answer is a 503.
const groupTimeout = 30 * time.Second

func (h *handler) listGroups(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx, cancel := withTimeout(r, groupTimeout)
	defer cancel()
	gs, err := h.m.Groups(ctx, c.target)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": gs})
	return nil
}

func (h *handler) createGroup(w http.ResponseWriter, r *http.Request, c *caller) error {
	var b struct {
		Subject      string   `json:"subject"`
		Participants []string `json:"participants"`
	}
	if err := h.decode(w, r, &b, false); err != nil {
		return err
	}
	ctx, cancel := withTimeout(r, groupTimeout)
	defer cancel()
	g, results, err := h.m.CreateGroup(ctx, c.target, b.Subject, b.Participants)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"group": g, "participants": results})
	return nil
}

func (h *handler) getGroup(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx, cancel := withTimeout(r, groupTimeout)
	defer cancel()
	g, err := h.m.Group(ctx, c.target, r.PathValue("jid"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"group": g})
	return nil
}

func (h *handler) updateGroup(w http.ResponseWriter, r *http.Request, c *caller) error {
	var b struct {
		Subject     *string `json:"subject"`
		Description *string `json:"description"`
		Announce    *bool   `json:"announce"`
		Locked      *bool   `json:"locked"`
	}
	if err := h.decode(w, r, &b, false); err != nil {
		return err
	}
	ctx, cancel := withTimeout(r, groupTimeout)
	defer cancel()
	g, err := h.m.UpdateGroup(ctx, c.target, r.PathValue("jid"), instance.GroupPatch(b))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"group": g})
	return nil
}

func (h *handler) groupParticipants(w http.ResponseWriter, r *http.Request, c *caller) error {
	var b struct {
		Action       string   `json:"action"`
		Participants []string `json:"participants"`
	}
	if err := h.decode(w, r, &b, false); err != nil {
		return err
	}
	ctx, cancel := withTimeout(r, groupTimeout)
	defer cancel()
	res, err := h.m.GroupParticipants(ctx, c.target, r.PathValue("jid"), b.Action, b.Participants)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"participants": res})
	return nil
}

// groupInvite answers GET (the link) and DELETE (a new link; the old one
// stops working).
func (h *handler) groupInvite(reset bool) func(http.ResponseWriter, *http.Request, *caller) error {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		ctx, cancel := withTimeout(r, groupTimeout)
		defer cancel()
		link, code, err := h.m.GroupInvite(ctx, c.target, r.PathValue("jid"), reset)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]string{"link": link, "code": code})
		return nil
	}
}

func (h *handler) joinGroup(w http.ResponseWriter, r *http.Request, c *caller) error {
	var b struct {
		Link string `json:"link"`
		Code string `json:"code"`
	}
	if err := h.decode(w, r, &b, false); err != nil {
		return err
	}
	if (b.Link == "") == (b.Code == "") {
		return invalidFields("give link or code", map[string]string{"link": "give exactly one of link and code"})
	}
	ctx, cancel := withTimeout(r, groupTimeout)
	defer cancel()
	g, err := h.m.JoinGroup(ctx, c.target, b.Link+b.Code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"group": g})
	return nil
}

func (h *handler) leaveGroup(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx, cancel := withTimeout(r, groupTimeout)
	defer cancel()
	if err := h.m.LeaveGroup(ctx, c.target, r.PathValue("jid")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"left": r.PathValue("jid")})
	return nil
}
