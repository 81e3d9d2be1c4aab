package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Stats counts what waits per instance: queued messages (a scheduled one
// is due at send_at), webhook deliveries by status and the oldest open one;
// an instance with nothing has no entry.
func TestStats(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	for _, id := range []string{"ins_a", "ins_b", "ins_c"} {
		if err := s.CreateInstance(ctx, &Instance{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	later := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	enqueue := func(inst, id string, sendAt time.Time) *Message {
		m := &Message{InstanceID: inst, ID: id, Chat: "x@s.whatsapp.net", Text: "t", SendAt: sendAt}
		if _, err := s.EnqueueMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	enqueue("ins_a", "A0", later)
	enqueue("ins_a", "A1", time.Time{})
	enqueue("ins_a", "A2", time.Time{})
	sent, _, err := s.ClaimMessage(ctx, "ins_a") // A1: claimed, then sent: no longer queued
	if err != nil || sent == nil || sent.ID != "A1" {
		t.Fatalf("claim: %+v %v", sent, err)
	}
	if _, err := s.MessageSent(ctx, "ins_a", sent.ID, time.Now(), []byte(`{}`), nil, false); err != nil {
		t.Fatal(err)
	}
	enqueue("ins_b", "B0", later)

	var evs []Event
	for range 4 {
		ev, err := s.AppendEvent(ctx, Event{InstanceID: "ins_b", Type: "message.received"})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if err := s.QueueWebhookDeliveries(ctx, "ins_b", evs[3].ID, "http://h/", evs); err != nil {
		t.Fatal(err)
	}
	for i, status := range []string{DeliveryDelivered, DeliveryDead, DeliveryFailed} {
		d, _, err := s.NextWebhookDelivery(ctx, "ins_b")
		if err != nil || d.EventID != evs[i].ID {
			t.Fatalf("next delivery: %+v %v", d, err)
		}
		a := WebhookAttempt{URL: "http://h/", StatusCode: 500, Error: "x", Status: status}
		if status == DeliveryFailed {
			a.NextAttemptAt = time.Now().Add(time.Hour)
		}
		if _, err := s.RecordWebhookAttempt(ctx, d.ID, a); err != nil {
			t.Fatal(err)
		}
	}
	open, err := s.ListWebhookDeliveries(ctx, "ins_b", DeliveryFailed, 0)
	if err != nil || len(open) != 1 {
		t.Fatalf("failed deliveries: %+v %v", open, err)
	}

	got, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["ins_c"] != nil {
		t.Fatalf("stats for %d instances, want ins_a and ins_b: %v", len(got), got)
	}
	a := got["ins_a"]
	a2, _ := s.GetMessage(ctx, "ins_a", "A2")
	if a.Queued != 2 || !a.OldestQueued.Equal(a2.CreatedAt) || len(a.Deliveries) != 0 || !a.OldestOpen.IsZero() {
		t.Errorf("ins_a: %+v, want 2 queued, the oldest due at %v, no deliveries", a, a2.CreatedAt)
	}
	b := got["ins_b"]
	want := map[string]int{DeliveryDead: 1, DeliveryFailed: 1, DeliveryPending: 1} // not the delivered one
	if fmt.Sprint(b.Deliveries) != fmt.Sprint(want) || b.Queued != 1 || !b.OldestQueued.Equal(later) || !b.OldestOpen.Equal(open[0].CreatedAt) {
		t.Errorf("ins_b: %+v, want 1 queued due at %v, deliveries %v, oldest open %v", b, later, want, open[0].CreatedAt)
	}
}
