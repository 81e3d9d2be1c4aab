package wasim

import (
	"context"
	"path/filepath"
	"testing"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// exchange checks that messages still flow both ways between a linked
// device and a contact: the client sends and gets the delivered receipt, the
// contact's phone has the text, and the contact's answer arrives.
func exchange(t *testing.T, sim *Server, tc *tclient, contact, text string) {
	t.Helper()
	ctx := context.Background()
	m := tc.mark()
	to := types.NewJID(contact, types.DefaultUserServer)
	resp, err := tc.cli.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String(text)})
	if err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	waitEvent(tc, m, func(r *events.Receipt) bool {
		return r.Type == types.ReceiptTypeDelivered && r.Chat.User == contact && r.MessageIDs[0] == resp.ID
	})
	waitSim(t, sim, "contact inbox", func() bool {
		in, _ := sim.Inbox(contact)
		for _, msg := range in {
			if msg.ID == resp.ID && msg.Text == text && msg.From == "+"+tc.jid.User {
				return true
			}
		}
		return false
	})
	reply := "re: " + text
	id, err := sim.Incoming(ctx, contact, tc.jid.User, reply, "Contact")
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := waitEvent(tc, m, func(e *events.Message) bool { return e.Info.ID == id })
	if got := msg.Message.GetConversation(); got != reply || msg.Info.Chat.User != contact || msg.Info.IsFromMe {
		t.Fatalf("reply: text %q chat %s fromMe %v", got, msg.Info.Chat, msg.Info.IsFromMe)
	}
	if n := sim.DecryptFailures(); n != 0 {
		t.Fatalf("%d decrypt failures on the simulated phones", n)
	}
	for _, r := range sim.ReceiptsSent(tc.jid.User) {
		if r.Type == string(types.ReceiptTypeRetry) {
			t.Fatalf("client asked for a retry (it could not decrypt): %+v", r)
		}
	}
}

// noQR fails if the client was shown a QR code since mark m.
func noQR(t *testing.T, tc *tclient, m int) {
	t.Helper()
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for _, e := range tc.events[m:] {
		if _, ok := e.(*events.QR); ok {
			t.Fatal("paired client was shown a QR code")
		}
	}
}

// A paired device logs in again from its stored keys after the program
// restarts (a new whatsmeow.Client over the same device store).
func TestLoginAfterClientRestart(t *testing.T) {
	t.Parallel()
	const contact = "4915100000031"
	sim := newSim(t, Options{})
	tc := newClient(t, sim, filepath.Join(t.TempDir(), "client.db"))
	pairClient(t, sim, tc, "+4915100000030")
	exchange(t, sim, tc, contact, "before restart")

	tc.disconnect()
	tc.db.Close()
	waitSim(t, sim, "device disconnected", func() bool { return !sim.Connected(tc.jid) })

	tc2 := newClient(t, sim, tc.path)
	if tc2.cli.Store.ID == nil || *tc2.cli.Store.ID != tc.jid {
		t.Fatalf("reopened store has ID %v, want %s", tc2.cli.Store.ID, tc.jid)
	}
	tc2.jid = tc.jid
	tc2.cli.Store.PushName = "Test"
	if err := tc2.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.Connected](tc2, 0, nil)
	noQR(t, tc2, 0)
	if !sim.Connected(tc.jid) {
		t.Fatal("simulator does not see the device connected")
	}
	exchange(t, sim, tc2, contact, "after restart")
}

// The simulator keeps its state in DBPath: a new Server on the same file
// and address takes the client back without pairing, and the Signal
// sessions on both sides survive.
func TestLoginAfterSimulatorRestart(t *testing.T) {
	t.Parallel()
	const contact = "4915100000041"
	dbPath := filepath.Join(t.TempDir(), "wasim.db")
	sim := newSim(t, Options{DBPath: dbPath})
	tc := pair(t, sim, "+4915100000040")
	exchange(t, sim, tc, contact, "before restart")
	addr := sim.Addr()

	tc.quiesce()
	m := tc.mark()
	if err := sim.Close(); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.Disconnected](tc, m, nil)

	sim2 := newSim(t, Options{DBPath: dbPath, Addr: addr})
	tc.attach(sim2)
	if devs := sim2.Devices(tc.jid.User); len(devs) != 1 || devs[0] != tc.jid {
		t.Fatalf("restarted simulator lists devices %v, want [%s]", devs, tc.jid)
	}
	// whatsmeow reconnects by itself (backoff errors×2 s).
	waitEvent[*events.Connected](tc, m, nil)
	noQR(t, tc, m)
	waitSim(t, sim2, "device connected", func() bool { return sim2.Connected(tc.jid) })
	exchange(t, sim2, tc, contact, "after restart")
	in, err := sim2.Inbox(contact)
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != 2 || in[0].Text != "before restart" || in[1].Text != "after restart" {
		t.Fatalf("contact inbox after restart = %+v", in)
	}
}

// A device unlinked while it was offline learns it at its next login:
// <failure reason=401/> → LoggedOut{OnConnect: true}.
func TestUnlinkedWhileOffline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915100000050")
	tc.disconnect()
	waitSim(t, sim, "device disconnected", func() bool { return !sim.Connected(tc.jid) })
	if err := sim.Unlink(ctx, tc.jid); err != nil {
		t.Fatal(err)
	}
	if devs := sim.Devices(tc.jid.User); len(devs) != 0 {
		t.Fatalf("devices after unlink: %v", devs)
	}
	m := tc.mark()
	if err := tc.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	lo, _ := waitEvent[*events.LoggedOut](tc, m, nil)
	if !lo.OnConnect || lo.Reason != events.ConnectFailureLoggedOut {
		t.Fatalf("LoggedOut = %+v, want OnConnect with reason 401", lo)
	}
	if sim.Connected(tc.jid) {
		t.Fatal("unlinked device is connected")
	}
	staysDisconnected(t, sim, tc.jid)
	// Unlinking again is an error.
	if err := sim.Unlink(ctx, tc.jid); err == nil {
		t.Fatal("second Unlink succeeded")
	}
}

// Messages for a device that is offline wait on the server and arrive, in
// order, when it logs in again.
func TestOfflineDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const me, contact = "4915100000150", "4915100000151"
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+"+me)
	tc.disconnect()
	waitSim(t, sim, "device disconnected", func() bool { return !sim.Connected(tc.jid) })

	texts := []string{"while you were away", "and again", "last one"}
	ids := make([]string, len(texts))
	for i, text := range texts {
		var err error
		if ids[i], err = sim.Incoming(ctx, "+"+contact, "+"+me, text, "Contact"); err != nil {
			t.Fatal(err)
		}
	}
	m := tc.mark()
	if err := tc.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.Connected](tc, m, nil)
	next := m
	for i, id := range ids {
		var msg *events.Message
		msg, next = waitEvent(tc, next, func(e *events.Message) bool { return e.Info.ID == id })
		if got := msg.Message.GetConversation(); got != texts[i] {
			t.Fatalf("offline message %d: %q, want %q", i, got, texts[i])
		}
	}
	waitSim(t, sim, "delivery receipts", func() bool {
		for _, id := range ids {
			if !hasReceipt(sim, me, contact+"@s.whatsapp.net", id, delivered...) {
				return false
			}
		}
		return true
	})
}
