package wasim

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

func pnJID(phone string) types.JID { return types.NewJID(phone, types.DefaultUserServer) }

// groupInbox waits until the phone of contact has the message id, taken
// in as a message of group.
func groupInbox(t *testing.T, sim *Server, contact, id string, group types.JID) InboxMessage {
	t.Helper()
	m := inboxEntry(t, sim, contact, id, nil)
	if m.Group != group.String() {
		t.Fatalf("inbox entry %s of +%s: group %q, want %s", id, contact, m.Group, group)
	}
	return m
}

func hasInbox(sim *Server, contact, id string) bool {
	in, _ := sim.Inbox(contact)
	return slices.ContainsFunc(in, func(m InboxMessage) bool { return m.ID == id })
}

// A linked client creates a group, sends text and an image into it, and
// every member's phone (and a member's second device) decrypts them; the
// member list changes (by the client and by a contact admin) and the next
// message follows it; a contact writes into the group; admin operations
// and per-participant errors come back as WhatsApp answers them.
func TestGroupLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const (
		me, a, b, c, d, e = "4915300000000", "4915300000001", "4915300000002", "4915300000003", "4915300000004", "4915300000005"
		ghost             = "9995300000009"
	)
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+"+me)
	aDev, err := sim.AddContactDevice(ctx, "+"+a)
	if err != nil {
		t.Fatal(err)
	}

	m := tc.mark()
	info, err := tc.cli.CreateGroup(ctx, whatsmeow.ReqCreateGroup{Name: "Team", Participants: []types.JID{pnJID(a), pnJID(b), pnJID(c), pnJID(ghost)}, CreateKey: "ABCDEF"})
	if err != nil {
		t.Fatal(err)
	}
	gid := info.JID
	var ghostErr int
	for _, p := range info.Participants {
		if p.JID.User == ghost {
			ghostErr = p.Error
		}
	}
	if ghostErr != 404 {
		t.Fatalf("participant not on WhatsApp: error %d, want 404 (participants %+v)", ghostErr, info.Participants)
	}
	joined, _ := waitEvent(tc, m, func(e *events.JoinedGroup) bool { return e.JID == gid })
	if joined.CreateKey != "ABCDEF" || joined.Type != "new" || len(joined.Participants) != 4 || joined.Name != "Team" {
		t.Fatalf("JoinedGroup %+v", joined)
	}
	snap, err := sim.Group(gid)
	if err != nil || len(snap.Participants) != 4 || snap.Participants[0].Role != "superadmin" || snap.Participants[0].LID.IsEmpty() {
		t.Fatalf("group snapshot %+v, %v", snap, err)
	}

	// Text, then an image, reach each member's phone as group messages.
	resp, err := tc.cli.SendMessage(ctx, gid, &waE2E.Message{Conversation: proto.String("hello team")})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{a, b, c} {
		if got := groupInbox(t, sim, p, resp.ID, gid); got.Text != "hello team" || got.From != "+"+me {
			t.Fatalf("inbox of +%s: %+v", p, got)
		}
	}
	waitSim(t, sim, "the second device of a", func() bool { return sim.SimDeviceMessages(aDev) > 0 })
	// The members' receipts come back from the group with the reader.
	waitEvent(tc, m, func(r *events.Receipt) bool {
		return r.Chat == gid && r.Sender.User == b && slices.Contains(r.MessageIDs, resp.ID) && r.Type == types.ReceiptTypeRead
	})
	data := randomBytes(t, 30_000)
	up, err := tc.cli.Upload(ctx, data, whatsmeow.MediaImage)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = tc.cli.SendMessage(ctx, gid, &waE2E.Message{ImageMessage: &waE2E.ImageMessage{URL: &up.URL, DirectPath: &up.DirectPath,
		MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: &up.FileLength,
		Mimetype: proto.String("image/jpeg"), Caption: proto.String("team photo")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{a, b, c} {
		if got := groupInbox(t, sim, p, resp.ID, gid); got.Type != "image" || got.SHA256 != hexSHA(data) || got.Caption != "team photo" {
			t.Fatalf("image in the inbox of +%s: %+v", p, got.InboxRich)
		}
	}

	// The client adds d and removes c: d gets the next message, c does not.
	m = tc.mark()
	res, err := tc.cli.UpdateGroupParticipants(ctx, gid, []types.JID{pnJID(d), pnJID(a)}, whatsmeow.ParticipantChangeAdd)
	if err != nil {
		t.Fatal(err)
	}
	if codes := participantCodes(res); codes[d] != 0 || codes[a] != 409 {
		t.Fatalf("add results %v, want d:0 a:409", codes)
	}
	waitEvent(tc, m, func(e *events.GroupInfo) bool { return e.JID == gid && len(e.Join) == 1 && e.Join[0].User == d })
	res, err = tc.cli.UpdateGroupParticipants(ctx, gid, []types.JID{pnJID(c), pnJID(e)}, whatsmeow.ParticipantChangeRemove)
	if err != nil {
		t.Fatal(err)
	}
	if codes := participantCodes(res); codes[c] != 0 || codes[e] != 404 {
		t.Fatalf("remove results %v, want c:0 e:404", codes)
	}
	waitEvent(tc, m, func(ev *events.GroupInfo) bool { return ev.JID == gid && len(ev.Leave) == 1 && ev.Leave[0].User == c })
	resp, err = tc.cli.SendMessage(ctx, gid, &waE2E.Message{Conversation: proto.String("after the change")})
	if err != nil {
		t.Fatal(err)
	}
	groupInbox(t, sim, d, resp.ID, gid)
	groupInbox(t, sim, a, resp.ID, gid)
	waitSim(t, sim, "idle", sim.Idle)
	if hasInbox(sim, c, resp.ID) {
		t.Fatal("a removed member received the group message")
	}

	// A contact admin adds e; the client's next message reaches e.
	if _, err := tc.cli.UpdateGroupParticipants(ctx, gid, []types.JID{pnJID(a)}, whatsmeow.ParticipantChangePromote); err != nil {
		t.Fatal(err)
	}
	m = tc.mark()
	codes, err := sim.UpdateGroupParticipants(ctx, gid, "+"+a, "add", []string{"+" + e})
	if err != nil || codes["+"+e] != 0 {
		t.Fatalf("contact admin adds: %v %v", codes, err)
	}
	ev, _ := waitEvent(tc, m, func(ev *events.GroupInfo) bool { return ev.JID == gid && len(ev.Join) == 1 && ev.Join[0].User == e })
	if ev.Sender == nil || ev.Sender.User != a {
		t.Fatalf("GroupInfo sender %v, want +%s", ev.Sender, a)
	}
	// Until now the client's participant hash matched the server's; a
	// device the client does not know yet makes the server answer with
	// its own (the client then drops its cached group).
	if n := sim.PhashMismatches(); n != 0 {
		t.Fatalf("%d phash mismatches with an up-to-date member list", n)
	}
	if _, err := sim.AddContactDevice(ctx, "+"+b); err != nil {
		t.Fatal(err)
	}
	resp, err = tc.cli.SendMessage(ctx, gid, &waE2E.Message{Conversation: proto.String("welcome e")})
	if err != nil {
		t.Fatal(err)
	}
	groupInbox(t, sim, e, resp.ID, gid)
	if n := sim.PhashMismatches(); n != 1 {
		t.Fatalf("%d phash mismatches after a new device, want 1", n)
	}

	// A contact writes into the group: Chat is the group, Sender and
	// SenderAlt the contact's PN and LID.
	m = tc.mark()
	id, err := sim.Send(ctx, IncomingSpec{From: "+" + b, Group: gid.String(), Text: "from b", PushName: "Bee"})
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := waitEvent(tc, m, func(e *events.Message) bool { return e.Info.ID == id && e.Message.GetConversation() != "" })
	bLID := snapLID(t, sim, gid, b)
	if msg.Info.Chat != gid || msg.Info.Sender != pnJID(b) || msg.Info.SenderAlt.ToNonAD() != bLID || msg.Message.GetConversation() != "from b" {
		t.Fatalf("message source %+v", msg.Info.MessageSource)
	}

	// Admin operations reach the client as GroupInfo events.
	m = tc.mark()
	if err := tc.cli.SetGroupName(ctx, gid, "Team 2"); err != nil {
		t.Fatal(err)
	}
	if err := tc.cli.SetGroupTopic(ctx, gid, "", "", "what we do"); err != nil {
		t.Fatal(err)
	}
	if err := tc.cli.SetGroupLocked(ctx, gid, true); err != nil {
		t.Fatal(err)
	}
	waitEvent(tc, m, func(e *events.GroupInfo) bool { return e.Name != nil && e.Name.Name == "Team 2" })
	waitEvent(tc, m, func(e *events.GroupInfo) bool { return e.Topic != nil && e.Topic.Topic == "what we do" })
	waitEvent(tc, m, func(e *events.GroupInfo) bool { return e.Locked != nil && e.Locked.IsLocked })
	gi, err := tc.cli.GetGroupInfo(ctx, gid)
	if err != nil || gi.Name != "Team 2" || gi.Topic != "what we do" || !gi.IsLocked {
		t.Fatalf("group info %+v, %v", gi, err)
	}

	// A second linked client (another account) joins by the invite link,
	// is no admin, and is refused admin operations with 403.
	tc2 := pair(t, sim, "+"+"4915300000010")
	link, err := tc.cli.GetGroupInviteLink(ctx, gid, false)
	if err != nil {
		t.Fatal(err)
	}
	code := link[len(whatsmeow.InviteLinkPrefix):]
	if li, err := tc2.cli.GetGroupInfoFromLink(ctx, code); err != nil || li.JID != gid {
		t.Fatalf("group from link: %+v, %v", li, err)
	}
	m2 := tc2.mark()
	m = tc.mark()
	if jid, err := tc2.cli.JoinGroupWithLink(ctx, code); err != nil || jid != gid {
		t.Fatalf("join by link: %s, %v", jid, err)
	}
	jg, _ := waitEvent(tc2, m2, func(e *events.JoinedGroup) bool { return e.JID == gid })
	if jg.Reason != "invite" {
		t.Fatalf("JoinedGroup reason %q", jg.Reason)
	}
	waitEvent(tc, m, func(e *events.GroupInfo) bool { return len(e.Join) == 1 && e.Join[0].User == tc2.jid.User })
	if err := tc2.cli.SetGroupName(ctx, gid, "mine"); !errors.Is(err, whatsmeow.ErrIQForbidden) {
		t.Fatalf("non-admin renames a locked group: %v, want 403", err)
	}
	if _, err := tc2.cli.UpdateGroupParticipants(ctx, gid, []types.JID{pnJID(c)}, whatsmeow.ParticipantChangeAdd); !errors.Is(err, whatsmeow.ErrIQForbidden) {
		t.Fatalf("non-admin adds: %v, want 403", err)
	}
	newLink, err := tc.cli.GetGroupInviteLink(ctx, gid, true)
	if err != nil || newLink == link {
		t.Fatalf("reset link: %q, %v", newLink, err)
	}
	if _, err := tc2.cli.GetGroupInfoFromLink(ctx, code); !errors.Is(err, whatsmeow.ErrInviteLinkRevoked) {
		t.Fatalf("revoked link: %v", err)
	}
	// Announcement mode: the non-admin's send fails at once.
	if err := tc.cli.SetGroupAnnounce(ctx, gid, true); err != nil {
		t.Fatal(err)
	}
	if _, err := tc2.cli.SendMessage(ctx, gid, &waE2E.Message{Conversation: proto.String("may I?")}); !errors.Is(err, whatsmeow.ErrServerReturnedError) {
		t.Fatalf("non-admin send into an announcement group: %v", err)
	}
	// Leaving.
	m = tc.mark()
	if err := tc2.cli.LeaveGroup(ctx, gid); err != nil {
		t.Fatal(err)
	}
	waitEvent(tc, m, func(e *events.GroupInfo) bool { return len(e.Leave) == 1 && e.Leave[0].User == tc2.jid.User })
	if _, err := tc2.cli.GetGroupInfo(ctx, gid); !errors.Is(err, whatsmeow.ErrNotInGroup) {
		t.Fatalf("group info after leaving: %v", err)
	}
	groups, err := tc.cli.GetJoinedGroups(ctx)
	if err != nil || len(groups) != 1 || groups[0].JID != gid {
		t.Fatalf("joined groups %v, %v", groups, err)
	}
}

func participantCodes(ps []types.GroupParticipant) map[string]int {
	out := map[string]int{}
	for _, p := range ps {
		out[p.JID.User] = p.Error
	}
	return out
}

func snapLID(t *testing.T, sim *Server, gid types.JID, phone string) types.JID {
	t.Helper()
	g, err := sim.Group(gid)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range g.Participants {
		if p.PN.User == phone {
			return p.LID
		}
	}
	t.Fatalf("+%s not in %s", phone, gid)
	return types.EmptyJID
}

// A send to a group that does not exist, or that the client is not in,
// fails at once with the server's error, not after the 75 s timeout; an
// unknown group's info is ErrGroupNotFound.
func TestGroupSendRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915400000000")
	missing := types.NewJID("120363000000000001", types.GroupServer)
	if _, err := tc.cli.GetGroupInfo(ctx, missing); !errors.Is(err, whatsmeow.ErrGroupNotFound) {
		t.Fatalf("info of a missing group: %v", err)
	}
	other, err := sim.CreateGroup(ctx, GroupSpec{Owner: "+4915400000001", Subject: "Theirs", Participants: []string{"+4915400000002"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.cli.GetGroupInfo(ctx, other); !errors.Is(err, whatsmeow.ErrNotInGroup) {
		t.Fatalf("info of someone else's group: %v", err)
	}
	start := time.Now()
	for _, g := range []types.JID{missing, other} {
		// The client asks for the members first; seed its cache as a
		// stale one would be, so the message itself reaches the server.
		_, err := tc.cli.SendMessage(ctx, g, &waE2E.Message{Conversation: proto.String("hi")})
		if err == nil {
			t.Fatalf("send to %s succeeded", g)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("refused sends took %s", d)
	}
}

// In a LID group a contact's message carries participant=LID,
// participant_pn and addressing_mode=lid: Sender is the LID, SenderAlt
// the phone number.
func TestGroupLIDAddressing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const me, a = "4915500000000", "4915500000001"
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+"+me)
	m := tc.mark()
	gid, err := sim.CreateGroup(ctx, GroupSpec{Owner: "+" + a, Subject: "LID group", Participants: []string{"+" + me}, Addressing: "lid"})
	if err != nil {
		t.Fatal(err)
	}
	jg, _ := waitEvent(tc, m, func(e *events.JoinedGroup) bool { return e.JID == gid })
	if jg.AddressingMode != types.AddressingModeLID || jg.OwnerJID.Server != types.HiddenUserServer || jg.OwnerPN != pnJID(a) {
		t.Fatalf("JoinedGroup %+v", jg.GroupInfo)
	}
	aLID := snapLID(t, sim, gid, a)
	for i, spec := range []IncomingSpec{
		{From: "+" + a, Group: gid.String(), Text: "lid hello"},
		{From: "+" + a, Group: gid.String(), Type: "location", Latitude: 52.5, Longitude: 13.4},
	} {
		id, err := sim.Send(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := waitEvent(tc, m, func(e *events.Message) bool {
			return e.Info.ID == id && e.Message.GetSenderKeyDistributionMessage() == nil
		})
		src := msg.Info.MessageSource
		if src.Chat != gid || src.Sender.ToNonAD() != aLID || src.SenderAlt.ToNonAD() != pnJID(a) || msg.Info.AddressingMode != types.AddressingModeLID {
			t.Fatalf("message %d source %+v", i, src)
		}
		if i == 1 && msg.Message.GetLocationMessage().GetDegreesLatitude() != 52.5 {
			t.Fatalf("location %+v", msg.Message)
		}
	}
}
