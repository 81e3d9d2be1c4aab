package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// Group errors the api maps to statuses.
var (
	ErrGroupNotFound = errors.New("no such group")
	ErrNotInGroup    = errors.New("this instance is not in that group")
	ErrNotGroupAdmin = errors.New("this instance is not an admin of that group")
)

// Group limits (WhatsApp's).
const (
	maxGroupSubject      = 100
	maxGroupDescription  = 2048
	maxGroupParticipants = 1023 // besides the creator: groups hold 1024
	maxParticipantChange = 50   // per request, as the apps allow
)

// groupError turns whatsmeow's group errors into the domain's.
func groupError(err error) error {
	var iq *whatsmeow.IQError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, whatsmeow.ErrGroupNotFound):
		return ErrGroupNotFound
	case errors.Is(err, whatsmeow.ErrNotInGroup):
		return ErrNotInGroup
	case errors.Is(err, whatsmeow.ErrInviteLinkInvalid), errors.Is(err, whatsmeow.ErrInviteLinkRevoked):
		return invalid("link", err.Error())
	case errors.Is(err, whatsmeow.ErrGroupInviteLinkUnauthorized):
		return ErrNotGroupAdmin
	case errors.As(err, &iq) && iq.Code == 403:
		return ErrNotGroupAdmin
	case errors.As(err, &iq) && iq.Code == 404:
		return ErrGroupNotFound
	case errors.As(err, &iq) && iq.Code == 406:
		return invalid("subject", fmt.Sprintf("WhatsApp refused it (%s)", iq.Text))
	}
	return fmt.Errorf("instance: group: %w", err)
}

// ParseGroupJID accepts a group JID (…@g.us) or its user part.
func ParseGroupJID(s string) (types.JID, error) {
	s = strings.TrimSpace(s)
	if s != "" && !strings.Contains(s, "@") {
		s += "@" + types.GroupServer
	}
	jid, err := types.ParseJID(s)
	if err != nil || jid.Server != types.GroupServer || jid.User == "" || strings.Trim(jid.User, "0123456789-") != "" {
		return types.EmptyJID, invalid("jid", "must be a group JID such as 120363012345678901@g.us")
	}
	return jid, nil
}

// parseMembers turns +E164 numbers, phone JIDs and LIDs into user JIDs.
func parseMembers(field string, in []string, maxN int) ([]types.JID, error) {
	if len(in) == 0 {
		return nil, invalid(field, "must list at least one person")
	}
	if len(in) > maxN {
		return nil, invalid(field, fmt.Sprintf("must list at most %d people", maxN))
	}
	out := make([]types.JID, 0, len(in))
	seen := map[types.JID]bool{}
	for _, p := range in {
		jid, err := parseRecipient(strings.TrimSpace(p))
		if err != nil || jid.Server == types.GroupServer {
			return nil, invalid(field, fmt.Sprintf("%q must be an E.164 number, a phone JID or a LID", p))
		}
		if !seen[jid] {
			seen[jid] = true
			out = append(out, jid)
		}
	}
	return out, nil
}

// groupView is the API's view of a group.
func (m *Manager) groupView(ctx context.Context, cli *whatsmeow.Client, g *types.GroupInfo) *event.Group {
	v := &event.Group{JID: g.JID.String(), Subject: g.Name, Description: g.Topic, Announce: g.IsAnnounce, Locked: g.IsLocked}
	if !g.GroupCreated.IsZero() {
		t := g.GroupCreated.UTC()
		v.CreatedAt = &t
	}
	if !g.OwnerJID.IsEmpty() {
		o := m.person(ctx, g.OwnerJID, g.OwnerPN)
		v.Owner = &o
	}
	own, ownLID := cli.Store.GetJID().ToNonAD(), cli.Store.GetLID().ToNonAD()
	v.Count = 0
	for _, p := range g.Participants {
		if p.Error != 0 {
			continue // a create's refusal, not a member
		}
		v.Count++
		alt := p.PhoneNumber
		if p.JID.Server == types.DefaultUserServer {
			alt = p.LID
		}
		gp := event.GroupParticipant{Person: m.person(ctx, p.JID, alt), Admin: p.IsAdmin || p.IsSuperAdmin, SuperAdmin: p.IsSuperAdmin}
		v.Participants = append(v.Participants, gp)
		if (p.JID.ToNonAD() == own || p.JID.ToNonAD() == ownLID) && gp.Admin {
			v.IsAdmin = true
		}
	}
	if len(g.Participants) == 0 {
		v.Count = g.ParticipantCount
	}
	return v
}

// cacheGroup stores the group's view, with events, so GET …/groups answers
// from the store.
func (m *Manager) cacheGroup(ctx context.Context, inst *instance, v *event.Group, evs ...store.Event) {
	info, _ := json.Marshal(v)
	if err := m.store.PutGroup(ctx, inst.id, store.Group{JID: v.JID, Subject: v.Subject, Info: info}, evs...); err != nil {
		inst.log.Warn("cannot cache group", "group", v.JID, "err", err)
	}
}

// Groups lists the groups the instance is in: fresh from WhatsApp when
// connected (and cached), from the cache otherwise.
func (m *Manager) Groups(ctx context.Context, idOrName string) ([]event.Group, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	if cli, err := inst.liveClient(ctx); err == nil {
		gs, err := cli.GetJoinedGroups(ctx)
		if err != nil {
			return nil, groupError(err)
		}
		out := make([]event.Group, 0, len(gs))
		rows := make([]store.Group, 0, len(gs))
		for _, g := range gs {
			v := m.groupView(ctx, cli, g)
			info, _ := json.Marshal(v)
			rows = append(rows, store.Group{JID: v.JID, Subject: v.Subject, Info: info})
			v.Participants = nil // the list shows counts; GET …/groups/{jid} the members
			out = append(out, *v)
		}
		if err := m.store.ReplaceGroups(ctx, inst.id, rows); err != nil {
			inst.log.Warn("cannot cache groups", "err", err)
		}
		return out, nil
	}
	rows, err := m.store.Groups(ctx, inst.id)
	if err != nil {
		return nil, err
	}
	out := make([]event.Group, 0, len(rows))
	for _, r := range rows {
		var v event.Group
		if json.Unmarshal(r.Info, &v) == nil {
			v.Participants = nil
			out = append(out, v)
		}
	}
	return out, nil
}

// CreateGroup creates a group with the instance as its admin.
func (m *Manager) CreateGroup(ctx context.Context, idOrName, subject string, participants []string) (*event.Group, []event.GroupParticipant, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, nil, err
	}
	if s := strings.TrimSpace(subject); s == "" || utf8.RuneCountInString(subject) > maxGroupSubject {
		return nil, nil, invalid("subject", fmt.Sprintf("is required (at most %d characters)", maxGroupSubject))
	}
	members, err := parseMembers("participants", participants, maxGroupParticipants)
	if err != nil {
		return nil, nil, err
	}
	cli, err := inst.liveClient(ctx)
	if err != nil {
		return nil, nil, err
	}
	g, err := cli.CreateGroup(ctx, whatsmeow.ReqCreateGroup{Name: subject, Participants: members})
	if err != nil {
		return nil, nil, groupError(err)
	}
	v := m.groupView(ctx, cli, g)
	results := participantResults(ctx, m, "add", members, g.Participants)
	m.cacheGroup(ctx, inst, v)
	return v, results, nil
}

// participantResults says, for each person asked for, what WhatsApp did.
func participantResults(ctx context.Context, m *Manager, action string, asked []types.JID, got []types.GroupParticipant) []event.GroupParticipant {
	done := map[string]string{"add": "added", "remove": "removed", "promote": "promoted", "demote": "demoted"}[action]
	byUser := map[string]types.GroupParticipant{}
	for _, p := range got {
		byUser[p.JID.User] = p
		if !p.PhoneNumber.IsEmpty() {
			byUser[p.PhoneNumber.User] = p
		}
		if !p.LID.IsEmpty() {
			byUser[p.LID.User] = p
		}
	}
	out := make([]event.GroupParticipant, 0, len(asked))
	for _, a := range asked {
		r := event.GroupParticipant{Person: m.person(ctx, a, types.EmptyJID)}
		p, ok := byUser[a.User]
		switch {
		case !ok && action == "add":
			r.Result = "not_added"
		case !ok:
			r.Result = done
		case p.Error == 0:
			r.Result = done
			r.Admin, r.SuperAdmin = p.IsAdmin || p.IsSuperAdmin, p.IsSuperAdmin
		default:
			r.Error, r.Result = p.Error, participantError(action, p.Error)
		}
		out = append(out, r)
	}
	return out
}

// participantError names WhatsApp's per-participant codes.
func participantError(action string, code int) string {
	switch code {
	case 403:
		if action == "add" {
			return "invite_required" // privacy settings: only an invite link can add them
		}
		return "forbidden"
	case 404:
		if action == "add" {
			return "not_on_whatsapp"
		}
		return "not_in_group"
	case 408:
		return "recently_left"
	case 409:
		if action == "add" {
			return "already_in_group"
		}
		return "conflict"
	}
	return fmt.Sprintf("error_%d", code)
}

// Group returns a group's info with its participants, fresh from WhatsApp.
func (m *Manager) Group(ctx context.Context, idOrName, jid string) (*event.Group, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	gj, err := ParseGroupJID(jid)
	if err != nil {
		return nil, err
	}
	cli, err := inst.liveClient(ctx)
	if err != nil {
		if g, gerr := m.store.GetGroup(ctx, inst.id, gj.String()); gerr == nil {
			var v event.Group
			if json.Unmarshal(g.Info, &v) == nil {
				return &v, nil
			}
		}
		return nil, err
	}
	g, err := cli.GetGroupInfo(ctx, gj)
	if err != nil {
		return nil, groupError(err)
	}
	v := m.groupView(ctx, cli, g)
	m.cacheGroup(ctx, inst, v)
	return v, nil
}

// GroupPatch changes a group's settings; nil fields stay.
type GroupPatch struct {
	Subject     *string
	Description *string
	Announce    *bool
	Locked      *bool
}

// UpdateGroup applies a GroupPatch and returns the group as it now is.
func (m *Manager) UpdateGroup(ctx context.Context, idOrName, jid string, p GroupPatch) (*event.Group, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	gj, err := ParseGroupJID(jid)
	if err != nil {
		return nil, err
	}
	if p.Subject == nil && p.Description == nil && p.Announce == nil && p.Locked == nil {
		return nil, invalid("subject", "give at least one of subject, description, announce, locked")
	}
	if p.Subject != nil && (strings.TrimSpace(*p.Subject) == "" || utf8.RuneCountInString(*p.Subject) > maxGroupSubject) {
		return nil, invalid("subject", fmt.Sprintf("must be 1 to %d characters", maxGroupSubject))
	}
	if p.Description != nil && utf8.RuneCountInString(*p.Description) > maxGroupDescription {
		return nil, invalid("description", fmt.Sprintf("must be at most %d characters", maxGroupDescription))
	}
	cli, err := inst.liveClient(ctx)
	if err != nil {
		return nil, err
	}
	steps := []func() error{}
	if p.Subject != nil {
		steps = append(steps, func() error { return cli.SetGroupName(ctx, gj, *p.Subject) })
	}
	if p.Description != nil {
		steps = append(steps, func() error { return cli.SetGroupDescription(ctx, gj, *p.Description) })
	}
	if p.Announce != nil {
		steps = append(steps, func() error { return cli.SetGroupAnnounce(ctx, gj, *p.Announce) })
	}
	if p.Locked != nil {
		steps = append(steps, func() error { return cli.SetGroupLocked(ctx, gj, *p.Locked) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, groupError(err)
		}
	}
	return m.Group(ctx, idOrName, gj.String())
}

// GroupParticipants adds, removes, promotes or demotes people.
func (m *Manager) GroupParticipants(ctx context.Context, idOrName, jid, action string, people []string) ([]event.GroupParticipant, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	gj, err := ParseGroupJID(jid)
	if err != nil {
		return nil, err
	}
	var change whatsmeow.ParticipantChange
	switch action {
	case "add":
		change = whatsmeow.ParticipantChangeAdd
	case "remove":
		change = whatsmeow.ParticipantChangeRemove
	case "promote":
		change = whatsmeow.ParticipantChangePromote
	case "demote":
		change = whatsmeow.ParticipantChangeDemote
	default:
		return nil, invalid("action", "must be add, remove, promote or demote")
	}
	members, err := parseMembers("participants", people, maxParticipantChange)
	if err != nil {
		return nil, err
	}
	cli, err := inst.liveClient(ctx)
	if err != nil {
		return nil, err
	}
	got, err := cli.UpdateGroupParticipants(ctx, gj, members, change)
	if err != nil {
		return nil, groupError(err)
	}
	return participantResults(ctx, m, action, members, got), nil
}

// InviteLinkPrefix starts every group invite link.
const InviteLinkPrefix = "https://chat.whatsapp.com/"

// GroupInvite returns the group's invite link and code; reset makes a new
// one (the old link stops working).
func (m *Manager) GroupInvite(ctx context.Context, idOrName, jid string, reset bool) (link, code string, err error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return "", "", err
	}
	gj, err := ParseGroupJID(jid)
	if err != nil {
		return "", "", err
	}
	cli, err := inst.liveClient(ctx)
	if err != nil {
		return "", "", err
	}
	link, err = cli.GetGroupInviteLink(ctx, gj, reset)
	if err != nil {
		return "", "", groupError(err)
	}
	return link, strings.TrimPrefix(link, InviteLinkPrefix), nil
}

// JoinGroup joins by an invite link or its code.
func (m *Manager) JoinGroup(ctx context.Context, idOrName, linkOrCode string) (*event.Group, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	code := strings.TrimPrefix(strings.TrimSpace(linkOrCode), InviteLinkPrefix)
	if code == "" || strings.ContainsAny(code, "/?#@ ") || len(code) > 64 {
		return nil, invalid("link", "must be a link such as https://chat.whatsapp.com/AbCdEf… or its code")
	}
	cli, err := inst.liveClient(ctx)
	if err != nil {
		return nil, err
	}
	gj, err := cli.JoinGroupWithLink(ctx, code)
	if err != nil {
		return nil, groupError(err)
	}
	if g, err := m.Group(ctx, idOrName, gj.String()); err == nil {
		return g, nil
	}
	// Joined, but the info did not come: the join stands; GET …/groups/{jid}
	// asks again.
	return &event.Group{JID: gj.String()}, nil
}

// LeaveGroup leaves a group.
func (m *Manager) LeaveGroup(ctx context.Context, idOrName, jid string) error {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return err
	}
	gj, err := ParseGroupJID(jid)
	if err != nil {
		return err
	}
	cli, err := inst.liveClient(ctx)
	if err != nil {
		return err
	}
	if err := cli.LeaveGroup(ctx, gj); err != nil {
		return groupError(err)
	}
	return nil
}
