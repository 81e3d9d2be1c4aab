package wasim

import (
	"context"
	"errors"
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// Numbers starting with 999 are not on the simulated WhatsApp: the contact
// lookup says so, and a message to one is refused by the server ack.
func TestSendToNumberNotOnWhatsApp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915100000060")

	res, err := tc.cli.IsOnWhatsApp(ctx, []string{"+9991234567", "+4915100000061"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"+9991234567": false, "+4915100000061": true}
	if len(res) != len(want) {
		t.Fatalf("IsOnWhatsApp returned %d answers: %+v", len(res), res)
	}
	for _, r := range res {
		isIn, ok := want[r.Query]
		if !ok || r.IsIn != isIn {
			t.Fatalf("IsOnWhatsApp answer %+v; want IsIn=%v", r, isIn)
		}
		if r.IsIn && r.JID != types.NewJID("4915100000061", types.DefaultUserServer) {
			t.Fatalf("IsOnWhatsApp JID %s", r.JID)
		}
	}

	m := tc.mark()
	to := types.NewJID("9991234567", types.DefaultUserServer)
	resp, err := tc.cli.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String("anyone there?")})
	if !errors.Is(err, whatsmeow.ErrServerReturnedError) {
		t.Fatalf("SendMessage to a number not on WhatsApp: err = %v, want ErrServerReturnedError", err)
	}
	rej := sim.RejectedMessages(tc.jid.User)
	if len(rej) != 1 || rej[0].ID != resp.ID || rej[0].To != to.String() || rej[0].Device != tc.jid {
		t.Fatalf("rejected messages = %+v (sent %s)", rej, resp.ID)
	}
	for _, phone := range []string{"9991234567", tc.jid.User} {
		if in, err := sim.Inbox(phone); err == nil && len(in) != 0 {
			t.Fatalf("inbox of %s = %+v, want empty", phone, in)
		}
	}
	// The rejected message did not break the connection.
	exchange(t, sim, tc, "4915100000061", "still here")
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for _, e := range tc.events[m:] {
		if r, ok := e.(*events.Receipt); ok && r.MessageIDs[0] == resp.ID {
			t.Fatalf("receipt for a rejected message: %+v", r)
		}
	}
}

// WhatsApp deduplicates by message id: a resend is acknowledged with the
// first time stamp and not delivered again.
func TestDuplicateSend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const contact = "4915100000071"
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915100000070")
	to := types.NewJID(contact, types.DefaultUserServer)
	id := tc.cli.GenerateMessageID()
	m := tc.mark()
	first, err := tc.cli.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String("once")}, whatsmeow.SendRequestExtra{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	// Wait for delivery, so the resend lands on a later second if timing allows
	// and the ack has to carry the stored time stamp, not "now".
	waitEvent(tc, m, func(r *events.Receipt) bool { return r.Type == types.ReceiptTypeDelivered && r.MessageIDs[0] == id })
	second, err := tc.cli.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String("once")}, whatsmeow.SendRequestExtra{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	if first.ID != id || second.ID != id {
		t.Fatalf("ids %s, %s; want %s", first.ID, second.ID, id)
	}
	if !second.Timestamp.Equal(first.Timestamp) {
		t.Fatalf("second ack t=%v, first t=%v", second.Timestamp, first.Timestamp)
	}
	if n := sim.Duplicates(tc.jid.User, id); n != 1 {
		t.Fatalf("Duplicates = %d, want 1", n)
	}
	in, err := sim.Inbox(contact)
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != 1 || in[0].ID != id || in[0].Duplicates != 0 {
		t.Fatalf("contact inbox = %+v, want the message once", in)
	}
	// A third send counts again, and other ids are unaffected.
	if _, err := tc.cli.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String("once")}, whatsmeow.SendRequestExtra{ID: id}); err != nil {
		t.Fatal(err)
	}
	if n := sim.Duplicates(tc.jid.User, id); n != 2 {
		t.Fatalf("Duplicates after a third send = %d, want 2", n)
	}
	if n := sim.Duplicates(tc.jid.User, "other"); n != 0 {
		t.Fatalf("Duplicates of an unknown id = %d", n)
	}
}
