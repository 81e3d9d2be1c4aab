package wasim

import (
	"fmt"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// handleGroupIQ answers the w:g2 IQs of a logged-in linked device; the
// actor is its account.
func (c *conn) handleGroupIQ(id, typ string, n *waBinary.Node, first waBinary.Node) {
	s, ctx := c.s, c.ctx
	dev := c.loggedIn()
	if dev.IsEmpty() {
		c.iqError(id, 401, "not-authorized")
		return
	}
	actor := dev.User
	to, _ := n.Attrs["to"].(types.JID)
	fail := func(err error) {
		code, text := groupIQCode(err)
		if code == 500 {
			s.log.Error("wasim: group iq", "tag", first.Tag, "err", err)
		}
		c.iqError(id, code, text)
	}
	switch {
	case first.Tag == "create" && typ == "set":
		subject, _ := first.Attrs["subject"].(string)
		key, _ := first.Attrs["key"].(string)
		var asked []types.JID
		for _, p := range first.GetChildrenByTag("participant") {
			if j, ok := p.Attrs["jid"].(types.JID); ok {
				asked = append(asked, j)
			}
		}
		_, locked := first.GetOptionalChildByTag("locked")
		_, announce := first.GetOptionalChildByTag("announcement")
		g, results, err := s.createGroupAs(ctx, actor, subject, key, asked, locked, announce, false)
		if err != nil {
			fail(err)
			return
		}
		node := s.groupNode(ctx, g)
		for _, r := range results {
			if r.code != 0 {
				node.Content = append(node.GetChildren(), waBinary.Node{Tag: "participant", Attrs: waBinary.Attrs{"jid": r.jid, "error": fmt.Sprint(r.code)}})
			}
		}
		c.result(id, node)
	case first.Tag == "query" && to.Server == types.GroupServer && to.User != "":
		g := s.group(to)
		if g == nil {
			fail(ErrGroupNotFound)
			return
		}
		if err := requireMember(g, actor, false); err != nil {
			fail(err)
			return
		}
		c.result(id, s.groupNode(ctx, g))
	case first.Tag == "participating":
		var list []waBinary.Node
		for _, g := range s.groupsOf(actor) {
			list = append(list, s.groupNode(ctx, g))
		}
		c.result(id, waBinary.Node{Tag: "groups", Content: list})
	case first.Tag == "add" || first.Tag == "remove" || first.Tag == "promote" || first.Tag == "demote":
		var asked []types.JID
		for _, p := range first.GetChildrenByTag("participant") {
			if j, ok := p.Attrs["jid"].(types.JID); ok {
				asked = append(asked, j)
			}
		}
		results, err := s.changeParticipants(ctx, to, actor, first.Tag, asked)
		if err != nil {
			fail(err)
			return
		}
		var list []waBinary.Node
		for _, r := range results {
			a := waBinary.Attrs{"jid": r.jid}
			if r.code != 0 {
				a["error"] = fmt.Sprint(r.code)
			}
			list = append(list, waBinary.Node{Tag: "participant", Attrs: a})
		}
		c.result(id, waBinary.Node{Tag: first.Tag, Content: list})
	case first.Tag == "subject":
		b, _ := first.Content.([]byte)
		if err := s.setGroupSubject(ctx, to, actor, string(b)); err != nil {
			fail(err)
			return
		}
		c.result(id)
	case first.Tag == "description":
		var desc string
		if body, ok := first.GetOptionalChildByTag("body"); ok {
			b, _ := body.Content.([]byte)
			desc = string(b)
		}
		if err := s.setGroupDescription(ctx, to, actor, desc); err != nil {
			fail(err)
			return
		}
		c.result(id)
	case first.Tag == "announcement" || first.Tag == "not_announcement" || first.Tag == "locked" || first.Tag == "unlocked":
		if err := s.setGroupFlag(ctx, to, actor, first.Tag); err != nil {
			fail(err)
			return
		}
		c.result(id)
	case first.Tag == "invite" && to.Server == types.GroupServer && to.User != "":
		code, err := s.groupInvite(ctx, to, actor, typ == "set")
		if err != nil {
			fail(err)
			return
		}
		c.result(id, waBinary.Node{Tag: "invite", Attrs: waBinary.Attrs{"code": code}})
	case first.Tag == "invite": // to g.us: a link's group, or joining by it
		code, _ := first.Attrs["code"].(string)
		if typ == "set" {
			g, err := s.joinByInvite(ctx, actor, code)
			if err != nil {
				fail(err)
				return
			}
			c.result(id, waBinary.Node{Tag: "group", Attrs: waBinary.Attrs{"jid": g.jid()}})
			return
		}
		g, err := s.inviteTarget(code)
		if err != nil {
			fail(err)
			return
		}
		c.result(id, s.groupNode(ctx, g))
	case first.Tag == "leave":
		var done []waBinary.Node
		for _, gn := range first.GetChildrenByTag("group") {
			gid, _ := gn.Attrs["id"].(types.JID)
			if err := s.leaveGroup(ctx, gid, actor); err != nil {
				fail(err)
				return
			}
			done = append(done, waBinary.Node{Tag: "group", Attrs: waBinary.Attrs{"id": gid}})
		}
		c.result(id, waBinary.Node{Tag: "leave", Content: done})
	default:
		// Approval modes, communities, photos…: not modelled; an empty
		// result keeps the client from waiting for an answer.
		c.result(id)
	}
}
