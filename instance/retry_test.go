package instance

import (
	"bytes"
	"context"
	"testing"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/internal/mediatest"
	"github.com/meowgate/meowgate/wasim"
)

// A contact's phone that cannot decrypt a message asks for it again with a
// retry receipt; the message is re-encrypted and the contact gets it once,
// also when the receipt arrives after meowgate restarted (whatsmeow's
// memory of its sends is gone then: the store answers).
func TestRetryReceipt(t *testing.T) {
	e := newEnv(t)
	e.connected("r", "+4915100000701", `{"send_delay_ms":0}`)
	const contact = "+4915100000702"

	// Answered at once, from whatsmeow's memory.
	ask, err := e.sim.FailNextDecrypt(contact)
	if err != nil {
		t.Fatal(err)
	}
	ask()
	m := e.send("r", contact, "first try fails")
	e.waitStatus("r", m.ID, event.StatusDelivered)

	// Answered after a restart, from the store.
	ask, err = e.sim.FailNextDecrypt(contact)
	if err != nil {
		t.Fatal(err)
	}
	m2 := e.send("r", contact, "asked again after a restart")
	e.waitStatus("r", m2.ID, event.StatusSent)
	if in := e.inbox(contact); contains(in, m2.Text) {
		t.Fatalf("the contact decrypted a message it was to fail: %v", in)
	}
	e.close()
	ask() // queued for the instance's next login
	e.open()
	e.waitStatus("r", m2.ID, event.StatusDelivered)
	in := e.inbox(contact)
	if len(in) != 2 || in[0] != m.Text || in[1] != m2.Text {
		t.Fatalf("contact saw %q", in)
	}
	if n := e.sim.RetryResends(); n != 2 {
		t.Fatalf("%d resends after retry receipts, want 2", n)
	}
}

// A file and a poll asked for again after a restart: the file is sent
// again without a new upload (the phone downloads and verifies it), the
// poll with its original secret (the contact's vote still decrypts).
func TestRetryReceiptMediaAndPoll(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const me, contact = "+4915100000711", "+4915100000712"
	e.connected("r", me, `{"send_delay_ms":0}`)
	var asks []func()
	for range 2 {
		ask, err := e.sim.FailNextDecrypt(contact)
		if err != nil {
			t.Fatal(err)
		}
		asks = append(asks, ask)
	}
	jpg := mediatest.JPEG(t, 320, 240)
	img, _, err := e.m.Send(ctx, "r", SendParams{To: contact, Type: "image", Caption: "again", File: bytes.NewReader(jpg)}, "")
	if err != nil {
		t.Fatal(err)
	}
	poll, _, err := e.m.Send(ctx, "r", SendParams{To: contact, Type: "poll", Question: "Again?", Options: []string{"Yes", "No"}, Selectable: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	e.waitStatus("r", img.ID, event.StatusSent)
	e.waitStatus("r", poll.ID, event.StatusSent)
	e.close()
	for _, ask := range asks {
		ask()
	}
	e.open()
	if got := e.entry(contact, img.ID); got.Caption != "again" {
		t.Errorf("image: %+v", got)
	}
	if got := e.entry(contact, poll.ID); got.Poll == nil || got.Poll.Question != "Again?" {
		t.Fatalf("poll: %+v", got.InboxRich)
	}
	if _, err := e.sim.Send(ctx, wasim.IncomingSpec{From: contact, To: me, Type: "poll_vote", TargetID: poll.ID, Options: []string{"No"}}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the vote counted", func() bool {
		p := e.msg("r", poll.ID).Poll
		return p != nil && p.Options[1].Votes == 1
	})
	if n := e.sim.RetryResends(); n != 2 {
		t.Fatalf("%d resends after retry receipts, want 2", n)
	}
}
