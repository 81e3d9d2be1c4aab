package instance

import (
	"context"
	"encoding/json"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// Group notifications (w:gp2) become group.* events and keep the cached
// copy of the group current. They are published whatever ignore_groups
// says: that setting is about group messages.

func (i *instance) isOwn(cli *whatsmeow.Client, j types.JID) bool {
	j = j.ToNonAD()
	return j == cli.Store.GetJID().ToNonAD() || (!cli.Store.GetLID().IsEmpty() && j == cli.Store.GetLID().ToNonAD())
}

func (i *instance) people(ctx context.Context, js []types.JID) []event.Person {
	out := make([]event.Person, 0, len(js))
	for _, j := range js {
		out = append(out, i.m.person(ctx, j, types.EmptyJID))
	}
	return out
}

func byPerson(ctx context.Context, m *Manager, sender, senderPN *types.JID) *event.Person {
	if sender == nil || sender.IsEmpty() {
		return nil
	}
	alt := types.EmptyJID
	if senderPN != nil {
		alt = *senderPN
	}
	p := m.person(ctx, *sender, alt)
	return &p
}

func groupEvent(typ string, c event.GroupChange) store.Event {
	data, _ := json.Marshal(c)
	return store.Event{Type: typ, Data: data}
}

// onJoinedGroup: this instance created, was added to, or joined a group.
func (i *instance) onJoinedGroup(cli *whatsmeow.Client, e *events.JoinedGroup) {
	ctx, cancel := context.WithTimeout(i.m.ctx, 10*time.Second)
	defer cancel()
	v := i.m.groupView(ctx, cli, &e.GroupInfo)
	reason := e.Reason
	if reason == "" && e.Type == "new" {
		reason = "created"
	}
	ev := groupEvent(event.TypeGroupJoined, event.GroupChange{Group: v.JID, Subject: v.Subject, By: byPerson(ctx, i.m, e.Sender, e.SenderPN),
		Reason: reason, At: time.Now().UTC()})
	i.m.cacheGroup(ctx, i, v, ev)
}

// onGroupInfo: a change in a group this instance is in.
func (i *instance) onGroupInfo(cli *whatsmeow.Client, e *events.GroupInfo) {
	ctx, cancel := context.WithTimeout(i.m.ctx, 10*time.Second)
	defer cancel()
	gj := e.JID.String()
	by := byPerson(ctx, i.m, e.Sender, e.SenderPN)
	at := e.Timestamp.UTC()
	if at.IsZero() {
		at = time.Now().UTC()
	}
	var evs []store.Event
	left := false
	var joinedSelf bool
	var others []types.JID
	for _, j := range e.Join {
		if i.isOwn(cli, j) {
			joinedSelf = true
		} else {
			others = append(others, j)
		}
	}
	if joinedSelf {
		evs = append(evs, groupEvent(event.TypeGroupJoined, event.GroupChange{Group: gj, By: by, Reason: nonEmpty(e.JoinReason, "added"), At: at}))
	}
	if len(others) > 0 {
		evs = append(evs, groupEvent(event.TypeGroupParticipants, event.GroupChange{Group: gj, By: by, Action: "add", Participants: i.people(ctx, others), At: at}))
	}
	others = others[:0]
	for _, j := range e.Leave {
		if i.isOwn(cli, j) {
			left = true
		} else {
			others = append(others, j)
		}
	}
	if len(others) > 0 {
		evs = append(evs, groupEvent(event.TypeGroupParticipants, event.GroupChange{Group: gj, By: by, Action: "remove", Participants: i.people(ctx, others), At: at}))
	}
	if len(e.Promote) > 0 {
		evs = append(evs, groupEvent(event.TypeGroupParticipants, event.GroupChange{Group: gj, By: by, Action: "promote", Participants: i.people(ctx, e.Promote), At: at}))
	}
	if len(e.Demote) > 0 {
		evs = append(evs, groupEvent(event.TypeGroupParticipants, event.GroupChange{Group: gj, By: by, Action: "demote", Participants: i.people(ctx, e.Demote), At: at}))
	}
	upd := event.GroupChange{Group: gj, By: by, At: at}
	changed := false
	if e.Name != nil {
		upd.NewSubject, changed = &e.Name.Name, true
	}
	if e.Topic != nil {
		d := e.Topic.Topic
		upd.NewDescription, changed = &d, true
	}
	if e.Announce != nil {
		upd.Announce, changed = &e.Announce.IsAnnounce, true
	}
	if e.Locked != nil {
		upd.Locked, changed = &e.Locked.IsLocked, true
	}
	if changed {
		evs = append(evs, groupEvent(event.TypeGroupUpdated, upd))
	}
	if left {
		reason := "removed"
		if by != nil && (by.JID == cli.Store.GetJID().ToNonAD().String() || by.LID == cli.Store.GetLID().ToNonAD().String()) {
			reason = "left"
		}
		evs = append(evs, groupEvent(event.TypeGroupLeft, event.GroupChange{Group: gj, By: by, Reason: reason, At: at}))
		if err := i.m.store.DropGroup(ctx, i.id, gj, evs...); err != nil {
			i.log.Error("cannot record leaving a group", "group", gj, "err", err)
		}
		return
	}
	if len(evs) == 0 {
		return
	}
	for _, ev := range evs {
		ev.InstanceID = i.id
		if _, err := i.m.store.AppendEvent(ctx, ev); err != nil {
			i.log.Error("cannot record a group change", "group", gj, "err", err)
		}
	}
	// Refresh the cached copy off the actor: it is a round trip.
	i.goCall(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(i.m.ctx), 30*time.Second)
		defer cancel()
		if g, err := cli.GetGroupInfo(ctx, e.JID); err == nil {
			i.m.cacheGroup(ctx, i, i.m.groupView(ctx, cli, g))
		}
	})
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
