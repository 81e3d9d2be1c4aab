package instance

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/meowgate/meowgate/event"
)

// receiveFrom has contact write to the instance and waits until it is stored.
func (e *env) receiveFrom(name, contact, phone, text string) {
	e.t.Helper()
	ctx := context.Background()
	id, err := e.sim.Incoming(ctx, contact, phone, text, "")
	if err != nil {
		e.t.Fatal(err)
	}
	e.waitFor("received "+text, func() bool {
		_, err := e.m.Message(ctx, name, id)
		return err == nil
	})
}

// queued returns the instance's queue by message text.
func (e *env) queued(name string) map[string]*event.Message {
	e.t.Helper()
	q, err := e.m.Queue(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]*event.Message{}
	for _, m := range q {
		out[m.Text] = m
	}
	return out
}

// With max_first_contacts_per_day the excess first contacts wait in the
// queue (queued, with held_until) while a known chat's messages go ahead;
// a chat already contacted is no new first contact; raising the cap lets
// the next one go at the next claim.
func TestFirstContactGovernor(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const phone, known = "+4915100000801", "+4915100000802"
	s1, s2, s3, s4 := "+4915100000811", "+4915100000812", "+4915100000813", "+4915100000814"
	e.connected("gov", phone, `{"send_delay_ms":0,"max_first_contacts_per_day":2}`)
	e.receiveFrom("gov", known, phone, "hello")
	if _, err := e.quiet().Disconnect(ctx, "gov"); err != nil {
		t.Fatal(err)
	}
	plan := [][2]string{{s1, "s1"}, {s2, "s2"}, {s3, "s3"}, {known, "k1"}, {s1, "s1b"}, {s4, "s4"}, {known, "k2"}}
	ids := map[string]string{}
	for _, p := range plan {
		ids[p[1]] = e.send("gov", p[0], p[1]).ID
	}
	if _, err := e.m.Connect(ctx, "gov"); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"s1", "s2", "k1", "s1b", "k2"} {
		e.waitStatus("gov", ids[text], event.StatusSent)
	}
	e.quiet()
	q := e.queued("gov")
	for _, text := range []string{"s3", "s4"} {
		m := q[text]
		if m == nil || m.Status != event.StatusQueued || m.HeldUntil == nil {
			t.Fatalf("%s in the queue: %+v", text, m)
		}
		if d := time.Until(*m.HeldUntil); d < 23*time.Hour || d > 25*time.Hour {
			t.Fatalf("%s held until %v (%v away), want about a day", text, m.HeldUntil, d)
		}
	}
	if len(q) != 2 {
		t.Fatalf("queue %v", q)
	}
	if in := e.inbox(known); strings.Join(in, ",") != "k1,k2" {
		t.Fatalf("known contact got %v", in)
	}
	if in := e.inbox(s1); strings.Join(in, ",") != "s1,s1b" {
		t.Fatalf("first contact got %v", in)
	}
	if in := e.inbox(s3); len(in) != 0 {
		t.Fatalf("held contact got %v", in)
	}

	// A negative cap is refused; a higher one lets s3 go at the next claim.
	_, err := e.m.UpdateSettings(ctx, "gov", *settingsPatch(t, `{"max_first_contacts_per_day":-1}`))
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Fields["settings.max_first_contacts_per_day"] == "" {
		t.Fatalf("negative cap: %v", err)
	}
	if _, err := e.m.UpdateSettings(ctx, "gov", *settingsPatch(t, `{"max_first_contacts_per_day":3}`)); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("gov", ids["s3"], event.StatusSent)
	e.quiet()
	q = e.queued("gov")
	if len(q) != 1 || q["s4"] == nil || q["s4"].HeldUntil == nil {
		t.Fatalf("queue after raising the cap %v", q)
	}
	// A held stranger who writes is a known chat: its message goes now.
	e.receiveFrom("gov", s4, phone, "hi there")
	e.waitStatus("gov", ids["s4"], event.StatusSent)
	// Off: everything goes.
	s5 := e.send("gov", "+4915100000815", "s5").ID
	if _, err := e.m.UpdateSettings(ctx, "gov", *settingsPatch(t, `{"max_first_contacts_per_day":0}`)); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("gov", s5, event.StatusSent)
}

// WhatsApp refusing a first contact (463 from a restricted account) holds
// first contacts for the back-off and publishes instance.restricted; the
// refused message stays queued, replies keep flowing, nothing fails.
func TestRestrictedHoldsFirstContacts(t *testing.T) {
	e := newEnv(t)
	e.close()
	e.openWith(func(o *Options) { o.RestrictedBackoff = time.Hour })
	ctx := context.Background()
	const phone, known = "+4915100000901", "+4915100000902"
	strangers := []string{"+4915100000911", "+4915100000912", "+4915100000913"}
	e.connected("res", phone, `{"send_delay_ms":0}`)
	e.receiveFrom("res", known, phone, "hello")
	e.sim.Restrict(phone, "463", time.Hour)
	if _, err := e.quiet().Disconnect(ctx, "res"); err != nil {
		t.Fatal(err)
	}
	var sids []string
	for i, s := range strangers {
		sids = append(sids, e.send("res", s, "stranger "+string(rune('a'+i))).ID)
	}
	k1 := e.send("res", known, "reply one").ID
	k2 := e.send("res", known, "reply two").ID
	if _, err := e.m.Connect(ctx, "res"); err != nil {
		t.Fatal(err)
	}
	info := e.waitState("res", event.StateConnected, event.ReasonRestricted)
	if d := time.Until(info.Until); d < 50*time.Minute || d > 61*time.Minute {
		t.Fatalf("restricted until %v", info.Until)
	}
	e.waitStatus("res", k1, event.StatusSent)
	e.waitStatus("res", k2, event.StatusSent)
	e.quiet()
	for _, id := range sids {
		m := e.msg("res", id)
		if m.Status != event.StatusQueued || m.HeldUntil == nil || strings.Contains(statuses(m), "failed") {
			t.Fatalf("first contact %s: %+v", id, m)
		}
	}
	restricted := 0
	for _, typ := range e.eventTypes(info.ID) {
		if typ == event.TypeRestricted {
			restricted++
		}
	}
	if restricted != 1 {
		t.Fatalf("%d instance.restricted events, want 1", restricted)
	}
	if in := e.inbox(known); strings.Join(in, ",") != "reply one,reply two" {
		t.Fatalf("known contact got %v", in)
	}
	// A restart keeps the restriction: still held, still queued.
	e.close()
	e.openWith(func(o *Options) { o.RestrictedBackoff = time.Hour })
	if again := e.waitState("res", event.StateConnected, event.ReasonRestricted); !again.Until.Equal(info.Until) {
		t.Fatalf("restricted until %v after the restart, was %v", again.Until, info.Until)
	}
	k3 := e.send("res", known, "reply three").ID
	e.waitStatus("res", k3, event.StatusSent)
	for _, id := range sids {
		if m := e.msg("res", id); m.Status != event.StatusQueued {
			t.Fatalf("after restart %s is %s", id, m.Status)
		}
	}
}

// When the back-off is over the reason says so and first contacts go.
func TestRestrictionEnds(t *testing.T) {
	e := newEnv(t)
	e.close()
	e.openWith(func(o *Options) { o.RestrictedBackoff = 2 * time.Second })
	const phone = "+4915100000921"
	e.connected("end", phone, `{"send_delay_ms":0}`)
	e.sim.Restrict(phone, "463", time.Second)
	id := e.send("end", "+4915100000922", "hello stranger").ID
	e.waitState("end", event.StateConnected, event.ReasonRestricted)
	e.waitState("end", event.StateConnected, event.ReasonRestrictionEnded)
	m := e.waitStatus("end", id, event.StatusSent)
	if strings.Contains(statuses(m), "failed") {
		t.Fatalf("statuses %s", statuses(m))
	}
	if in := e.inbox("+4915100000922"); strings.Join(in, ",") != "hello stranger" {
		t.Fatalf("stranger got %v", in)
	}
}
