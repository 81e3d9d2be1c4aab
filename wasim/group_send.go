package wasim

import (
	"context"
	"fmt"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

// specRecipient is the account an IncomingSpec goes to: To, or for a
// message into a simulated group without To, another member of it (the
// chat the phone quotes and reacts in).
func (s *Server) specRecipient(ctx context.Context, sender *user, spec IncomingSpec) (*user, error) {
	if spec.To != "" || spec.Group == "" {
		return s.userFor(ctx, spec.To)
	}
	jid, err := types.ParseJID(spec.Group)
	if err != nil || jid.Server != types.GroupServer {
		return nil, specErr("group", "not a group JID: %q", spec.Group)
	}
	g := s.group(jid)
	if g == nil {
		return nil, fmt.Errorf("%w: %s", ErrGroupNotFound, jid)
	}
	for _, m := range g.Members {
		if m.Phone != sender.phone {
			return s.userFor(ctx, m.Phone)
		}
	}
	return nil, specErr("group", "the sender is alone in %s", jid)
}

// phoneDeliverGroup is a contact's phone writing into a simulated group:
// its sender key goes to every linked device of the other members in a
// pkmsg/msg, the message itself in one skmsg, with participant and
// participant_pn/participant_lid as WhatsApp sets them.
func (s *Server) phoneDeliverGroup(ctx context.Context, sender *user, g *groupRow, id string, m *waE2E.Message, pushName string, wire *wireAttrs) error {
	if err := requireMember(g, sender.phone, g.Announce); err != nil {
		return err
	}
	if wire == nil {
		wire = &wireAttrs{msgType: "text"}
	}
	dist, sk, err := s.groupEncrypt(ctx, sender, g.jid(), m)
	if err != nil {
		return err
	}
	if wire.mediaType != "" {
		sk.Attrs["mediatype"] = wire.mediaType
	}
	t := time.Now().Unix()
	for _, member := range g.Members {
		if member.Phone == sender.phone {
			continue
		}
		u := s.lookupUser(member.Phone)
		if u == nil {
			continue
		}
		for _, d := range s.devicesOf(u)[1:] {
			enc, err := s.phoneEncrypt(ctx, sender, d, dist)
			if err != nil {
				return err
			}
			attrs := s.groupAttrs(ctx, g, sender.jid())
			attrs["id"], attrs["t"], attrs["type"] = id, t, wire.msgType
			if wire.edit != "" {
				attrs["edit"] = wire.edit
			}
			if pushName != "" {
				attrs["notify"] = pushName
			}
			s.deliver(ctx, d, waBinary.Node{Tag: "message", Attrs: attrs, Content: []waBinary.Node{enc, sk}})
		}
	}
	return nil
}
