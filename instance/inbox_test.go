package instance

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	waBinary "go.mau.fi/whatsmeow/binary"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/wasim"
)

// receiptNode gives back, from the message info whatsmeow parsed, the
// attributes its own receipt takes from the stanza: for every stanza shape
// the inbox acks itself.
func TestReceiptNode(t *testing.T) {
	own := types.JID{User: "4915100000001", Server: types.DefaultUserServer, Device: 3}
	ownLID := types.JID{User: "100000000001", Server: types.HiddenUserServer, Device: 3}
	cli := whatsmeow.NewClient(&wastore.Device{ID: &own, LID: ownLID}, nil)
	pn := func(user string, dev uint16) types.JID {
		return types.JID{User: user, Server: types.DefaultUserServer, Device: dev}
	}
	lid := func(user string, dev uint16) types.JID {
		return types.JID{User: user, Server: types.HiddenUserServer, Device: dev}
	}
	group := types.NewJID("120363000000000001", types.GroupServer)
	for _, tc := range []struct {
		name  string
		attrs waBinary.Attrs
	}{
		{"dm from a phone", waBinary.Attrs{"from": pn("4915100000002", 0), "sender_lid": lid("200000000002", 0)}},
		{"dm from a linked device", waBinary.Attrs{"from": pn("4915100000002", 7)}},
		{"dm from a LID", waBinary.Attrs{"from": lid("200000000002", 0), "sender_pn": pn("4915100000002", 0)}},
		{"group, phone addressing", waBinary.Attrs{"from": group, "participant": pn("4915100000002", 2), "participant_lid": lid("200000000002", 2)}},
		{"group, LID addressing", waBinary.Attrs{"from": group, "participant": lid("200000000002", 0), "addressing_mode": "lid", "participant_pn": pn("4915100000002", 0)}},
		{"group, from my phone", waBinary.Attrs{"from": group, "participant": pn(own.User, 0)}},
		{"echo from my phone", waBinary.Attrs{"from": pn(own.User, 0), "recipient": pn("4915100000002", 0)}},
		{"echo to a LID", waBinary.Attrs{"from": lid(ownLID.User, 0), "recipient": lid("200000000002", 0), "peer_recipient_pn": pn("4915100000002", 0)}},
		{"note to self", waBinary.Attrs{"from": pn(own.User, 0), "recipient": pn(own.User, 0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.attrs["id"], tc.attrs["t"], tc.attrs["type"] = "3EB0ABCDEF", "1764590000", "text"
			node := &waBinary.Node{Tag: "message", Attrs: tc.attrs}
			info, err := cli.DangerousInternals().ParseMessageInfo(node) //lint:ignore SA1019 the parser whatsmeow uses for the stanza
			if err != nil {
				t.Fatal(err)
			}
			if !ackable(info) {
				t.Fatalf("not ackable: %+v", info.MessageSource)
			}
			got := receiptNode(info).Attrs
			// whatsmeow's buildBaseReceipt: to is the stanza's from;
			// recipient and participant are copied when present.
			want := waBinary.Attrs{"from": tc.attrs["from"]}
			for _, k := range []string{"recipient", "participant"} {
				if v, ok := tc.attrs[k]; ok {
					want[k] = v
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("receipt attributes %v, want %v", got, want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		info types.MessageInfo
	}{
		{"status broadcast", types.MessageInfo{MessageSource: types.MessageSource{Chat: types.StatusBroadcastJID, Sender: pn("4915100000002", 0), IsGroup: true}}},
		{"newsletter", types.MessageInfo{MessageSource: types.MessageSource{Chat: types.NewJID("1203630001", types.NewsletterServer), Sender: types.NewJID("1203630001", types.NewsletterServer)}}},
		{"bot", types.MessageInfo{MessageSource: types.MessageSource{Chat: types.NewJID("867051314767696", types.BotServer), Sender: types.NewJID("867051314767696", types.BotServer)}}},
		{"hosted device", types.MessageInfo{MessageSource: types.MessageSource{Chat: pn("4915100000002", 0), Sender: pn("4915100000002", hostedDevice)}}},
	} {
		if ackable(&tc.info) {
			t.Errorf("%s: ackable, want whatsmeow to ack it", tc.name)
		}
	}
}

// The inbox acks a message only once it is committed: every message of a
// burst (by phone and by LID) is stored once and acked with the receipt
// whatsmeow would send, its plaintext is gone from whatsmeow's buffer; a
// batch that cannot be committed is not acked, and after the instance logs
// in again WhatsApp's redelivery is stored from the buffered plaintext.
func TestInboxAcksAfterCommit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const phone, ann, bob = "+4915100000801", "+4915100000802", "+4915100000803"
	e.connected("ib", phone, "")
	e.quiet()
	var ids []string
	for k := range 40 {
		spec := wasim.IncomingSpec{From: ann, To: phone, Text: fmt.Sprintf("burst %02d", k)}
		if k%2 == 1 {
			spec.From, spec.FromLID = bob, true
		}
		id, err := e.sim.Send(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	e.waitFor("the burst stored", func() bool {
		for _, id := range ids {
			if _, err := e.m.Message(ctx, "ib", id); err != nil {
				return false
			}
		}
		return true
	})
	wctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	if err := e.sim.Wait(wctx, e.sim.Idle); err != nil {
		t.Fatalf("the burst was not acked: %v", err)
	}
	acked := map[string]wasim.SentReceipt{}
	for _, r := range e.sim.ReceiptsSent(phone) {
		for _, id := range r.IDs {
			acked[id] = r
		}
	}
	for k, id := range ids {
		r, ok := acked[id]
		if !ok {
			t.Fatalf("no receipt for %s", id)
		}
		wantTo := strings.TrimPrefix(ann, "+") + "@s.whatsapp.net"
		if k%2 == 1 {
			wantTo = "@lid"
		}
		if !strings.Contains(r.To, wantTo) || (r.Type != "" && r.Type != "inactive") {
			t.Errorf("receipt for %s: to %s type %q, want %s", id, r.To, r.Type, wantTo)
		}
	}
	db := e.rawDB()
	defer db.Close()
	var rows, kept int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(plaintext) FROM whatsmeow_event_buffer`).Scan(&rows, &kept); err != nil {
		t.Fatal(err)
	}
	if rows < len(ids) || kept != 0 {
		t.Fatalf("event buffer: %d rows, %d with plaintext; want ≥ %d and 0", rows, kept, len(ids))
	}

	// A batch that cannot be committed: not acked, and stored after the
	// instance logged in again.
	if _, err := db.ExecContext(ctx, `CREATE TRIGGER boom BEFORE INSERT ON messages WHEN NEW.text = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END`); err != nil {
		t.Fatal(err)
	}
	boom, err := e.sim.Send(ctx, wasim.IncomingSpec{From: ann, To: phone, Text: "boom"})
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor("the failed batch kept in the buffer", func() bool {
		var n int
		_ = db.QueryRowContext(ctx, `SELECT COUNT(plaintext) FROM whatsmeow_event_buffer`).Scan(&n)
		return n == 1
	})
	time.Sleep(300 * time.Millisecond)
	for _, r := range e.sim.ReceiptsSent(phone) {
		for _, id := range r.IDs {
			if id == boom {
				t.Fatal("a message that could not be stored was acked")
			}
		}
	}
	if _, err := e.m.Message(ctx, "ib", boom); err == nil {
		t.Fatal("the failed message is stored")
	}
	if _, err := db.ExecContext(ctx, `DROP TRIGGER boom`); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the redelivered message stored", func() bool { _, err := e.m.Message(ctx, "ib", boom); return err == nil })
	e.waitState("ib", event.StateConnected, "")
	if err := e.sim.Wait(wctx, e.sim.Idle); err != nil {
		t.Fatalf("the redelivered message was not acked: %v", err)
	}
	n := 0
	for _, typ := range e.eventTypes(e.mustID("ib")) {
		if typ == event.TypeMessageReceived {
			n++
		}
	}
	if n != len(ids)+1 {
		t.Fatalf("%d message.received events, want %d", n, len(ids)+1)
	}
}
