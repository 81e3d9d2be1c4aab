package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/meowgate/meowgate/event"
)

func statuses(t *testing.T, s *Store, instanceID, id string) []string {
	t.Helper()
	m, err := s.GetMessage(context.Background(), instanceID, id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, h := range m.History {
		out = append(out, h.Status)
	}
	return out
}

// The ack's transaction records early receipts after "sent" and can claim
// the next message; a claim the sender never used is undone without trace.
func TestMessageSentChainsAndUnclaim(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	in := &Instance{ID: "ins_chain", Name: "chain"}
	if err := s.CreateInstance(ctx, in); err != nil {
		t.Fatal(err)
	}
	for n := range 3 {
		m := &Message{InstanceID: in.ID, ID: fmt.Sprintf("3EB1%04d", n), Chat: "x@s.whatsapp.net", Text: "t"}
		if _, err := s.EnqueueMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	first, _, err := s.ClaimMessage(ctx, in.ID)
	if err != nil || first == nil || first.ID != "3EB10000" {
		t.Fatalf("claim: %+v, %v", first, err)
	}
	// A receipt that came before the ack is held, then recorded with it.
	if held, err := s.ApplyReceipts(ctx, in.ID, []Receipt{{ID: first.ID, Status: event.StatusDelivered}}); err != nil || len(held) != 1 {
		t.Fatalf("early receipt: held %v, %v", held, err)
	}
	early := []Receipt{{ID: first.ID, Status: event.StatusDelivered, At: time.Now()}}
	next, err := s.MessageSent(ctx, in.ID, first.ID, time.Now(), nil, early, true)
	if err != nil || next == nil || next.ID != "3EB10001" || next.Status != event.StatusSending || next.Attempts != 1 {
		t.Fatalf("chained claim: %+v, %v", next, err)
	}
	if got := fmt.Sprint(statuses(t, s, in.ID, first.ID)); got != "[queued sending sent delivered]" {
		t.Errorf("first message history %s", got)
	}
	// The sender stopped before sending next: it goes back as it was.
	if err := s.UnclaimMessage(ctx, in.ID, next.ID); err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMessage(ctx, in.ID, next.ID)
	if err != nil || m.Status != event.StatusQueued || m.Attempts != 0 || fmt.Sprint(statuses(t, s, in.ID, next.ID)) != "[queued]" {
		t.Fatalf("after unclaim: %+v, %v", m, err)
	}
	// It is still next in line.
	again, _, err := s.ClaimMessage(ctx, in.ID)
	if err != nil || again == nil || again.ID != next.ID {
		t.Fatalf("claim after unclaim: %+v, %v", again, err)
	}
	// Without claimNext nothing more is claimed.
	if n, err := s.MessageSent(ctx, in.ID, again.ID, time.Now(), nil, nil, false); err != nil || n != nil {
		t.Fatalf("unchained: %+v, %v", n, err)
	}
	if q, _ := s.QueuedMessages(ctx, in.ID); len(q) != 1 || q[0].Status != event.StatusQueued {
		t.Fatalf("queue %+v", q)
	}
}

// Migration 0005 moves each message's message_status rows, in order, into
// its history column.
func TestHistoryMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v4.db")
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:4] {
		if _, err := db.ExecContext(ctx, m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	for _, q := range []string{
		`PRAGMA user_version = 4`,
		`INSERT INTO instances (id, name, created_at, updated_at) VALUES ('ins_m', 'm', 1, 1)`,
		`INSERT INTO messages (instance_id, id, direction, status, created_at, updated_at) VALUES ('ins_m', 'M1', 'out', 'read', 1, 1)`,
		`INSERT INTO messages (instance_id, id, direction, status, created_at, updated_at) VALUES ('ins_m', 'M2', 'in', 'received', 1, 1)`,
		`INSERT INTO message_status (instance_id, message_id, status, at) VALUES ('ins_m', 'M1', 'queued', 1000)`,
		`INSERT INTO message_status (instance_id, message_id, status, error, at) VALUES ('ins_m', 'M1', 'sending', 'x', 1000)`,
		`INSERT INTO message_status (instance_id, message_id, status, at) VALUES ('ins_m', 'M1', 'read', 3000)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err := Open(ctx, path, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := s.GetMessage(ctx, "ins_m", "M1")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(statuses(t, s, "ins_m", "M1")); got != "[queued sending read]" || m.History[1].Error != "x" || m.History[2].At.UnixMilli() != 3000 {
		t.Errorf("M1 history %s %+v", got, m.History)
	}
	if got := statuses(t, s, "ins_m", "M2"); len(got) != 0 {
		t.Errorf("M2 history %v, want none", got)
	}
}
