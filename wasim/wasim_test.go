package wasim

import (
	"context"
	"testing"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

func TestPairSendReceive(t *testing.T) {
	t.Parallel()
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915100000001")
	ctx := context.Background()
	if !sim.Connected(*tc.cli.Store.ID) {
		t.Fatal("simulator does not see the device connected")
	}
	m := tc.mark()
	to := types.NewJID("4915100000002", types.DefaultUserServer)
	resp, err := tc.cli.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Timestamp.IsZero() {
		t.Fatal("server ack without timestamp")
	}
	waitEvent(tc, m, func(r *events.Receipt) bool {
		return r.Type == types.ReceiptTypeDelivered && r.MessageIDs[0] == resp.ID
	})
	waitEvent(tc, m, func(r *events.Receipt) bool { return r.Type == types.ReceiptTypeRead && r.MessageIDs[0] == resp.ID })
	inbox, err := sim.Inbox("+4915100000002")
	if err != nil {
		t.Fatal(err)
	}
	if len(inbox) != 1 || inbox[0].Text != "hello" || inbox[0].ID != resp.ID || inbox[0].From != "+4915100000001" {
		t.Fatalf("contact inbox = %+v", inbox)
	}
	own, _ := sim.Inbox("+4915100000001")
	if len(own) != 1 || !own[0].Echo || own[0].Text != "hello" {
		t.Fatalf("own phone inbox = %+v", own)
	}

	// The contact answers: first a pkmsg (no session yet), then a msg.
	for i, text := range []string{"hi back", "second"} {
		id, err := sim.Incoming(ctx, "+4915100000002", "+4915100000001", text, "Bob")
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := waitEvent(tc, m, func(e *events.Message) bool { return e.Info.ID == id })
		if msg.Message.GetConversation() != text || msg.Info.PushName != "Bob" || msg.Info.Sender.User != "4915100000002" {
			t.Fatalf("message %d = %+v", i, msg)
		}
	}
	if n := sim.DecryptFailures(); n != 0 {
		t.Fatalf("%d decrypt failures", n)
	}
}
