package store

import (
	"errors"
	"testing"
	"time"
)

func TestWebhookDeliveries(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t)
	for _, id := range []string{"ins_a", "ins_b"} {
		if err := s.CreateInstance(ctx, &Instance{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	var evs []Event
	for range 3 {
		ev, err := s.AppendEvent(ctx, Event{InstanceID: "ins_a", Type: "message.received"})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if c, err := s.WebhookCursor(ctx, "ins_a"); err != nil || c != 0 {
		t.Fatalf("new cursor = %d, %v", c, err)
	}
	// Event 2 is read but skipped (filtered out).
	if err := s.QueueWebhookDeliveries(ctx, "ins_a", evs[2].ID, "http://h/", []Event{evs[0], evs[2]}); err != nil {
		t.Fatal(err)
	}
	// Again, and with an older cursor: no duplicates, the cursor stays.
	if err := s.QueueWebhookDeliveries(ctx, "ins_a", evs[0].ID, "http://h/", []Event{evs[0]}); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.WebhookCursor(ctx, "ins_a"); c != evs[2].ID {
		t.Errorf("cursor = %d, want %d", c, evs[2].ID)
	}
	if err := s.QueueWebhookDeliveries(ctx, "ins_b", evs[2].ID, "http://h/", []Event{evs[2]}); err == nil {
		t.Error("queued another instance's event")
	}
	if err := s.QueueWebhookDeliveries(ctx, "gone", 1, "http://h/", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown instance: %v", err)
	}

	ds, err := s.ListWebhookDeliveries(ctx, "ins_a", "", 0)
	if err != nil || len(ds) != 2 || ds[0].EventID != evs[2].ID || ds[1].EventID != evs[0].ID {
		t.Fatalf("list = %+v, %v", ds, err)
	}
	if d := ds[1]; d.Status != DeliveryPending || d.EventType != "message.received" || d.NextAttemptAt.IsZero() || d.Attempts != 0 {
		t.Errorf("queued delivery %+v", d)
	}

	head, ev, err := s.NextWebhookDelivery(ctx, "ins_a")
	if err != nil || head.EventID != evs[0].ID || ev.ID != evs[0].ID || string(ev.Data) != "{}" {
		t.Fatalf("head = %+v %+v, %v", head, ev, err)
	}
	t0 := time.Now()
	d, err := s.RecordWebhookAttempt(ctx, head.ID, WebhookAttempt{At: t0, URL: "http://h2/", StatusCode: 500,
		Error: "HTTP 500", Status: DeliveryFailed, NextAttemptAt: t0.Add(time.Second)})
	if err != nil || d.Status != DeliveryFailed || d.Attempts != 1 || d.URL != "http://h2/" || d.FirstAttemptAt.IsZero() || d.LastStatus != 500 {
		t.Fatalf("after failed attempt %+v, %v", d, err)
	}
	if _, err := s.RequeueWebhookDelivery(ctx, "ins_b", d.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("requeue via another instance: %v", err)
	}
	d, err = s.RecordWebhookAttempt(ctx, head.ID, WebhookAttempt{At: t0.Add(time.Second), StatusCode: 400, Error: "HTTP 400", Status: DeliveryDead})
	if err != nil || d.Status != DeliveryDead || d.Attempts != 2 || !d.NextAttemptAt.IsZero() || !d.FirstAttemptAt.Equal(fromMS(toMS(t0))) {
		t.Fatalf("after dead attempt %+v, %v", d, err)
	}
	if _, err := s.RecordWebhookAttempt(ctx, head.ID, WebhookAttempt{Status: DeliveryDelivered}); !errors.Is(err, ErrConflict) {
		t.Errorf("attempt on a dead delivery: %v", err)
	}
	if head, _, _ = s.NextWebhookDelivery(ctx, "ins_a"); head.EventID != evs[2].ID {
		t.Errorf("head after dead = event %d", head.EventID)
	}
	if dead, _ := s.ListWebhookDeliveries(ctx, "ins_a", DeliveryDead, 10); len(dead) != 1 || dead[0].ID != d.ID {
		t.Errorf("dead list %+v", dead)
	}

	re, err := s.RequeueWebhookDelivery(ctx, "ins_a", d.ID)
	if err != nil || re.Status != DeliveryPending || re.Attempts != 2 || !re.FirstAttemptAt.IsZero() || re.LastStatus != 400 {
		t.Fatalf("requeued %+v, %v", re, err)
	}
	if again, err := s.RequeueWebhookDelivery(ctx, "ins_a", d.ID); !errors.Is(err, ErrConflict) || again.Status != DeliveryPending {
		t.Errorf("requeue of a pending delivery: %+v, %v", again, err)
	}
	if head, _, _ = s.NextWebhookDelivery(ctx, "ins_a"); head.ID != d.ID {
		t.Errorf("a re-queued delivery is not the head: %+v", head)
	}
	if _, err := s.ListWebhookDeliveries(ctx, "ins_a", "bogus", 0); err == nil {
		t.Error("unknown status accepted")
	}
	if _, _, err := s.NextWebhookDelivery(ctx, "ins_b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty queue: %v", err)
	}

	if got := s.InstancesWithEvents(evs[0].ID); len(got) != 1 || got["ins_a"] != evs[2].ID {
		t.Errorf("InstancesWithEvents = %v", got)
	}
}
