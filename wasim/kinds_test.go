package wasim

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// A linked device sends location, contact, reaction, poll, reply, edit,
// revoke and a poll vote to a contact; the contact's phone records each.
func TestKindsToContact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const contact = "4915200000051"
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915200000050")
	to := types.NewJID(contact, types.DefaultUserServer)
	send := func(m *waE2E.Message) string {
		t.Helper()
		resp, err := tc.cli.SendMessage(ctx, to, m)
		if err != nil {
			t.Fatal(err)
		}
		return resp.ID
	}
	rich := func(id string) InboxRich {
		t.Helper()
		return inboxEntry(t, sim, contact, id, nil).InboxRich
	}
	check := func(what string, got, want InboxRich) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
		}
	}

	textID := send(&waE2E.Message{Conversation: proto.String("first")})
	check("text", rich(textID), InboxRich{Type: "text"})

	locID := send(&waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: proto.Float64(52.52),
		DegreesLongitude: proto.Float64(13.405), Name: proto.String("Berlin"), Address: proto.String("Mitte")}})
	check("location", rich(locID), InboxRich{Type: "location", Location: &InboxLocation{52.52, 13.405, "Berlin", "Mitte"}})

	vcard := "BEGIN:VCARD\nVERSION:3.0\nFN:Ann\nTEL:+4915100000099\nEND:VCARD"
	cardID := send(&waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Ann"), Vcard: proto.String(vcard)}})
	check("contact", rich(cardID), InboxRich{Type: "contact", Contact: &InboxContact{"Ann", vcard}})

	// A reaction to a message the contact sent, then its removal.
	theirs, err := sim.Incoming(ctx, "+"+contact, tc.jid.User, "react to me", "C")
	if err != nil {
		t.Fatal(err)
	}
	contactJID := to
	reactID := send(tc.cli.BuildReaction(to, contactJID, theirs, "👍"))
	check("reaction", rich(reactID), InboxRich{Type: "reaction", Reaction: &InboxReaction{theirs, "👍"}})
	unreactID := send(tc.cli.BuildReaction(to, contactJID, theirs, ""))
	check("reaction removed", rich(unreactID), InboxRich{Type: "reaction", Reaction: &InboxReaction{theirs, ""}})

	pollID := send(tc.cli.BuildPollCreation("Lunch?", []string{"pizza", "sushi", "salad"}, 2))
	check("poll", rich(pollID), InboxRich{Type: "poll", Poll: &InboxPoll{"Lunch?", []string{"pizza", "sushi", "salad"}, 2}})

	replyID := send(&waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("a reply"),
		ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String(theirs), Participant: proto.String(contactJID.String())}}})
	check("reply", rich(replyID), InboxRich{Type: "text", QuotedID: theirs})
	replyLocID := send(&waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: proto.Float64(1), DegreesLongitude: proto.Float64(2),
		ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String(locID)}}})
	check("location reply", rich(replyLocID), InboxRich{Type: "location", QuotedID: locID, Location: &InboxLocation{Latitude: 1, Longitude: 2}})

	send(tc.cli.BuildEdit(to, textID, &waE2E.Message{Conversation: proto.String("first, edited")}))
	edited := inboxEntry(t, sim, contact, textID, func(m InboxMessage) bool { return m.Edited })
	if edited.Text != "first, edited" || edited.Revoked {
		t.Fatalf("edited entry %+v", edited)
	}
	send(tc.cli.BuildRevoke(to, types.EmptyJID, cardID))
	inboxEntry(t, sim, contact, cardID, func(m InboxMessage) bool { return m.Revoked })

	// The client votes on a poll the contact sent: the phone decrypts it
	// with the poll's secret.
	m := tc.mark()
	theirPoll, err := sim.Send(ctx, IncomingSpec{From: "+" + contact, To: tc.jid.User, Type: "poll", Text: "When?", Options: []string{"today", "tomorrow"}, Selectable: 1})
	if err != nil {
		t.Fatal(err)
	}
	pe, _ := waitEvent(tc, m, func(e *events.Message) bool { return e.Info.ID == theirPoll })
	vote, err := tc.cli.BuildPollVote(ctx, &pe.Info, []string{"tomorrow"})
	if err != nil {
		t.Fatal(err)
	}
	voteID := send(vote)
	check("poll vote", rich(voteID), InboxRich{Type: "poll_vote", PollVote: &InboxPollVote{theirPoll, []string{"tomorrow"}}})

	in, err := sim.Inbox(contact)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range in {
		if e.ID == textID && e.Revoked || e.ID == cardID && e.Text != "" {
			t.Fatalf("edit/revoke touched the wrong entry: %+v", e)
		}
	}
	if n := sim.DecryptFailures(); n != 0 {
		t.Fatalf("%d decrypt failures", n)
	}
}

// A contact sends the other kinds to the client, and votes on the client's
// poll and its own: whatsmeow decrypts the votes to the chosen options.
func TestKindsFromContact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const contact = "+4915200000061"
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915200000060")
	chat := types.NewJID(contact[1:], types.DefaultUserServer)
	recv := func(spec IncomingSpec) *events.Message {
		t.Helper()
		spec.From, spec.To = contact, tc.jid.User
		m := tc.mark()
		id, err := sim.Send(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		e, _ := waitEvent(tc, m, func(e *events.Message) bool { return e.Info.ID == id })
		return e
	}

	loc := recv(IncomingSpec{Type: "location", Latitude: 48.1, Longitude: 11.6, Name: "Munich"}).Message.GetLocationMessage()
	if loc.GetDegreesLatitude() != 48.1 || loc.GetDegreesLongitude() != 11.6 || loc.GetName() != "Munich" {
		t.Fatalf("location %+v", loc)
	}
	card := recv(IncomingSpec{Type: "contact", ContactName: "Bo", VCard: "BEGIN:VCARD\nEND:VCARD"}).Message.GetContactMessage()
	if card.GetDisplayName() != "Bo" || card.GetVcard() != "BEGIN:VCARD\nEND:VCARD" {
		t.Fatalf("contact %+v", card)
	}
	mine, err := tc.cli.SendMessage(ctx, chat, &waE2E.Message{Conversation: proto.String("mine")})
	if err != nil {
		t.Fatal(err)
	}
	inboxEntry(t, sim, contact, mine.ID, nil)
	r := recv(IncomingSpec{Type: "reaction", TargetID: mine.ID, Emoji: "❤️"})
	if x := r.Message.GetReactionMessage(); x.GetText() != "❤️" || x.GetKey().GetID() != mine.ID || x.GetKey().GetFromMe() {
		t.Fatalf("reaction %+v", x)
	}
	reply := recv(IncomingSpec{Type: "text", Text: "re", QuotedID: mine.ID})
	if ci := reply.Message.GetExtendedTextMessage().GetContextInfo(); ci.GetStanzaID() != mine.ID || ci.GetParticipant() != tc.jid.ToNonAD().String() {
		t.Fatalf("reply context %+v", ci)
	}
	orig := recv(IncomingSpec{Type: "text", Text: "tpyo"})
	edit := recv(IncomingSpec{Type: "edit", TargetID: orig.Info.ID, Text: "typo"})
	if pm := edit.Message.GetProtocolMessage(); !edit.IsEdit || pm.GetEditedMessage().GetConversation() != "typo" ||
		pm.GetKey().GetID() != orig.Info.ID || edit.Info.Edit != types.EditAttributeMessageEdit {
		t.Fatalf("edit: IsEdit %v, %+v", edit.IsEdit, edit.Message)
	}
	rev := recv(IncomingSpec{Type: "revoke", TargetID: orig.Info.ID})
	if pm := rev.Message.GetProtocolMessage(); pm.GetType() != waE2E.ProtocolMessage_REVOKE || pm.GetKey().GetID() != orig.Info.ID {
		t.Fatalf("revoke %+v", pm)
	}

	// A vote on the client's poll.
	poll, err := tc.cli.SendMessage(ctx, chat, tc.cli.BuildPollCreation("Tea?", []string{"yes", "no", "maybe"}, 1))
	if err != nil {
		t.Fatal(err)
	}
	inboxEntry(t, sim, contact, poll.ID, nil)
	v := recv(IncomingSpec{Type: "poll_vote", TargetID: poll.ID, Options: []string{"maybe"}})
	got, err := tc.cli.DecryptPollVote(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if want := whatsmeow.HashPollOptions([]string{"maybe"}); !reflect.DeepEqual(got.GetSelectedOptions(), want) {
		t.Fatalf("vote hashes %x, want %x", got.GetSelectedOptions(), want)
	}
	// A vote on the contact's own poll.
	own := recv(IncomingSpec{Type: "poll", Text: "Colour?", Options: []string{"red", "blue"}, Selectable: 2})
	if p := own.Message.GetPollCreationMessage(); p.GetName() != "Colour?" || len(p.GetOptions()) != 2 || p.GetSelectableOptionsCount() != 2 {
		t.Fatalf("poll %+v", p)
	}
	v = recv(IncomingSpec{Type: "poll_vote", TargetID: own.Info.ID, Options: []string{"red", "blue"}})
	if got, err = tc.cli.DecryptPollVote(ctx, v); err != nil {
		t.Fatal(err)
	}
	if want := whatsmeow.HashPollOptions([]string{"red", "blue"}); !reflect.DeepEqual(got.GetSelectedOptions(), want) {
		t.Fatalf("own poll vote hashes %x, want %x", got.GetSelectedOptions(), want)
	}
	var se *SpecError
	if _, err := sim.Send(ctx, IncomingSpec{From: contact, To: tc.jid.User, Type: "poll_vote", TargetID: own.Info.ID, Options: []string{"green"}}); !errors.As(err, &se) || se.Field != "options" {
		t.Fatalf("vote for a missing option: %v", err)
	}
}

// Send and ExpireMedia work over the control API as in process, errors
// included.
func TestRemoteSendAndExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915200000070")
	rc := Remote(sim.Addr())
	data := []byte("a small file from a remote contact")
	m := tc.mark()
	id, err := rc.Send(ctx, IncomingSpec{From: "+4915200000071", To: tc.jid.User, Type: "document", Data: data, FileName: "r.txt"})
	if err != nil {
		t.Fatal(err)
	}
	evt, _ := waitEvent(tc, m, func(e *events.Message) bool { return e.Info.ID == id })
	//lint:ignore SA1019 any media kind; the test only compares bytes
	if got, err := tc.cli.DownloadAny(ctx, evt.Message); err != nil || string(got) != string(data) {
		t.Fatalf("download: %q, %v", got, err)
	}
	if err := rc.ExpireMedia(ctx, id); err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 any media kind; the test only compares bytes
	if _, err := tc.cli.DownloadAny(ctx, evt.Message); !errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith404) {
		t.Fatalf("after expiry: %v", err)
	}
	if err := rc.ExpireMedia(ctx, "3EB0NONE"); !errors.Is(err, ErrUnknownMessage) {
		t.Fatalf("unknown id: %v", err)
	}
	var se *SpecError
	if _, err := rc.Send(ctx, IncomingSpec{From: "+4915200000071", To: tc.jid.User, Type: "location", Latitude: 91}); !errors.As(err, &se) || se.Field != "latitude" {
		t.Fatalf("bad latitude: %v", err)
	}
}
