package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestEvents(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t)
	if last, err := s.LastEventID(ctx); err != nil || last != 0 {
		t.Fatalf("LastEventID on empty = %d, %v", last, err)
	}
	for _, id := range []string{"ins_a", "ins_b"} {
		if err := s.CreateInstance(ctx, &Instance{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []int64
	for i := range 6 {
		inst := []string{"ins_a", "ins_b"}[i%2]
		ev, err := s.AppendEvent(ctx, Event{InstanceID: inst, Type: "message.received", Data: json.RawMessage(`{"n":1}`)})
		if err != nil {
			t.Fatal(err)
		}
		if ev.CreatedAt.IsZero() || ev.CreatedAt.Nanosecond()%int(time.Millisecond) != 0 {
			t.Errorf("CreatedAt %v not set to ms precision", ev.CreatedAt)
		}
		ids = append(ids, ev.ID)
	}
	if ev, _ := s.AppendEvent(ctx, Event{InstanceID: "ins_a", Type: "x"}); string(ev.Data) != "{}" {
		t.Errorf("empty data stored as %q", ev.Data)
	}

	all, _ := s.ListEvents(ctx, "", 0, 0)
	if len(all) != 7 || all[0].ID != ids[0] {
		t.Fatalf("ListEvents all: %d", len(all))
	}
	page, _ := s.ListEvents(ctx, "", ids[1], 2)
	if len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[3] {
		t.Errorf("page after %d: %+v", ids[1], page)
	}
	onlyB, _ := s.ListEvents(ctx, "ins_b", 0, 100)
	if len(onlyB) != 3 {
		t.Errorf("ins_b has %d events", len(onlyB))
	}
	for _, ev := range onlyB {
		if ev.InstanceID != "ins_b" || string(ev.Data) != `{"n":1}` {
			t.Errorf("wrong event %+v", ev)
		}
	}

	if _, err := s.AppendEvent(ctx, Event{InstanceID: "nope", Type: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("event for unknown instance: %v", err)
	}
	if _, err := s.AppendEvent(ctx, Event{InstanceID: "ins_a"}); err == nil {
		t.Error("event without type accepted")
	}

	// LastEventID survives the deletion of the newest events.
	last, _ := s.LastEventID(ctx)
	if err := s.DeleteInstance(ctx, "ins_a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteInstance(ctx, "ins_b"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.LastEventID(ctx); got != last || last != all[6].ID {
		t.Errorf("LastEventID after delete = %d, want %d", got, last)
	}
}

func TestEventsNotify(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t)
	if err := s.CreateInstance(ctx, &Instance{ID: "ins_a", Name: "a"}); err != nil {
		t.Fatal(err)
	}
	wake := s.EventsNotify()
	if _, err := s.AppendEvent(ctx, Event{InstanceID: "nope", Type: "x"}); err == nil {
		t.Fatal("append for unknown instance succeeded")
	}
	select {
	case <-wake:
		t.Fatal("woken by a failed append")
	default:
	}

	// A waiter that took the channel before reading sees the event.
	got := make(chan []Event)
	go func() {
		for {
			w := s.EventsNotify()
			evs, err := s.ListEvents(ctx, "ins_a", 0, 10)
			if err != nil || len(evs) > 0 {
				got <- evs
				return
			}
			select {
			case <-w:
			case <-ctx.Done():
				return
			}
		}
	}()
	time.Sleep(10 * time.Millisecond)
	if _, err := s.AppendEvent(ctx, Event{InstanceID: "ins_a", Type: "x"}); err != nil {
		t.Fatal(err)
	}
	select {
	case evs := <-got:
		if len(evs) != 1 {
			t.Errorf("waiter got %d events", len(evs))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not woken")
	}
	select {
	case <-wake:
	default:
		t.Error("old channel not closed")
	}
	if s.EventsNotify() == wake {
		t.Error("channel not replaced")
	}
}

// ListEventHeads lists every event with the data of the named types only.
func TestListEventHeads(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t)
	if err := s.CreateInstance(ctx, &Instance{ID: "ins_a", Name: "a"}); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"message.received", "message.sent", "presence", "message.sent"} {
		if _, err := s.AppendEvent(ctx, Event{InstanceID: "ins_a", Type: typ, Data: json.RawMessage(`{"t":"` + typ + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.ListEventHeads(ctx, 0, 3, "message.sent")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Type+"="+string(ev.Data))
	}
	want := `[message.received={} message.sent={"t":"message.sent"} presence={}]`
	if fmt.Sprint(got) != want {
		t.Fatalf("heads %v, want %s", got, want)
	}
	rest, _ := s.ListEventHeads(ctx, evs[2].ID, 10)
	if len(rest) != 1 || string(rest[0].Data) != "{}" || rest[0].InstanceID != "ins_a" {
		t.Fatalf("rest %+v", rest)
	}
}
