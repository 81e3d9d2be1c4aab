package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// StoreInbound stores each message once with its event and clears the
// buffer rows of the batch, duplicates included.
func TestStoreInbound(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t)
	if err := s.CreateInstance(ctx, &Instance{ID: "ins_a", Name: "a"}); err != nil {
		t.Fatal(err)
	}
	h := func(b byte) []byte { x := make([]byte, 32); x[0] = b; return x }
	// Buffer rows without whatsmeow devices behind them.
	if _, err := s.DB().ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		t.Fatal(err)
	}
	defer s.DB().ExecContext(ctx, `PRAGMA foreign_keys = ON`) //nolint:errcheck
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO whatsmeow_event_buffer (our_jid, ciphertext_hash, plaintext, server_timestamp, insert_timestamp) VALUES ('dev', ?, x'aa', 0, 0), ('dev', ?, x'bb', 0, 0), ('other', ?, x'cc', 0, 0)`, h(1), h(2), h(1)); err != nil {
		t.Fatal(err)
	}
	batch := func(ids ...string) []Inbound {
		var items []Inbound
		for k, id := range ids {
			items = append(items, Inbound{
				Message:   &Message{InstanceID: "ins_a", ID: id, Direction: "in", Chat: "c", Type: "text", Text: id, Status: "received", CreatedAt: time.Now()},
				EventType: "message.received", Data: json.RawMessage(`{"id":"` + id + `"}`), BufferHash: h(byte(k + 1)),
			})
		}
		return items
	}
	dup, err := s.StoreInbound(ctx, "dev", batch("m1", "m2"))
	if err != nil || fmt.Sprint(dup) != "[false false]" {
		t.Fatalf("first batch: %v %v", dup, err)
	}
	dup, err = s.StoreInbound(ctx, "dev", batch("m2", "m3"))
	if err != nil || fmt.Sprint(dup) != "[true false]" {
		t.Fatalf("second batch: %v %v", dup, err)
	}
	evs, _ := s.ListEvents(ctx, "ins_a", 0, 100)
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3", len(evs))
	}
	var kept string
	if err := s.DB().QueryRowContext(ctx, `SELECT group_concat(our_jid || ':' || hex(ciphertext_hash), ',') FROM whatsmeow_event_buffer WHERE plaintext IS NOT NULL`).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if kept != "other:01"+strings.Repeat("00", 31) {
		t.Fatalf("buffer rows with plaintext: %s", kept)
	}
	// A failing batch stores nothing and clears nothing.
	if _, err := s.DB().ExecContext(ctx, `UPDATE whatsmeow_event_buffer SET plaintext = x'dd' WHERE our_jid = 'dev'`); err != nil {
		t.Fatal(err)
	}
	bad := batch("m4", "m5")
	bad[1].Data = json.RawMessage(`{not json`)
	if _, err := s.StoreInbound(ctx, "dev", bad); err == nil {
		t.Fatal("a batch with a bad message stored")
	}
	if _, err := s.GetMessage(ctx, "ins_a", "m4"); err == nil {
		t.Fatal("m4 stored from a failed batch")
	}
	var n int
	_ = s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM whatsmeow_event_buffer WHERE plaintext IS NOT NULL AND our_jid = 'dev'`).Scan(&n)
	if n != 2 {
		t.Fatalf("%d buffer rows kept, want 2", n)
	}
}

// BenchmarkStoreInbound: a batch of 100 received texts, as the inbox
// commits them.
func BenchmarkStoreInbound(b *testing.B) {
	ctx := b.Context()
	s := newTestStore(b)
	if err := s.CreateInstance(ctx, &Instance{ID: "ins_a", Name: "a"}); err != nil {
		b.Fatal(err)
	}
	data := json.RawMessage(`{"instance":"a","id":"x","direction":"in","chat":"4915100000002@s.whatsapp.net","sender":{"phone":"+4915100000002"},"type":"text","text":"hello there, a message of ordinary length","status":"received"}`)
	b.ReportAllocs()
	for k := 0; b.Loop(); k++ {
		items := make([]Inbound, 100)
		for j := range items {
			id := fmt.Sprintf("m%d-%d", k, j)
			items[j] = Inbound{
				Message:   &Message{InstanceID: "ins_a", ID: id, Direction: "in", Chat: "4915100000002@s.whatsapp.net", Sender: "4915100000002@s.whatsapp.net", Type: "text", Text: "hello there", Status: "received", Summary: json.RawMessage(`{"push_name":"Ann"}`), CreatedAt: time.Now()},
				EventType: "message.received", Data: data, BufferHash: []byte(id),
			}
		}
		if _, err := s.StoreInbound(ctx, "dev", items); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/message")
}
