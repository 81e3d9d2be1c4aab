package instance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"go.mau.fi/whatsmeow/types"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/internal/mediatest"
	"github.com/meowgate/meowgate/wasim"
)

// groupEvents returns the data of an instance's events of one type.
func (e *env) groupEvents(name, typ string) []event.GroupChange {
	e.t.Helper()
	evs, err := e.store.ListEvents(context.Background(), e.mustID(name), 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []event.GroupChange
	for _, ev := range evs {
		if ev.Type == typ {
			var c event.GroupChange
			_ = json.Unmarshal(ev.Data, &c)
			out = append(out, c)
		}
	}
	return out
}

// inGroup reports whether the phone's inbox has message id from group.
func (e *env) inGroup(phone, id, group string) bool {
	msgs, _ := e.sim.Inbox(phone)
	for _, m := range msgs {
		if m.ID == id && m.Group == group {
			return true
		}
	}
	return false
}

// TestGroups: the family group, end to end against the simulator.
func TestGroups(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("g", "+4915100000801", `{"send_delay_ms":0}`)
	a, b, c, d := "+4915100000802", "+4915100000803", "+4915100000804", "+4915100000805"
	g, res, err := e.m.CreateGroup(ctx, "g", "Family", []string{a, b, c, "+9995550000009"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 || res[0].Result != "added" || res[3].Result != "not_on_whatsapp" || !g.IsAdmin || g.Subject != "Family" {
		t.Fatalf("create: %+v %+v", g, res)
	}
	for _, p := range g.Participants {
		if p.Phone != "" && p.LID == "" {
			t.Errorf("participant %s has no LID", p.Phone)
		}
	}
	gj := g.JID
	e.waitFor("group.joined", func() bool { return len(e.groupEvents("g", event.TypeGroupJoined)) == 1 })

	// Text and an image into the group: every member's phone decrypts them.
	text, _, err := e.m.Send(ctx, "g", SendParams{To: gj, Text: "the washing machine is done"}, "")
	if err != nil {
		t.Fatal(err)
	}
	jpg := mediatest.JPEG(t, 80, 60)
	img, _, err := e.m.Send(ctx, "g", SendParams{To: gj, Type: "image", File: bytes.NewReader(jpg), Caption: "front door"}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{text.ID, img.ID} {
		e.waitStatus("g", id, event.StatusSent)
		for _, p := range []string{a, b, c} {
			e.waitFor("group message at "+p, func() bool { return e.inGroup(p[1:], id, gj) })
		}
	}
	e.waitFor("per-member receipts", func() bool { return len(e.msg("g", text.ID).Receipts) == 3 })

	// Members change: d joins and gets the next message, c is removed and does not.
	got, err := e.m.GroupParticipants(ctx, "g", gj, "add", []string{d})
	if err != nil || got[0].Result != "added" {
		t.Fatalf("add: %+v %v", got, err)
	}
	if got, err = e.m.GroupParticipants(ctx, "g", gj, "remove", []string{c}); err != nil || got[0].Result != "removed" {
		t.Fatalf("remove: %+v %v", got, err)
	}
	next, _, err := e.m.Send(ctx, "g", SendParams{To: gj, Text: "dinner is ready"}, "")
	if err != nil {
		t.Fatal(err)
	}
	e.waitStatus("g", next.ID, event.StatusSent)
	e.waitFor("the new member gets it", func() bool { return e.inGroup(d[1:], next.ID, gj) })
	e.waitFor("the others get it", func() bool { return e.inGroup(a[1:], next.ID, gj) })
	if e.inGroup(c[1:], next.ID, gj) {
		t.Error("a removed member got the next message")
	}
	e.waitFor("group.participants", func() bool { return len(e.groupEvents("g", event.TypeGroupParticipants)) >= 2 })

	// A member writes into the group: stored in the group chat, the sender
	// named by phone and LID.
	in, err := e.sim.Send(ctx, wasim.IncomingSpec{From: a, Group: gj, Text: "thanks!"})
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor("the group message stored", func() bool { _, err := e.m.Message(ctx, "g", in); return err == nil })
	if m := e.msg("g", in); m.Chat != gj || m.Sender == nil || m.Sender.Phone != a || m.Sender.LID == "" {
		t.Errorf("incoming group message: chat %s sender %+v", m.Chat, m.Sender)
	}

	// Settings, invite link, a second instance joining by it.
	sub := "Family 🏠"
	ann := true
	if g2, err := e.m.UpdateGroup(ctx, "g", gj, GroupPatch{Subject: &sub, Announce: &ann}); err != nil || g2.Subject != sub || !g2.Announce {
		t.Fatalf("update: %+v %v", g2, err)
	}
	e.waitFor("group.updated", func() bool { return len(e.groupEvents("g", event.TypeGroupUpdated)) >= 1 })
	link, code, err := e.m.GroupInvite(ctx, "g", gj, false)
	if err != nil || !strings.HasPrefix(link, InviteLinkPrefix) || code == "" {
		t.Fatalf("invite: %q %q %v", link, code, err)
	}
	e.connected("g2", "+4915100000806", "")
	joined, err := e.m.JoinGroup(ctx, "g2", link)
	if err != nil || joined.JID != gj {
		t.Fatalf("join: %+v %v", joined, err)
	}
	e.waitFor("group.joined by invite", func() bool {
		evs := e.groupEvents("g2", event.TypeGroupJoined)
		return len(evs) == 1 && evs[0].Group == gj
	})
	// Not an admin: WhatsApp refuses.
	if _, err := e.m.GroupParticipants(ctx, "g2", gj, "add", []string{c}); !errors.Is(err, ErrNotGroupAdmin) {
		t.Errorf("non-admin add: %v", err)
	}
	// A reset link stops working.
	if _, _, err := e.m.GroupInvite(ctx, "g", gj, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.JoinGroup(ctx, "g2", code); err == nil {
		t.Error("an old invite code still works")
	}
	// g2 leaves.
	if err := e.m.LeaveGroup(ctx, "g2", gj); err != nil {
		t.Fatal(err)
	}
	e.waitFor("group.left", func() bool { return len(e.groupEvents("g2", event.TypeGroupLeft)) == 1 })
	if list, _ := e.m.Groups(ctx, "g2"); len(list) != 0 {
		t.Errorf("g2 still lists %d groups", len(list))
	}
	if list, _ := e.m.Groups(ctx, "g"); len(list) != 1 || list[0].JID != gj {
		t.Errorf("g lists %+v", list)
	}

	// A group that does not exist: failed at once, not queued forever.
	bad, _, err := e.m.Send(ctx, "g", SendParams{To: "120363999999999999@g.us", Text: "anyone?"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if m := e.waitStatus("g", bad.ID, event.StatusFailed); !strings.Contains(m.Error, "does not exist") {
		t.Errorf("error %q", m.Error)
	}
	if _, err := e.m.Group(ctx, "g", "not-a-group"); err == nil {
		t.Error("a malformed group JID accepted")
	}
	_ = types.EmptyJID
}

// TestIgnoreGroups: group messages are dropped, group events are not.
func TestIgnoreGroups(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("ig", "+4915100000811", `{"ignore_groups":true}`)
	gj, err := e.sim.CreateGroup(ctx, wasim.GroupSpec{Owner: "+4915100000812", Subject: "Club", Participants: []string{"+4915100000811", "+4915100000813"}})
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor("group.joined", func() bool { return len(e.groupEvents("ig", event.TypeGroupJoined)) == 1 })
	id, err := e.sim.Send(ctx, wasim.IncomingSpec{From: "+4915100000812", Group: gj.String(), Text: "meeting at 8"})
	if err != nil {
		t.Fatal(err)
	}
	dm, err := e.sim.Send(ctx, wasim.IncomingSpec{From: "+4915100000812", To: "+4915100000811", Text: "see you"})
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor("the DM stored", func() bool { _, err := e.m.Message(ctx, "ig", dm); return err == nil })
	if _, err := e.m.Message(ctx, "ig", id); !errors.Is(err, ErrMessageNotFound) {
		t.Errorf("a group message was stored with ignore_groups: %v", err)
	}
}
