package wasim

import (
	"context"
	"strconv"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// pnAndLID returns an account's phone-number JID and LID, creating the
// account if needed (every group member is on WhatsApp).
func (s *Server) pnAndLID(ctx context.Context, phone string) (pn, lid types.JID) {
	pn = types.NewJID(phone, types.DefaultUserServer)
	u := s.lookupUser(phone)
	if u == nil {
		var err error
		if u, err = s.userFor(ctx, phone); err != nil {
			return pn, types.EmptyJID
		}
	}
	return pn, u.lidJID()
}

// memberJID is how a group addresses a member: its LID in a LID group,
// its phone number otherwise.
func (s *Server) memberJID(ctx context.Context, g *groupRow, phone string) types.JID {
	pn, lid := s.pnAndLID(ctx, phone)
	if g.LID && !lid.IsEmpty() {
		return lid
	}
	return pn
}

// phoneOfJID returns the phone digits of a PN or LID JID ("" if unknown).
func (s *Server) phoneOfJID(jid types.JID) string {
	switch jid.Server {
	case types.DefaultUserServer, types.LegacyUserServer:
		return jid.User
	case types.HiddenUserServer:
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, u := range s.users {
			if u.lid == jid.User {
				return u.phone
			}
		}
	}
	return ""
}

// participantNode is a member as WhatsApp lists it: the JID of the
// group's addressing mode plus the other one (lid or phone_number).
func (s *Server) participantNode(ctx context.Context, g *groupRow, phone, role string, extra waBinary.Attrs) waBinary.Node {
	pn, lid := s.pnAndLID(ctx, phone)
	a := waBinary.Attrs{"jid": pn}
	if g.LID && !lid.IsEmpty() {
		a["jid"], a["phone_number"] = lid, pn
	} else if !lid.IsEmpty() {
		a["lid"] = lid
	}
	if role != "" {
		a["type"] = role
	}
	for k, v := range extra {
		a[k] = v
	}
	return waBinary.Node{Tag: "participant", Attrs: a}
}

// groupNode is the <group> node of query, create, participating and the
// create notification.
func (s *Server) groupNode(ctx context.Context, g *groupRow) waBinary.Node {
	a := waBinary.Attrs{
		"id": g.ID, "creation": g.Creation, "subject": g.Subject, "s_t": g.SubjectT,
		"size": len(g.Members), "p_v_id": strconv.Itoa(g.Version), "a_v_id": strconv.Itoa(g.Version),
	}
	if g.LID {
		a["addressing_mode"] = string(types.AddressingModeLID)
	} else {
		a["addressing_mode"] = string(types.AddressingModePN)
	}
	if g.Creator != "" {
		a["creator"] = s.memberJID(ctx, g, g.Creator)
		if g.LID {
			a["creator_pn"] = types.NewJID(g.Creator, types.DefaultUserServer)
		}
	}
	if g.SubjectBy != "" {
		a["s_o"] = s.memberJID(ctx, g, g.SubjectBy)
		if g.LID {
			a["s_o_pn"] = types.NewJID(g.SubjectBy, types.DefaultUserServer)
		}
	}
	var content []waBinary.Node
	for _, m := range g.Members {
		content = append(content, s.participantNode(ctx, g, m.Phone, m.Role, nil))
	}
	if g.DescID != "" {
		da := waBinary.Attrs{"id": g.DescID, "t": g.DescT}
		if g.DescBy != "" {
			da["participant"] = s.memberJID(ctx, g, g.DescBy)
		}
		content = append(content, waBinary.Node{Tag: "description", Attrs: da,
			Content: []waBinary.Node{{Tag: "body", Content: []byte(g.Desc)}}})
	}
	if g.Announce {
		content = append(content, waBinary.Node{Tag: "announcement"})
	}
	if g.Locked {
		content = append(content, waBinary.Node{Tag: "locked"})
	}
	content = append(content, waBinary.Node{Tag: "member_add_mode", Content: []byte(types.GroupMemberAddModeAdmin)})
	return waBinary.Node{Tag: "group", Attrs: a, Content: content}
}

// notifyGroup sends a w:gp2 notification about a change by actor to the
// linked devices of the given members (the actor's own devices included,
// as WhatsApp echoes every change).
func (s *Server) notifyGroup(ctx context.Context, g *groupRow, actor string, to []string, child waBinary.Node) {
	attrs := waBinary.Attrs{"type": "w:gp2", "from": g.jid(), "t": time.Now().Unix()}
	if actor != "" {
		attrs["participant"] = s.memberJID(ctx, g, actor)
		if g.LID {
			attrs["participant_pn"] = types.NewJID(actor, types.DefaultUserServer)
		}
		if u := s.lookupUser(actor); u != nil && u.pushName != "" {
			attrs["notify"] = u.pushName
		}
	}
	for _, phone := range to {
		u := s.lookupUser(phone)
		if u == nil {
			continue
		}
		for _, d := range s.devicesOf(u)[1:] {
			a := make(waBinary.Attrs, len(attrs)+1)
			for k, v := range attrs {
				a[k] = v
			}
			a["id"] = randomID(8)
			s.deliver(ctx, d, waBinary.Node{Tag: "notification", Attrs: a, Content: []waBinary.Node{child}})
		}
	}
}

// notifyJoined tells newcomers about the whole group (events.JoinedGroup).
func (s *Server) notifyJoined(ctx context.Context, g *groupRow, actor string, newcomers []string, attrs waBinary.Attrs) {
	s.notifyGroup(ctx, g, actor, newcomers, waBinary.Node{Tag: "create", Attrs: attrs, Content: []waBinary.Node{s.groupNode(ctx, g)}})
}

// participantsChange is an <add>/<remove>/<promote>/<demote> child of a
// notification.
func (s *Server) participantsChange(ctx context.Context, g *groupRow, tag string, phones []string, attrs waBinary.Attrs) waBinary.Node {
	n := waBinary.Node{Tag: tag, Attrs: attrs}
	var list []waBinary.Node
	for _, p := range phones {
		list = append(list, s.participantNode(ctx, g, p, "", nil))
	}
	n.Content = list
	return n
}

// others returns the members not in except.
func others(g *groupRow, except []string) []string {
	skip := map[string]bool{}
	for _, p := range except {
		skip[p] = true
	}
	var out []string
	for _, m := range g.Members {
		if !skip[m.Phone] {
			out = append(out, m.Phone)
		}
	}
	return out
}
