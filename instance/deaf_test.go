package instance

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/types"

	"github.com/meowgate/meowgate/event"
)

// A server that keeps the socket open but stops answering: the instance
// shows disconnected with reason keepalive_timeout within the configured
// bound, logs in again, and the messages that were in flight reach the
// contact once each.
func TestDeafSocket(t *testing.T) {
	// whatsmeow's keepalive timing is process-wide and read by goroutines
	// that outlive their client: shortened in a process of its own.
	if os.Getenv("MEOWGATE_TEST_DEAF") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDeafSocket$", "-test.v")
		cmd.Env = append(os.Environ(), "MEOWGATE_TEST_DEAF=1")
		out, err := cmd.CombinedOutput()
		t.Logf("%s", out)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	const bound = 6 * time.Second
	setKeepalive(bound)
	e := newEnv(t)
	e.connected("d", "+4915100000801", `{"send_delay_ms":0}`)
	const contact = "+4915100000802"
	m1 := e.send("d", contact, "before")
	e.waitStatus("d", m1.ID, event.StatusDelivered)
	info, err := e.m.Get("d")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := types.ParseJID(info.JID)
	if err != nil {
		t.Fatal(err)
	}

	silent := time.Now()
	if err := e.sim.Deafen(dev); err != nil {
		t.Fatal(err)
	}
	m2 := e.send("d", contact, "in flight 1")
	m3 := e.send("d", contact, "in flight 2")
	var since time.Time
	e.waitFor("disconnected/keepalive_timeout", func() bool {
		evs, err := e.m.Events(context.Background(), info.ID, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			var st event.State
			if ev.Type == event.TypeState && json.Unmarshal(ev.Data, &st) == nil &&
				st.State == event.StateDisconnected && st.Reason == event.ReasonKeepaliveTimeout && st.Since.After(silent) {
				since = st.Since
				return true
			}
		}
		return false
	})
	took := since.Sub(silent)
	t.Logf("silent server → disconnected in %v (bound %v)", took.Round(time.Millisecond), bound)
	if took > bound {
		t.Fatalf("disconnected after %v, bound %v", took, bound)
	}
	e.waitState("d", event.StateConnected, "")
	e.waitStatus("d", m2.ID, event.StatusDelivered)
	e.waitStatus("d", m3.ID, event.StatusDelivered)
	seen := map[string]int{}
	for _, text := range e.inbox(contact) {
		seen[text]++
	}
	for _, m := range []*event.Message{m1, m2, m3} {
		if seen[m.Text] != 1 {
			t.Errorf("contact saw %q %d times", m.Text, seen[m.Text])
		}
	}
}
