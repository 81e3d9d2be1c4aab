package instance

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// The hand-offs between an instance's sender and its actor (flight.go),
// driven through the real whatsmeow client against wasim. wasim's HoldAcks
// keeps WhatsApp's server ack of a send back, so the test decides when a
// send is in flight and when it is acked.

func (e *env) inst(name string) *instance {
	e.t.Helper()
	inst, err := e.m.lookup(name)
	if err != nil {
		e.t.Fatal(err)
	}
	return inst
}

// flightOf reads the hand-off: the message in flight, whether its ack is
// being recorded, and how many receipts wait for id.
func flightOf(inst *instance, id string) (inflight string, acked bool, held int) {
	f := &inst.flight
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.id, f.acked, len(f.held[id])
}

func (e *env) holdAcks(phone string) func() {
	e.t.Helper()
	release, err := e.sim.HoldAcks(phone)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(release)
	return release
}

func (e *env) stored(instID, id string) *store.Message {
	e.t.Helper()
	m, err := e.store.GetMessage(context.Background(), instID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// messageEvents lists the types (and statuses) of the events about message id.
func (e *env) messageEvents(instID, id string) []string {
	e.t.Helper()
	evs, err := e.m.Events(context.Background(), instID, 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if !bytes.Contains(ev.Data, []byte(`"id":"`+id+`"`)) {
			continue
		}
		s := ev.Type
		for _, st := range []string{"delivered", "read", "queued", "failed"} {
			if bytes.Contains(ev.Data, []byte(`"status":"`+st+`"`)) {
				s += ":" + st
			}
		}
		out = append(out, s)
	}
	return out
}

// Receipts that overtake the server ack of their message wait in the
// hand-off and are recorded after the ack, in order: the history and the
// events never show "delivered" before "sent".
func TestReceiptsOvertakingAck(t *testing.T) {
	e := newEnv(t)
	e.connected("o", "+4915100000201", `{"send_delay_ms":0}`)
	inst, instID := e.inst("o"), e.mustID("o")
	release := e.holdAcks("+4915100000201")
	m := e.send("o", "+4915100000202", "early receipts")
	e.waitFor("delivered and read receipts held for the unacked send", func() bool {
		id, _, held := flightOf(inst, m.ID)
		return id == m.ID && held == 2
	})
	if got := e.msg("o", m.ID); got.Status != event.StatusSending {
		t.Fatalf("unacked message is %s", got.Status)
	}
	release()
	got := e.waitStatus("o", m.ID, event.StatusRead)
	if h := statuses(got); h != "queued,sending,sent,delivered,read" {
		t.Fatalf("status history %s", h)
	}
	if evs := strings.Join(e.messageEvents(instID, m.ID), ","); evs != event.TypeMessageSent+","+event.TypeMessageStatus+":delivered,"+event.TypeMessageStatus+":read" {
		t.Fatalf("events %s", evs)
	}
	// The ack's transaction recorded the receipts; the send ends right after.
	e.waitFor("the hand-off to empty", func() bool {
		id, _, held := flightOf(inst, m.ID)
		return id == "" && held == 0
	})
}

// A stop while WhatsApp has not acked a send leaves the message to be sent
// again: the next login resends it with the same id, the contact gets it
// once, and the receipts that came meanwhile are recorded after the ack.
func TestStopDuringSendResendsOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("x", "+4915100000211", `{"send_delay_ms":0}`)
	inst, instID := e.inst("x"), e.mustID("x")
	release := e.holdAcks("+4915100000211")
	m := e.send("x", "+4915100000212", "in flight")
	e.waitFor("the send to reach the contact, unacked", func() bool {
		id, _, held := flightOf(inst, m.ID)
		return id == m.ID && held == 2 && len(e.inbox("+4915100000212")) == 1
	})
	if _, err := e.quiet().Disconnect(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if got := e.stored(instID, m.ID); got.Status != event.StatusQueued && got.Status != event.StatusSending {
		t.Fatalf("after a stop mid-send the message is %s", got.Status)
	}
	release()
	if _, err := e.m.Connect(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	got := e.waitStatus("x", m.ID, event.StatusRead)
	e.waitFor("the resend", func() bool { return e.sim.Duplicates("+4915100000211", m.ID) == 1 })
	if in := e.inbox("+4915100000212"); len(in) != 1 {
		t.Fatalf("contact got %v", in)
	}
	h := statuses(got)
	if !strings.HasSuffix(h, ",sending,sent,delivered,read") || strings.Count(h, "sent") != 1 {
		t.Fatalf("status history %s", h)
	}
}

// A message claimed in the transaction that records the previous one as
// sent, by a sender stopped right then, is put back as if never claimed
// (no attempt, no "sending" in its history), and sent after the next login.
func TestChainedClaimUndoneOnStop(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, _, _, err := e.m.Create(ctx, CreateParams{Name: "c", Connect: true, Settings: settingsPatch(t, `{"send_delay_ms":0}`)}); err != nil {
		t.Fatal(err)
	}
	device := e.link("c", "+4915100000221")
	inst, instID := e.inst("c"), e.mustID("c")
	release := e.holdAcks("+4915100000221")
	a := e.send("c", "+4915100000222", "a")
	e.waitFor("a sent, unacked", func() bool {
		id, _, _ := flightOf(inst, a.ID)
		return id == a.ID && len(e.inbox("+4915100000222")) == 1
	})
	b := e.send("c", "+4915100000222", "b")
	var s *sender
	if err := inst.do(ctx, func() error { s = inst.sender; return nil }); err != nil || s == nil {
		t.Fatalf("no sender: %v", err)
	}

	// Hold the database's write lock, so the sender, once acked, waits in
	// the transaction that records a and claims b.
	db := e.rawDB()
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	release()
	e.waitFor("a acked", func() bool { _, acked, _ := flightOf(inst, a.ID); return acked })
	// A network loss stops the sender without writing first (a Disconnect
	// records the desired state before it stops the sender).
	if err := e.quietSim().Kick(device); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the sender stopped", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.stopped
	})
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	// whatsmeow reconnects by itself; the next sender sends b.
	if h := statuses(e.waitStatus("c", b.ID, event.StatusRead)); h != "queued,sending,sent,delivered,read" {
		t.Fatalf("b status history %s", h)
	}
	if got := e.stored(instID, b.ID); got.Attempts != 1 {
		t.Fatalf("b has %d attempts", got.Attempts)
	}
	if h := statuses(e.waitStatus("c", a.ID, event.StatusRead)); h != "queued,sending,sent,delivered,read" {
		t.Fatalf("a status history %s", h)
	}
	if in := strings.Join(e.inbox("+4915100000222"), ","); in != "a,b" {
		t.Fatalf("contact got %s", in)
	}
}

// Without a pause every message is claimed in the transaction of the
// previous one's ack: under load the order holds, nothing is sent twice,
// and every history is complete and in order despite receipts racing the
// acks.
func TestChainedClaimsKeepOrder(t *testing.T) {
	e := newEnv(t)
	e.connected("l", "+4915100000231", `{"send_delay_ms":0}`)
	const n = 60
	ids := make([]string, n)
	for k := range n {
		ids[k] = e.send("l", "+4915100000232", fmt.Sprintf("m%02d", k)).ID
	}
	for _, id := range ids {
		e.waitStatus("l", id, event.StatusRead)
	}
	in := e.inbox("+4915100000232")
	if len(in) != n {
		t.Fatalf("contact got %d messages", len(in))
	}
	for k, text := range in {
		if want := fmt.Sprintf("m%02d", k); text != want {
			t.Fatalf("message %d is %q, want %q", k, text, want)
		}
	}
	for _, id := range ids {
		if e.sim.Duplicates("+4915100000231", id) != 0 {
			t.Fatalf("%s sent twice", id)
		}
		if h := statuses(e.msg("l", id)); h != "queued,sending,sent,delivered,read" {
			t.Fatalf("%s status history %s", id, h)
		}
	}
}

// An idle sender wakes for a new message at once, and for a scheduled one
// at its send_at, even when it went idle before either was queued.
func TestSenderWakesForNewAndScheduled(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("w", "+4915100000241", `{"send_delay_ms":0}`)
	at := time.Now().Add(3 * time.Second)
	later, _, err := e.m.Send(ctx, "w", SendParams{To: "+4915100000242", Text: "later", SendAt: at.UTC().Format(time.RFC3339Nano)}, "")
	if err != nil {
		t.Fatal(err)
	}
	now := e.send("w", "+4915100000242", "now")
	e.waitStatus("w", now.ID, event.StatusSent)
	if time.Now().After(at) {
		t.Fatal("the new message waited for the scheduled one's time")
	}
	if got := e.msg("w", later.ID); got.Status != event.StatusQueued {
		t.Fatalf("scheduled message is %s before its send_at", got.Status)
	}
	e.waitStatus("w", later.ID, event.StatusSent)
	msgs, err := e.sim.Inbox("+4915100000242")
	if err != nil || len(msgs) != 2 || msgs[0].Text != "now" || msgs[1].Text != "later" {
		t.Fatalf("inbox %+v %v", msgs, err)
	}
	if msgs[1].ReceivedAt.Before(at.Add(-time.Millisecond)) {
		t.Fatalf("scheduled message arrived at %v, before send_at %v", msgs[1].ReceivedAt, at)
	}
}
