package wasim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// A tiny JPEG is enough: the simulator checks the magic bytes only.
var testJPEG = append([]byte{0xff, 0xd8, 0xff, 0xe0}, bytes.Repeat([]byte{7}, 200)...)

func TestLIDDirectMessages(t *testing.T) {
	t.Parallel()
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915100000301")
	ctx := context.Background()
	const contact = "4915100000302"
	pn := types.NewJID(contact, types.DefaultUserServer)

	// IsOnWhatsApp keeps answering by phone number.
	on, err := tc.cli.IsOnWhatsApp(ctx, []string{"+" + contact, "+999100000303"})
	if err != nil {
		t.Fatal(err)
	}
	if len(on) != 2 || !on[0].IsIn || on[0].JID != pn || on[1].IsIn || on[0].VerifiedName != nil {
		t.Fatalf("IsOnWhatsApp = %+v", on)
	}

	// GetUserInfo: the LID, WhatsApp's default about, no picture; the
	// client stores the mapping.
	info, err := tc.cli.GetUserInfo(ctx, []types.JID{pn})
	if err != nil {
		t.Fatal(err)
	}
	ui := info[pn]
	if ui.LID.Server != types.HiddenUserServer || ui.LID.User == "" || ui.Status != DefaultAbout || ui.PictureID != "" || len(ui.Devices) != 1 {
		t.Fatalf("user info = %+v", ui)
	}
	lid := ui.LID
	if got, _ := tc.cli.Store.LIDs.GetPNForLID(ctx, lid); got != pn {
		t.Fatalf("client LID store: %s → %s", lid, got)
	}

	// A second contact writes first from its PN: sender_lid tells the
	// client its LID.
	const first = "4915100000304"
	m := tc.mark()
	id, err := sim.Incoming(ctx, "+"+first, "+4915100000301", "hello", "")
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := waitEvent(tc, m, func(e *events.Message) bool { return e.Info.ID == id })
	if msg.Info.Sender.User != first || msg.Info.SenderAlt.Server != types.HiddenUserServer {
		t.Fatalf("first contact: sender %s alt %s", msg.Info.Sender, msg.Info.SenderAlt)
	}
	firstPN := types.NewJID(first, types.DefaultUserServer)
	if got, _ := tc.cli.Store.LIDs.GetLIDForPN(ctx, firstPN); got != msg.Info.SenderAlt.ToNonAD() {
		t.Fatalf("mapping of %s stored as %s, message said %s", firstPN, got, msg.Info.SenderAlt)
	}

	// The contact writes from its LID chat: Sender=LID, SenderAlt=PN.
	for _, text := range []string{"from my lid", "again"} {
		id, err = sim.Send(ctx, IncomingSpec{From: "+" + contact, To: "+4915100000301", Text: text, FromLID: true})
		if err != nil {
			t.Fatal(err)
		}
		msg, _ = waitEvent(tc, m, func(e *events.Message) bool { return e.Info.ID == id })
		if msg.Info.Sender != lid || msg.Info.Chat != lid || msg.Info.SenderAlt != pn || msg.Message.GetConversation() != text {
			t.Fatalf("LID message: sender %s chat %s alt %s text %q", msg.Info.Sender, msg.Info.Chat, msg.Info.SenderAlt, msg.Message.GetConversation())
		}
	}

	// The client answers in the LID chat: on the wire to the LID, from its
	// own LID, and the contact's phone decrypts it.
	resp, err := tc.cli.SendMessage(ctx, lid, &waE2E.Message{Conversation: proto.String("reply to lid")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Sender.Server != types.HiddenUserServer {
		t.Fatalf("sent as %s, want the own LID", resp.Sender)
	}
	waitEvent(tc, m, func(r *events.Receipt) bool {
		return r.Type == types.ReceiptTypeDelivered && r.MessageIDs[0] == resp.ID
	})
	inbox, err := sim.Inbox("+" + contact)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(inbox, func(e InboxMessage) bool { return e.ID == resp.ID }); i < 0 || inbox[i].Text != "reply to lid" || inbox[i].From != "+4915100000301" {
		t.Fatalf("contact inbox = %+v", inbox)
	}
	// And by PN again: the same sessions serve both addressings.
	if _, err := tc.cli.SendMessage(ctx, pn, &waE2E.Message{Conversation: proto.String("reply to pn")}); err != nil {
		t.Fatal(err)
	}
	waitSim(t, sim, "PN reply", func() bool {
		in, _ := sim.Inbox("+" + contact)
		return slices.ContainsFunc(in, func(e InboxMessage) bool { return e.Text == "reply to pn" })
	})
	// The own phone sending carries the peer's LID (RecipientAlt).
	id, err = sim.PhoneSend(ctx, "+4915100000301", "+"+contact, "from the phone")
	if err != nil {
		t.Fatal(err)
	}
	msg, _ = waitEvent(tc, m, func(e *events.Message) bool { return e.Info.ID == id })
	if !msg.Info.IsFromMe || msg.Info.Chat != pn || msg.Info.RecipientAlt != lid {
		t.Fatalf("phone copy: from me %v chat %s recipient alt %s", msg.Info.IsFromMe, msg.Info.Chat, msg.Info.RecipientAlt)
	}
	if n := sim.DecryptFailures(); n != 0 {
		t.Fatalf("%d decrypt failures", n)
	}
}

func TestProfiles(t *testing.T) {
	t.Parallel()
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915100000311")
	ctx := context.Background()
	shop := types.NewJID("4915100000312", types.DefaultUserServer)
	plain := types.NewJID("4915100000313", types.DefaultUserServer)

	if err := sim.SetProfile("+4915100000312", Profile{Picture: []byte("GIF89a")}); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("non-JPEG picture: %v", err)
	}
	// Through the control API, as the sandbox does.
	ctl := Remote(sim.Addr())
	biz := &BusinessProfile{Name: "Shop GmbH", Description: "We sell", Address: "Hauptstr. 1", Email: "a@shop.example",
		Websites: []string{"https://shop.example"}, Categories: []string{"Retail", "Food"}}
	if err := ctl.SetProfile(ctx, "+4915100000312", Profile{PushName: "Shop", About: "Open 9-5", Picture: testJPEG, Business: biz}); err != nil {
		t.Fatal(err)
	}
	p, err := sim.Profile("+4915100000313")
	if err != nil || p.PushName != "Contact 0313" || p.About != DefaultAbout || p.Picture != nil || p.Business != nil {
		t.Fatalf("default profile = %+v, %v", p, err)
	}

	info, err := tc.cli.GetUserInfo(ctx, []types.JID{shop, plain})
	if err != nil {
		t.Fatal(err)
	}
	si := info[shop]
	if si.Status != "Open 9-5" || si.PictureID == "" || si.LID.IsEmpty() {
		t.Fatalf("shop info = %+v", si)
	}
	if pi := info[plain]; pi.PictureID != "" || pi.Status != DefaultAbout {
		t.Fatalf("plain info = %+v", pi)
	}
	// whatsmeow reads the verified business name in IsOnWhatsApp (GetUserInfo
	// only stores it).
	on, err := tc.cli.IsOnWhatsApp(ctx, []string{"+4915100000312", "+4915100000313"})
	if err != nil || len(on) != 2 || on[0].VerifiedName.Details.GetVerifiedName() != "Shop GmbH" || on[1].VerifiedName != nil {
		t.Fatalf("IsOnWhatsApp = %+v, %v", on, err)
	}

	pic, err := tc.cli.GetProfilePictureInfo(ctx, shop, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pic.ID != si.PictureID || pic.Type != "image" || !strings.HasPrefix(pic.URL, "https://") || pic.DirectPath == "" {
		t.Fatalf("picture info = %+v", pic)
	}
	res, err := sim.HTTPClient().Get(pic.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Equal(body, testJPEG) {
		t.Fatalf("picture download: %d, %d bytes", res.StatusCode, len(body))
	}
	if same, err := tc.cli.GetProfilePictureInfo(ctx, shop, &whatsmeow.GetProfilePictureParams{ExistingID: pic.ID}); err != nil || same != nil {
		t.Fatalf("unchanged picture: %+v, %v", same, err)
	}
	if _, err := tc.cli.GetProfilePictureInfo(ctx, plain, nil); !errors.Is(err, whatsmeow.ErrProfilePictureNotSet) {
		t.Fatalf("no picture: %v", err)
	}

	bp, err := tc.cli.GetBusinessProfile(ctx, shop)
	if err != nil {
		t.Fatal(err)
	}
	if bp.JID != shop || bp.Address != "Hauptstr. 1" || bp.Email != "a@shop.example" || len(bp.Categories) != 2 || bp.Categories[1].Name != "Food" {
		t.Fatalf("business profile = %+v", bp)
	}
	if _, err := tc.cli.GetBusinessProfile(ctx, plain); err == nil {
		t.Fatal("business profile of a non-business account")
	}

	// The profile's push name goes with the contact's messages.
	m := tc.mark()
	id, err := sim.Incoming(ctx, "+4915100000312", "+4915100000311", "hi", "")
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := waitEvent(tc, m, func(e *events.Message) bool { return e.Info.ID == id })
	if msg.Info.PushName != "Shop" {
		t.Fatalf("push name %q", msg.Info.PushName)
	}

	// The client's own about text (SetStatusMessage) is what others see.
	if err := tc.cli.SetStatusMessage(ctx, "busy"); err != nil {
		t.Fatal(err)
	}
	if p, _ := sim.Profile("+4915100000311"); p.About != "busy" {
		t.Fatalf("own about %q", p.About)
	}
}

func TestPresenceAndBlocklist(t *testing.T) {
	t.Parallel()
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915100000321")
	ctx := context.Background()
	const account, contact = "+4915100000321", "+4915100000322"
	cj := types.NewJID("4915100000322", types.DefaultUserServer)
	ctl := Remote(sim.Addr())

	if err := tc.cli.SendPresence(ctx, types.PresenceAvailable); err != nil {
		t.Fatal(err)
	}
	m := tc.mark()
	if err := tc.cli.SubscribePresence(ctx, cj); err != nil {
		t.Fatal(err)
	}
	waitEvent(tc, m, func(e *events.Presence) bool { return e.From == cj && e.Unavailable && e.LastSeen.IsZero() })
	if err := ctl.SetPresence(ctx, contact, true); err != nil {
		t.Fatal(err)
	}
	waitEvent(tc, m, func(e *events.Presence) bool { return e.From == cj && !e.Unavailable })
	if err := sim.SetPresence(contact, false); err != nil {
		t.Fatal(err)
	}
	waitEvent(tc, m, func(e *events.Presence) bool { return e.From == cj && e.Unavailable && !e.LastSeen.IsZero() })

	for _, st := range []string{"composing", "recording", "paused"} {
		if err := ctl.SetChatState(ctx, contact, account, st); err != nil {
			t.Fatal(err)
		}
	}
	waitEvent(tc, m, func(e *events.ChatPresence) bool {
		return e.Chat == cj && e.State == types.ChatPresenceComposing && e.Media == ""
	})
	waitEvent(tc, m, func(e *events.ChatPresence) bool {
		return e.Chat == cj && e.State == types.ChatPresenceComposing && e.Media == types.ChatPresenceMediaAudio
	})
	waitEvent(tc, m, func(e *events.ChatPresence) bool { return e.Chat == cj && e.State == types.ChatPresencePaused })
	if err := sim.SetChatState(contact, account, "dancing"); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("bad chat state: %v", err)
	}

	// Block: the list round-trips, the contact's message is dropped and
	// the account's message is refused with 403.
	bl, err := tc.cli.UpdateBlocklist(ctx, cj, events.BlocklistChangeActionBlock)
	if err != nil {
		t.Fatal(err)
	}
	if len(bl.JIDs) != 1 || bl.JIDs[0] != cj || bl.DHash == "" {
		t.Fatalf("blocklist after block = %+v", bl)
	}
	if bl, err = tc.cli.GetBlocklist(ctx); err != nil || len(bl.JIDs) != 1 || bl.JIDs[0] != cj {
		t.Fatalf("GetBlocklist = %+v, %v", bl, err)
	}
	dropped, err := sim.Incoming(ctx, contact, account, "you blocked me", "")
	if err != nil {
		t.Fatal(err)
	}
	if n := sim.BlockedDrops(account); n != 1 {
		t.Fatalf("%d dropped messages", n)
	}
	if _, err := tc.cli.SendMessage(ctx, cj, &waE2E.Message{Conversation: proto.String("to blocked")}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("send to a blocked contact: %v", err)
	}
	if bl, err = tc.cli.UpdateBlocklist(ctx, cj, events.BlocklistChangeActionUnblock); err != nil || len(bl.JIDs) != 0 {
		t.Fatalf("blocklist after unblock = %+v, %v", bl, err)
	}
	id, err := sim.Incoming(ctx, contact, account, "unblocked", "")
	if err != nil {
		t.Fatal(err)
	}
	// Stanzas reach the client in order: once the later message is there,
	// the dropped one would have been too.
	waitEvent(tc, m, func(e *events.Message) bool { return e.Info.ID == id })
	if _, _, err := awaitEvent(tc, m, 0, func(e *events.Message) bool { return e.Info.ID == dropped }); err == nil {
		t.Fatal("the blocked contact's message was delivered")
	}
	if _, err := tc.cli.SendMessage(ctx, cj, &waE2E.Message{Conversation: proto.String("after unblock")}); err != nil {
		t.Fatal(err)
	}
}

func TestMigrateToLID(t *testing.T) {
	t.Parallel()
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915100000331")
	ctx := context.Background()
	pn := types.NewJID("4915100000332", types.DefaultUserServer)
	// The contact exists (and has a LID) once it wrote.
	m := tc.mark()
	first, err := sim.Incoming(ctx, "+4915100000332", "+4915100000331", "hi", "")
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(tc, m, func(e *events.Message) bool { return e.Info.ID == first })
	before, err := tc.cli.SendMessage(ctx, pn, &waE2E.Message{Conversation: proto.String("by pn")})
	if err != nil || before.Sender.Server != types.DefaultUserServer {
		t.Fatalf("before migration: sent as %s, %v", before.Sender, err)
	}

	id, err := Remote(sim.Addr()).MigrateToLID(ctx, "+4915100000331")
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(tc, m, func(e *events.Message) bool { return e.Info.ID == id })
	resp, err := tc.cli.SendMessage(ctx, pn, &waE2E.Message{Conversation: proto.String("by lid")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Sender.Server != types.HiddenUserServer {
		t.Fatalf("after migration: sent as %s, want the own LID", resp.Sender)
	}
	waitSim(t, sim, "the LID-addressed message", func() bool {
		in, _ := sim.Inbox("+4915100000332")
		return slices.ContainsFunc(in, func(e InboxMessage) bool { return e.ID == resp.ID && e.Text == "by lid" })
	})
	if n := sim.DecryptFailures(); n != 0 {
		t.Fatalf("%d decrypt failures", n)
	}
}
