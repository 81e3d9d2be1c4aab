package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/meowgate/meowgate/event"
)

func TestInstanceCRUD(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t)

	a := &Instance{ID: "ins_a", Name: "home", Phone: "+15551234567", TokenHash: "aa", Settings: json.RawMessage(`{"mark_read":true}`)}
	if err := s.CreateInstance(ctx, a); err != nil {
		t.Fatal(err)
	}
	if a.State != event.StateCreated || a.Desired != DesiredStopped || a.CreatedAt.IsZero() || string(a.Webhook) != "{}" {
		t.Errorf("defaults not filled in: %+v", a)
	}
	b := &Instance{ID: "ins_b", Name: "Home", TokenHash: "bb", CreatedAt: a.CreatedAt} // same ms: order by insertion
	if err := s.CreateInstance(ctx, b); err != nil {
		t.Fatalf("names are case-sensitive, got %v", err)
	}

	for _, dup := range []*Instance{
		{ID: "ins_c", Name: "home"},
		{ID: "ins_a", Name: "other"},
		{ID: "ins_d", Name: "other2", TokenHash: "aa"},
	} {
		if err := s.CreateInstance(ctx, dup); !errors.Is(err, ErrConflict) {
			t.Errorf("create %+v: %v, want ErrConflict", dup, err)
		} else {
			t.Log(err)
		}
	}
	if err := s.CreateInstance(ctx, &Instance{ID: "x", Name: "y", Settings: json.RawMessage(`{`)}); err == nil {
		t.Error("invalid settings JSON accepted")
	}

	for _, key := range []string{"ins_a", "home"} {
		got, err := s.GetInstance(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "ins_a" || got.Phone != "+15551234567" || string(got.Settings) != `{"mark_read":true}` ||
			!got.CreatedAt.Equal(a.CreatedAt) || !got.StateSince.Equal(a.CreatedAt) {
			t.Errorf("GetInstance(%q) = %+v", key, got)
		}
	}
	// An instance named like another's id: the id wins.
	if err := s.CreateInstance(ctx, &Instance{ID: "ins_e", Name: "ins_a"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetInstance(ctx, "ins_a"); got.ID != "ins_a" {
		t.Errorf("id match did not win: %s", got.ID)
	}
	if _, err := s.GetInstance(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetInstance(nope) = %v", err)
	}

	got, err := s.InstanceByTokenHash(ctx, "bb")
	if err != nil || got.ID != "ins_b" {
		t.Fatalf("InstanceByTokenHash = %v, %v", got, err)
	}
	if _, err := s.InstanceByTokenHash(ctx, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty token hash: %v", err)
	}

	list, err := s.ListInstances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, in := range list {
		ids = append(ids, in.ID)
	}
	if fmt.Sprint(ids) != "[ins_a ins_b ins_e]" {
		t.Errorf("ListInstances order %v", ids)
	}

	time.Sleep(2 * time.Millisecond)
	a.DeviceName, a.JID, a.PushName, a.Desired, a.TokenHash = "Pi", "15551234567:3@s.whatsapp.net", "Me", DesiredRunning, "cc"
	a.Webhook = json.RawMessage(`{"url":"http://x"}`)
	if err := s.UpdateInstance(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetInstance(ctx, "ins_a")
	if got.DeviceName != "Pi" || got.JID != a.JID || got.PushName != "Me" || got.Desired != DesiredRunning ||
		got.TokenHash != "cc" || string(got.Webhook) != `{"url":"http://x"}` || !got.UpdatedAt.After(got.CreatedAt) {
		t.Errorf("after update: %+v", got)
	}
	if _, err := s.InstanceByTokenHash(ctx, "aa"); !errors.Is(err, ErrNotFound) {
		t.Error("old token hash still works")
	}
	b.TokenHash = "cc"
	if err := s.UpdateInstance(ctx, b); !errors.Is(err, ErrConflict) {
		t.Errorf("update to a taken token hash: %v", err)
	}
	if err := s.UpdateInstance(ctx, &Instance{ID: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update unknown: %v", err)
	}
	a.Desired = "sleeping"
	if err := s.UpdateInstance(ctx, a); err == nil {
		t.Error("bad desired state accepted")
	}

	if err := s.DeleteInstance(ctx, "ins_a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetInstance(ctx, "home"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted instance: %v", err)
	}
	if err := s.DeleteInstance(ctx, "ins_a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestSetStateWritesEventAtomically(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t)
	if err := s.CreateInstance(ctx, &Instance{ID: "ins_a", Name: "a"}); err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1_700_000_000_123).UTC()
	wake := s.EventsNotify()
	ev, err := s.SetState(ctx, "ins_a", "scan_qr", "user_request", at,
		&Event{Type: "instance.state", Data: json.RawMessage(`{"state":"scan_qr"}`)})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-wake:
	default:
		t.Error("SetState with an event did not signal EventsNotify")
	}
	if ev.ID == 0 || ev.InstanceID != "ins_a" || !ev.CreatedAt.Equal(at) {
		t.Errorf("returned event %+v", ev)
	}
	in, _ := s.GetInstance(ctx, "a")
	if in.State != "scan_qr" || in.Reason != "user_request" || !in.StateSince.Equal(at) {
		t.Errorf("instance after SetState: %+v", in)
	}
	evs, _ := s.ListEvents(ctx, "ins_a", 0, 0)
	if len(evs) != 1 || evs[0].ID != ev.ID || string(evs[0].Data) != `{"state":"scan_qr"}` || evs[0].Type != "instance.state" {
		t.Fatalf("events %+v", evs)
	}

	// A failing event rolls the state change back.
	_, err = s.SetState(ctx, "ins_a", "connected", "", time.Time{}, &Event{Type: "instance.state", Data: json.RawMessage(`{bad`)})
	if err == nil {
		t.Fatal("SetState with invalid event data succeeded")
	}
	if in, _ := s.GetInstance(ctx, "a"); in.State != "scan_qr" {
		t.Errorf("state changed although the event failed: %s", in.State)
	}
	// Unknown instance: nothing written.
	if _, err := s.SetState(ctx, "nope", "connected", "", time.Time{}, &Event{Type: "instance.state"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetState(unknown) = %v", err)
	}
	// Without an event.
	if ev, err := s.SetState(ctx, "ins_a", "connected", "", time.Time{}, nil); err != nil || ev.ID != 0 {
		t.Errorf("SetState(nil event) = %+v, %v", ev, err)
	}
	if evs, _ := s.ListEvents(ctx, "", 0, 0); len(evs) != 1 {
		t.Errorf("%d events, want 1", len(evs))
	}
}

func TestDeleteCascades(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t)
	for _, id := range []string{"ins_a", "ins_b"} {
		if err := s.CreateInstance(ctx, &Instance{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := s.AppendEvent(ctx, Event{InstanceID: id, Type: "t"}); err != nil {
				t.Fatal(err)
			}
		}
		ms := now().UnixMilli()
		for _, q := range []string{
			`INSERT INTO messages (instance_id, id, direction, status, idempotency_key, created_at, updated_at) VALUES (?1, 'M1', 'out', 'queued', 'k', ?2, ?2)`,
			`INSERT INTO webhook_cursors (instance_id, event_id, updated_at) VALUES (?1, 1, ?2)`,
			`INSERT INTO webhook_deliveries (instance_id, event_id, url, created_at, updated_at)
				VALUES (?1, (SELECT max(id) FROM events WHERE instance_id = ?1), 'http://x', ?2, ?2)`,
		} {
			if _, err := s.DB().ExecContext(ctx, q, id, ms); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	// Idempotency keys are unique per instance.
	_, err := s.DB().ExecContext(ctx, `INSERT INTO messages (instance_id, id, direction, status, idempotency_key, created_at, updated_at) VALUES ('ins_a', 'M2', 'out', 'queued', 'k', 0, 0)`)
	if err == nil {
		t.Error("duplicate idempotency key accepted")
	}

	if err := s.DeleteInstance(ctx, "ins_a"); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"events", "messages", "webhook_cursors", "webhook_deliveries"} {
		var a, b int
		s.DB().QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE instance_id = 'ins_a'), count(*) FILTER (WHERE instance_id = 'ins_b') FROM `+table).Scan(&a, &b)
		if a != 0 || b == 0 {
			t.Errorf("%s: %d rows of the deleted instance, %d of the other", table, a, b)
		}
	}
}

func TestConcurrentWriters(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t)
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*2)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("ins_%d_%d", w, i)
				if err := s.CreateInstance(ctx, &Instance{ID: id, Name: id}); err != nil {
					errs <- err
					continue
				}
				if _, err := s.SetState(ctx, id, "starting", "", time.Time{}, &Event{Type: "instance.state"}); err != nil {
					errs <- err
				}
			}
		})
		wg.Go(func() { // readers alongside
			for range each {
				if _, err := s.ListInstances(ctx); err != nil {
					errs <- err
				}
				if _, err := s.ListEvents(ctx, "", 0, 50); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := s.ListInstances(ctx)
	if err != nil || len(list) != writers*each {
		t.Fatalf("%d instances, %v", len(list), err)
	}
	if last, _ := s.LastEventID(ctx); last != writers*each {
		t.Errorf("LastEventID = %d", last)
	}
}

func BenchmarkCreateInstance(b *testing.B) {
	s := newTestStore(b)
	ctx := b.Context()
	settings := json.RawMessage(`{"send_delay_ms":1000,"mark_read":false}`)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("ins_%016x", i)
		if err := s.CreateInstance(ctx, &Instance{ID: id, Name: id, TokenHash: id, Settings: settings}); err != nil {
			b.Fatal(err)
		}
	}
}

// An update with events commits both or neither.
func TestUpdateInstanceWithEvents(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t)
	in := &Instance{ID: "ins_u", Name: "u", Webhook: json.RawMessage(`{"enabled":true}`)}
	if err := s.CreateInstance(ctx, in); err != nil {
		t.Fatal(err)
	}
	off := *in
	off.Webhook = json.RawMessage(`{"enabled":false}`)
	// An event that cannot be appended rolls the update back.
	if err := s.UpdateInstance(ctx, &off, Event{Data: json.RawMessage(`{}`)}); err == nil {
		t.Fatal("an event without a type was appended")
	}
	if got, _ := s.GetInstance(ctx, "ins_u"); string(got.Webhook) != `{"enabled":true}` {
		t.Fatalf("the row changed without its event: %s", got.Webhook)
	}
	if err := s.UpdateInstance(ctx, &off, Event{Type: event.TypeWebhookDisabled, Data: json.RawMessage(`{"reason":"gone"}`)}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetInstance(ctx, "ins_u")
	evs, err := s.ListEvents(ctx, "ins_u", 0, 10)
	if err != nil || string(got.Webhook) != `{"enabled":false}` || len(evs) != 1 || evs[0].Type != event.TypeWebhookDisabled {
		t.Fatalf("row %s, events %+v, %v", got.Webhook, evs, err)
	}
}
