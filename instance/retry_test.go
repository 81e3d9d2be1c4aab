package instance

import (
	"testing"

	"github.com/meowgate/meowgate/event"
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
