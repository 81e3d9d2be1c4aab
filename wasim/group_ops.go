package wasim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// The group operations, shared by the w:g2 IQs of linked devices and the
// operator controls that act for a contact. Each checks the actor's rights
// as WhatsApp does, stores the change and notifies the members.

// groupIQCode is the iq error code WhatsApp answers a refused operation with.
func groupIQCode(err error) (int, string) {
	switch {
	case errors.Is(err, ErrGroupNotFound):
		return 404, "item-not-found"
	case errors.Is(err, ErrNotInGroup), errors.Is(err, ErrNotGroupAdmin):
		return 403, "forbidden"
	case errors.Is(err, errInviteRevoked):
		return 410, "gone"
	case errors.Is(err, errInviteInvalid):
		return 406, "not-acceptable"
	case errors.Is(err, errNotInviteAdmin):
		return 401, "not-authorized"
	case errors.Is(err, ErrInvalidSpec), errors.Is(err, ErrBadPhoneNumber):
		return 400, "bad-request"
	}
	return 500, "internal-server-error"
}

var (
	errInviteRevoked  = errors.New("wasim: invite link revoked")
	errInviteInvalid  = errors.New("wasim: invite link invalid")
	errNotInviteAdmin = errors.New("wasim: only admins see the invite link")
)

// participantResult is one participant of an add/remove/promote/demote or
// create: code 0 = done.
type participantResult struct {
	phone string
	jid   types.JID // as asked
	code  int
}

// createGroupAs creates a group with creator as superadmin. Numbers not on
// WhatsApp are answered with error 404 and left out.
func (s *Server) createGroupAs(ctx context.Context, creator, subject, key string, asked []types.JID, locked, announce, lid bool) (*groupRow, []participantResult, error) {
	if _, err := s.userFor(ctx, creator); err != nil {
		return nil, nil, err
	}
	var members []string
	var results []participantResult
	for _, j := range asked {
		phone := s.phoneOfJID(j)
		r := participantResult{phone: phone, jid: j}
		if phone == "" || !onWhatsApp(phone) {
			r.code = 404
		} else if _, err := s.userFor(ctx, phone); err != nil {
			r.code = 404
		} else if phone != creator {
			members = append(members, phone)
		}
		results = append(results, r)
	}
	g, err := s.newGroup(ctx, creator, subject, members, lid)
	if err != nil {
		return nil, nil, err
	}
	if locked || announce {
		_, g, err = s.updateGroup(ctx, g.jid(), func(g *groupRow) error {
			g.Locked, g.Announce = locked, announce
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	attrs := waBinary.Attrs{"type": "new"}
	if key != "" {
		s.notifyJoined(ctx, g, creator, []string{creator}, waBinary.Attrs{"type": "new", "key": key})
	} else {
		s.notifyJoined(ctx, g, creator, []string{creator}, attrs)
	}
	s.notifyJoined(ctx, g, creator, others(g, []string{creator}), attrs)
	return g, results, nil
}

// requireMember checks that phone is in the group, and an admin if admin.
func requireMember(g *groupRow, phone string, admin bool) error {
	if g.member(phone) == nil {
		return fmt.Errorf("%w: +%s", ErrNotInGroup, phone)
	}
	if admin && !g.isAdmin(phone) {
		return fmt.Errorf("%w: +%s", ErrNotGroupAdmin, phone)
	}
	return nil
}

// changeParticipants is add, remove, promote or demote by actor (an admin).
func (s *Server) changeParticipants(ctx context.Context, jid types.JID, actor, action string, asked []types.JID) ([]participantResult, error) {
	var results []participantResult
	var done []string
	before, after, err := s.updateGroup(ctx, jid, func(g *groupRow) error {
		if err := requireMember(g, actor, true); err != nil {
			return err
		}
		results, done = nil, nil
		for _, j := range asked {
			phone := s.phoneOfJID(j)
			r := participantResult{phone: phone, jid: j}
			m := g.member(phone)
			switch {
			case phone == "" || !onWhatsApp(phone):
				r.code = 404
			case action == "add" && m != nil:
				r.code = 409
			case action != "add" && m == nil:
				r.code = 404
			case action == "add":
				g.Members = append(g.Members, groupMember{Phone: phone})
			case action == "remove":
				if m.Role == "superadmin" && actor != phone {
					r.code = 406 // the creator cannot be removed
					break
				}
				g.Members = slices.DeleteFunc(g.Members, func(x groupMember) bool { return x.Phone == phone })
			case action == "promote":
				if m.Role == "" {
					m.Role = "admin"
				}
			case action == "demote":
				m.Role = ""
			}
			if r.code == 0 {
				done = append(done, phone)
			}
			results = append(results, r)
		}
		if len(done) == 0 {
			return errNoChange
		}
		return nil
	})
	if errors.Is(err, errNoChange) {
		return results, nil
	}
	if err != nil {
		return nil, err
	}
	for _, phone := range done {
		if action == "add" {
			if _, err := s.userFor(ctx, phone); err != nil {
				return nil, err
			}
		}
	}
	change := s.participantsChange(ctx, after, action, done, waBinary.Attrs{"v_id": fmt.Sprint(after.Version), "prev_v_id": fmt.Sprint(before.Version)})
	switch action {
	case "add":
		s.notifyGroup(ctx, after, actor, others(after, done), change)
		s.notifyJoined(ctx, after, actor, done, waBinary.Attrs{"reason": "add"})
	case "remove":
		// The removed members hear of it too.
		s.notifyGroup(ctx, after, actor, before.phones(), change)
	default:
		s.notifyGroup(ctx, after, actor, after.phones(), change)
	}
	return results, nil
}

var errNoChange = errors.New("wasim: nothing changed")

// setGroupSubject renames a group; in a locked group only admins may.
func (s *Server) setGroupSubject(ctx context.Context, jid types.JID, actor, subject string) error {
	now := time.Now().Unix()
	_, g, err := s.updateGroup(ctx, jid, func(g *groupRow) error {
		if err := requireMember(g, actor, g.Locked); err != nil {
			return err
		}
		g.Subject, g.SubjectT, g.SubjectBy = subject, now, actor
		return nil
	})
	if err != nil {
		return err
	}
	a := waBinary.Attrs{"subject": subject, "s_t": now, "s_o": s.memberJID(ctx, g, actor)}
	if g.LID {
		a["s_o_pn"] = types.NewJID(actor, types.DefaultUserServer)
	}
	s.notifyGroup(ctx, g, actor, g.phones(), waBinary.Node{Tag: "subject", Attrs: a})
	return nil
}

// setGroupDescription sets (or with "" deletes) the description.
func (s *Server) setGroupDescription(ctx context.Context, jid types.JID, actor, desc string) error {
	id := randomID(8)
	_, g, err := s.updateGroup(ctx, jid, func(g *groupRow) error {
		if err := requireMember(g, actor, g.Locked); err != nil {
			return err
		}
		g.Desc, g.DescID, g.DescT, g.DescBy = desc, id, time.Now().Unix(), actor
		if desc == "" {
			g.DescID = ""
		}
		return nil
	})
	if err != nil {
		return err
	}
	n := waBinary.Node{Tag: "description", Attrs: waBinary.Attrs{"id": id}}
	if desc == "" {
		n.Content = []waBinary.Node{{Tag: "delete"}}
	} else {
		n.Content = []waBinary.Node{{Tag: "body", Content: []byte(desc)}}
	}
	s.notifyGroup(ctx, g, actor, g.phones(), n)
	return nil
}

// setGroupFlag is announcement / not_announcement / locked / unlocked.
func (s *Server) setGroupFlag(ctx context.Context, jid types.JID, actor, tag string) error {
	_, g, err := s.updateGroup(ctx, jid, func(g *groupRow) error {
		if err := requireMember(g, actor, true); err != nil {
			return err
		}
		switch tag {
		case "announcement", "not_announcement":
			g.Announce = tag == "announcement"
		case "locked", "unlocked":
			g.Locked = tag == "locked"
		}
		return nil
	})
	if err != nil {
		return err
	}
	n := waBinary.Node{Tag: tag}
	if tag == "announcement" || tag == "not_announcement" {
		n.Attrs = waBinary.Attrs{"v_id": fmt.Sprint(g.Version)}
	}
	s.notifyGroup(ctx, g, actor, g.phones(), n)
	return nil
}

// groupInvite returns the invite code (admins only); reset makes a new one
// and revokes the old.
func (s *Server) groupInvite(ctx context.Context, jid types.JID, actor string, reset bool) (string, error) {
	if !reset {
		g := s.group(jid)
		if g == nil {
			return "", fmt.Errorf("%w: %s", ErrGroupNotFound, jid)
		}
		if err := requireMember(g, actor, false); err != nil {
			return "", err
		}
		if !g.isAdmin(actor) {
			return "", errNotInviteAdmin
		}
		return g.Invite, nil
	}
	_, g, err := s.updateGroup(ctx, jid, func(g *groupRow) error {
		if err := requireMember(g, actor, false); err != nil {
			return err
		}
		if !g.isAdmin(actor) {
			return errNotInviteAdmin
		}
		g.Revoked = append(g.Revoked, g.Invite)
		g.Invite = randomInvite()
		return nil
	})
	if err != nil {
		return "", err
	}
	return g.Invite, nil
}

// inviteTarget is the group of an invite code.
func (s *Server) inviteTarget(code string) (*groupRow, error) {
	g, revoked := s.groupByInvite(code)
	if g == nil {
		if revoked {
			return nil, errInviteRevoked
		}
		return nil, errInviteInvalid
	}
	return g, nil
}

// joinByInvite adds phone to the group of an invite code.
func (s *Server) joinByInvite(ctx context.Context, phone, code string) (*groupRow, error) {
	g, err := s.inviteTarget(code)
	if err != nil {
		return nil, err
	}
	if g.member(phone) != nil {
		return g, nil
	}
	_, g, err = s.updateGroup(ctx, g.jid(), func(g *groupRow) error {
		if g.Invite != code {
			return errInviteRevoked
		}
		if g.member(phone) == nil {
			g.Members = append(g.Members, groupMember{Phone: phone})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	change := s.participantsChange(ctx, g, "add", []string{phone}, waBinary.Attrs{"reason": "invite", "v_id": fmt.Sprint(g.Version)})
	s.notifyGroup(ctx, g, phone, others(g, []string{phone}), change)
	s.notifyJoined(ctx, g, phone, []string{phone}, waBinary.Attrs{"reason": "invite"})
	return g, nil
}

// leaveGroup takes phone out of a group; if the last admin leaves, the
// oldest member becomes admin, as WhatsApp does.
func (s *Server) leaveGroup(ctx context.Context, jid types.JID, phone string) error {
	before, after, err := s.updateGroup(ctx, jid, func(g *groupRow) error {
		if err := requireMember(g, phone, false); err != nil {
			return err
		}
		g.Members = slices.DeleteFunc(g.Members, func(x groupMember) bool { return x.Phone == phone })
		if len(g.Members) > 0 && !slices.ContainsFunc(g.Members, func(m groupMember) bool { return m.Role != "" }) {
			g.Members[0].Role = "admin"
		}
		return nil
	})
	if err != nil {
		return err
	}
	change := s.participantsChange(ctx, after, "remove", []string{phone}, waBinary.Attrs{"v_id": fmt.Sprint(after.Version)})
	s.notifyGroup(ctx, after, phone, before.phones(), change)
	return nil
}
