package wasim

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// hasReceipt reports whether the account's devices sent a receipt of the
// given type ("" = delivered, "inactive" = delivered while not available)
// for id in chat.
func hasReceipt(sim *Server, phone, chat, id string, types ...string) bool {
	for _, r := range sim.ReceiptsSent(phone) {
		if r.To == chat && slices.Contains(r.IDs, id) && slices.Contains(types, r.Type) {
			return true
		}
	}
	return false
}

var delivered = []string{"", string(types.ReceiptTypeInactive)}

// Contacts write to the account directly, in a group (sender keys: the
// first message carries the SenderKeyDistributionMessage in a pkmsg next to
// the skmsg, later ones in a msg) and as a status. The client decrypts all
// of them, sends delivery receipts, and its read marks reach the server.
func TestReceive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const (
		me      = "4915100000080"
		alice   = "4915100000081"
		bob     = "4915100000082"
		group   = "120363000000000001@g.us"
		group2  = "120363000000000002@g.us"
		typeDM  = "dm"
		typeGrp = "group"
		typeSt  = "status"
	)
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+"+me)
	tests := []struct {
		name, kind, chat, from, text string
	}{
		{"direct first (pkmsg)", typeDM, alice, alice, "hello"},
		{"direct again (msg)", typeDM, alice, alice, "hello again"},
		{"group first", typeGrp, group, alice, "hi group"},
		{"group again", typeGrp, group, alice, "hi group again"},
		{"group other member", typeGrp, group, bob, "bob here"},
		{"second group", typeGrp, group2, alice, "other group"},
		{"status first", typeSt, "status@broadcast", bob, "my status"},
		{"status again", typeSt, "status@broadcast", bob, "new status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tc.mark()
			var id string
			var err error
			switch tt.kind {
			case typeDM:
				id, err = sim.Incoming(ctx, "+"+tt.from, "+"+me, tt.text, "Sender "+tt.from)
			case typeGrp:
				id, err = sim.GroupMessage(ctx, tt.chat, "+"+tt.from, "+"+me, tt.text, "Sender "+tt.from)
			case typeSt:
				id, err = sim.StatusUpdate(ctx, "+"+tt.from, "+"+me, tt.text, "Sender "+tt.from)
			}
			if err != nil {
				t.Fatal(err)
			}
			// A group or status message arrives as two events with the same
			// id: the sender key (pkmsg/msg), then the text (skmsg).
			msg, _ := waitEvent(tc, m, func(e *events.Message) bool {
				return e.Info.ID == id && e.Message.GetSenderKeyDistributionMessage() == nil
			})
			if tt.kind != typeDM {
				skdm, _ := waitEvent(tc, m, func(e *events.Message) bool {
					return e.Info.ID == id && e.Message.GetSenderKeyDistributionMessage() != nil
				})
				if g := skdm.Message.GetSenderKeyDistributionMessage().GetGroupID(); g != tt.chat {
					t.Errorf("sender key for group %q, want %q", g, tt.chat)
				}
			}
			info := msg.Info
			sender := types.NewJID(tt.from, types.DefaultUserServer)
			chat := sender
			if tt.kind != typeDM {
				chat, _ = types.ParseJID(tt.chat)
			}
			if got := msg.Message.GetConversation(); got != tt.text {
				t.Errorf("text %q, want %q", got, tt.text)
			}
			if info.Chat != chat || info.Sender.ToNonAD() != sender || info.IsFromMe {
				t.Errorf("chat %s sender %s fromMe %v; want chat %s sender %s", info.Chat, info.Sender, info.IsFromMe, chat, sender)
			}
			// whatsmeow counts status@broadcast as a group chat too.
			if info.IsGroup != (tt.kind != typeDM) {
				t.Errorf("IsGroup = %v", info.IsGroup)
			}
			if info.PushName != "Sender "+tt.from {
				t.Errorf("push name %q", info.PushName)
			}
			if info.Timestamp.IsZero() || time.Since(info.Timestamp) > time.Minute {
				t.Errorf("timestamp %v", info.Timestamp)
			}
			// The client's delivery receipt reaches the server.
			waitSim(t, sim, "delivery receipt", func() bool { return hasReceipt(sim, me, chat.String(), id, delivered...) })
			// And so does its read mark.
			if err := tc.cli.MarkRead(ctx, []types.MessageID{id}, info.Timestamp, info.Chat, info.Sender); err != nil {
				t.Fatal(err)
			}
			waitSim(t, sim, "read receipt", func() bool { return hasReceipt(sim, me, chat.String(), id, string(types.ReceiptTypeRead)) })
			if tt.kind != typeDM {
				for _, r := range sim.ReceiptsSent(me) {
					if slices.Contains(r.IDs, id) && r.Participant != sender.String() {
						t.Errorf("receipt for %s in %s has participant %q, want %s", id, chat, r.Participant, sender)
					}
				}
			}
		})
	}
	if n := sim.DecryptFailures(); n != 0 {
		t.Fatalf("%d decrypt failures", n)
	}
	for _, r := range sim.ReceiptsSent(me) {
		if r.Type == string(types.ReceiptTypeRetry) {
			t.Fatalf("the client could not decrypt something: %+v", r)
		}
	}
	// One read mark for several messages of a chat arrives as one receipt.
	ids := make([]string, 3)
	m := tc.mark()
	for i := range ids {
		var err error
		if ids[i], err = sim.Incoming(ctx, "+"+bob, "+"+me, "batch", "Bob"); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		waitEvent(tc, m, func(e *events.Message) bool { return e.Info.ID == id })
	}
	bobJID := types.NewJID(bob, types.DefaultUserServer)
	if err := tc.cli.MarkRead(ctx, ids, time.Now(), bobJID, bobJID); err != nil {
		t.Fatal(err)
	}
	waitSim(t, sim, "batched read receipt", func() bool {
		for _, r := range sim.ReceiptsSent(me) {
			if r.Type == "read" && slices.Equal(r.IDs, ids) && r.To == bobJID.String() {
				return true
			}
		}
		return false
	})
}
