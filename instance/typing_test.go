package instance

import (
	"context"
	"testing"
	"time"

	"github.com/meowgate/meowgate/event"
)

// A message's own typing time (Evolution's delay) shows "typing…" for that
// long before it, with typing_simulation off; a plain message shows none.
func TestSendTypingMS(t *testing.T) {
	e := newEnv(t)
	e.connected("ty", "+4915100000401", `{"send_delay_ms":0}`)
	to := "+4915100000402"
	plain := e.send("ty", to, "no typing")
	e.waitStatus("ty", plain.ID, event.StatusSent)
	if cs := e.sim.ChatStates("+4915100000401"); len(cs) != 0 {
		t.Fatalf("typing shown for a plain message: %+v", cs)
	}
	m, _, err := e.m.Send(context.Background(), "ty", SendParams{To: to, Text: "typed", TypingMS: 700}, "")
	if err != nil {
		t.Fatal(err)
	}
	e.waitStatus("ty", m.ID, event.StatusSent)
	cs := e.sim.ChatStates("+4915100000401")
	if len(cs) != 2 || cs[0].State != "composing" || cs[1].State != "paused" {
		t.Fatalf("chat states %+v", cs)
	}
	if gap := cs[1].At.Sub(cs[0].At); gap < 600*time.Millisecond {
		t.Fatalf("typing shown for %v, want about 700ms", gap)
	}
	for _, bad := range []int64{-1, maxTypingMS + 1} {
		_, _, err := e.m.Send(context.Background(), "ty", SendParams{To: to, Text: "x", TypingMS: bad}, "")
		if ve, ok := err.(*ValidationError); !ok || ve.Fields["typing_ms"] == "" {
			t.Fatalf("typing_ms %d: %v", bad, err)
		}
	}
}
