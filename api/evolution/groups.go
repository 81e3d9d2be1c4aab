package evolution

import (
	"net/http"
	"strings"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
)

// groupJid reads ?groupJid= as Evolution's groupValidate does: required,
// and "@g.us" added when missing.
func groupJid(r *http.Request) (string, error) {
	j := r.URL.Query().Get("groupJid")
	if j == "" {
		return "", badRequest("The group id needs to be informed in the query", `ex: "groupJid=120362@g.us"`)
	}
	if !strings.HasSuffix(j, "@g.us") {
		j += "@g.us"
	}
	return j, nil
}

func participantView(p event.GroupParticipant) map[string]any {
	admin := any(nil)
	switch {
	case p.SuperAdmin:
		admin = "superadmin"
	case p.Admin:
		admin = "admin"
	}
	id := p.JID
	if id == "" {
		id = p.LID
	}
	return map[string]any{"id": id, "jid": orNil(p.JID), "lid": orNil(p.LID), "admin": admin}
}

// groupView is Baileys' GroupMetadata as Evolution answers it.
func groupView(g *event.Group, withParticipants bool) map[string]any {
	owner := any(nil)
	if g.Owner != nil {
		owner = orNil(g.Owner.JID)
	}
	creation := any(nil)
	if g.CreatedAt != nil {
		creation = g.CreatedAt.Unix()
	}
	v := map[string]any{
		"id": g.JID, "subject": g.Subject, "subjectOwner": owner, "subjectTime": creation, "pictureUrl": nil,
		"size": g.Count, "creation": creation, "owner": owner, "desc": g.Description, "descId": nil,
		"restrict": g.Locked, "announce": g.Announce,
	}
	if withParticipants {
		ps := make([]map[string]any, len(g.Participants))
		for i, p := range g.Participants {
			ps[i] = participantView(p)
		}
		v["participants"] = ps
	}
	return v
}

func (h *handler) createGroup(w http.ResponseWriter, r *http.Request, c *caller) error {
	var b struct {
		Subject      string   `json:"subject"`
		Description  string   `json:"description"`
		Participants []string `json:"participants"`
	}
	if err := decode(w, r, &b, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	var msgs []any
	if b.Subject == "" {
		msgs = append(msgs, required("subject"))
	}
	if len(b.Participants) == 0 {
		msgs = append(msgs, required("participants"))
	}
	if len(msgs) > 0 {
		return badRequest(msgs...)
	}
	people := make([]string, len(b.Participants))
	for i, p := range b.Participants {
		people[i] = recipient(p)
	}
	ctx, cancel := withTimeout(r, lifeTimeout)
	defer cancel()
	g, _, err := h.m.CreateGroup(ctx, c.target.ID, b.Subject, people)
	if err != nil {
		return toAPIError(err, c.target.Name)
	}
	if b.Description != "" {
		if g2, err := h.m.UpdateGroup(ctx, c.target.ID, g.JID, instance.GroupPatch{Description: &b.Description}); err == nil {
			g = g2
		}
	}
	writeJSON(w, http.StatusCreated, groupView(g, true))
	return nil
}

func (h *handler) fetchAllGroups(w http.ResponseWriter, r *http.Request, c *caller) error {
	gp := r.URL.Query().Get("getParticipants")
	if gp == "" {
		return badRequest("The getParticipants needs to be informed in the query")
	}
	ctx, cancel := withTimeout(r, lifeTimeout)
	defer cancel()
	gs, err := h.m.Groups(ctx, c.target.ID)
	if err != nil {
		return toAPIError(err, c.target.Name)
	}
	out := make([]map[string]any, len(gs))
	for i := range gs {
		out[i] = groupView(&gs[i], gp == "true")
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// group loads the ?groupJid= group.
func (h *handler) group(r *http.Request, c *caller) (*event.Group, error) {
	jid, err := groupJid(r)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withTimeout(r, lifeTimeout)
	defer cancel()
	g, err := h.m.Group(ctx, c.target.ID, jid)
	if err != nil {
		return nil, toAPIError(err, c.target.Name)
	}
	return g, nil
}

func (h *handler) findGroupInfos(w http.ResponseWriter, r *http.Request, c *caller) error {
	g, err := h.group(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, groupView(g, true))
	return nil
}

func (h *handler) participants(w http.ResponseWriter, r *http.Request, c *caller) error {
	g, err := h.group(r, c)
	if err != nil {
		return err
	}
	ps := make([]map[string]any, len(g.Participants))
	for i, p := range g.Participants {
		ps[i] = participantView(p)
	}
	writeJSON(w, http.StatusOK, map[string]any{"participants": ps})
	return nil
}

func (h *handler) updateParticipant(w http.ResponseWriter, r *http.Request, c *caller) error {
	jid, err := groupJid(r)
	if err != nil {
		return err
	}
	var b struct {
		Action       string   `json:"action"`
		Participants []string `json:"participants"`
	}
	if err := decode(w, r, &b, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	switch b.Action {
	case "add", "remove", "promote", "demote":
	case "":
		return badRequest(required("action"))
	default:
		return badRequest("action is not one of enum values: add,remove,promote,demote")
	}
	if len(b.Participants) == 0 {
		return badRequest(required("participants"))
	}
	people := make([]string, len(b.Participants))
	for i, p := range b.Participants {
		people[i] = recipient(p)
	}
	ctx, cancel := withTimeout(r, lifeTimeout)
	defer cancel()
	res, err := h.m.GroupParticipants(ctx, c.target.ID, jid, b.Action, people)
	if err != nil {
		return toAPIError(err, c.target.Name)
	}
	out := make([]map[string]any, len(res))
	for i, p := range res {
		status := "200"
		if p.Error != 0 {
			status = itoa(p.Error)
		}
		out[i] = map[string]any{"status": status, "jid": participantView(p)["id"], "result": p.Result}
	}
	writeJSON(w, http.StatusCreated, map[string]any{"updateParticipants": out})
	return nil
}

func (h *handler) updateGroup(what string) func(http.ResponseWriter, *http.Request, *caller) error {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		jid, err := groupJid(r)
		if err != nil {
			return err
		}
		var b struct {
			Subject     *string `json:"subject"`
			Description *string `json:"description"`
			Action      string  `json:"action"`
		}
		if err := decode(w, r, &b, h.opts.MaxBodyBytes); err != nil {
			return err
		}
		var p instance.GroupPatch
		on, off := true, false
		switch what {
		case "subject":
			if b.Subject == nil {
				return badRequest(required("subject"))
			}
			p.Subject = b.Subject
		case "description":
			if b.Description == nil {
				return badRequest(required("description"))
			}
			p.Description = b.Description
		default:
			switch b.Action {
			case "announcement":
				p.Announce = &on
			case "not_announcement":
				p.Announce = &off
			case "locked":
				p.Locked = &on
			case "unlocked":
				p.Locked = &off
			case "":
				return badRequest(required("action"))
			default:
				return badRequest("action is not one of enum values: announcement,not_announcement,locked,unlocked")
			}
		}
		ctx, cancel := withTimeout(r, lifeTimeout)
		defer cancel()
		if _, err := h.m.UpdateGroup(ctx, c.target.ID, jid, p); err != nil {
			return toAPIError(err, c.target.Name)
		}
		writeJSON(w, http.StatusCreated, map[string]any{"update": "success"})
		return nil
	}
}

func (h *handler) inviteCode(w http.ResponseWriter, r *http.Request, c *caller) error {
	return h.invite(w, r, c, false)
}

func (h *handler) revokeInviteCode(w http.ResponseWriter, r *http.Request, c *caller) error {
	return h.invite(w, r, c, true)
}

func (h *handler) invite(w http.ResponseWriter, r *http.Request, c *caller, reset bool) error {
	jid, err := groupJid(r)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(r, lifeTimeout)
	defer cancel()
	link, code, err := h.m.GroupInvite(ctx, c.target.ID, jid, reset)
	if err != nil {
		return toAPIError(err, c.target.Name)
	}
	if reset {
		writeJSON(w, http.StatusCreated, map[string]any{"revoked": true, "inviteCode": code})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"inviteUrl": link, "inviteCode": code})
	return nil
}

func (h *handler) acceptInviteCode(w http.ResponseWriter, r *http.Request, c *caller) error {
	code := r.URL.Query().Get("inviteCode")
	if code == "" {
		return badRequest("The group invite code id needs to be informed in the query",
			`ex: "inviteCode=F1EX5QZxO181L3TMVP31gY" (Obtained from group join link)`)
	}
	ctx, cancel := withTimeout(r, lifeTimeout)
	defer cancel()
	g, err := h.m.JoinGroup(ctx, c.target.ID, code)
	if err != nil {
		return toAPIError(err, c.target.Name)
	}
	writeJSON(w, http.StatusOK, map[string]any{"accepted": true, "groupJid": g.JID})
	return nil
}

func (h *handler) leaveGroup(w http.ResponseWriter, r *http.Request, c *caller) error {
	jid, err := groupJid(r)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(r, lifeTimeout)
	defer cancel()
	if err := h.m.LeaveGroup(ctx, c.target.ID, jid); err != nil {
		return toAPIError(err, c.target.Name)
	}
	writeJSON(w, http.StatusOK, map[string]any{"groupJid": jid, "leave": true})
	return nil
}

func (h *handler) whatsappNumbers(w http.ResponseWriter, r *http.Request, c *caller) error {
	var b struct {
		Numbers []string `json:"numbers"`
	}
	if err := decode(w, r, &b, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	if len(b.Numbers) == 0 {
		return badRequest(required("numbers"))
	}
	phones := make([]string, len(b.Numbers))
	for i, n := range b.Numbers {
		phones[i] = "+" + digits(n)
	}
	ctx, cancel := withTimeout(r, lifeTimeout)
	defer cancel()
	res, err := h.m.CheckContacts(ctx, c.target.ID, phones)
	if err != nil {
		return toAPIError(err, c.target.Name)
	}
	out := make([]map[string]any, len(res))
	for i, x := range res {
		jid := x.JID
		if jid == "" {
			jid = digits(x.Phone) + "@s.whatsapp.net"
		}
		out[i] = map[string]any{"exists": x.OnWhatsApp, "jid": jid, "number": digits(x.Phone), "name": nil, "lid": orNil(x.LID)}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
