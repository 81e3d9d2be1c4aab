package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// A write SQLite refuses for lack of room (here a real SQLITE_FULL, from a
// page limit) is ErrFull, makes the store report itself full, and a write
// that succeeds afterwards clears it.
func TestWriteFullIsErrFull(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	in := &Instance{ID: "i1", Name: "full", TokenHash: "h1"}
	if err := s.CreateInstance(ctx, in); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := s.DB().QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `PRAGMA max_page_count = `+strconv.Itoa(pages)); err != nil {
		t.Fatal(err)
	}
	var err error
	for n := 0; n < 1000 && err == nil; n++ {
		_, err = s.AppendEvent(ctx, Event{InstanceID: "i1", Type: "x", Data: []byte(`{"pad":"` + strings.Repeat("x", 4000) + `"}`)})
	}
	if !errors.Is(err, ErrFull) || !IsFull(err) {
		t.Fatalf("err = %v, want ErrFull", err)
	}
	if !s.Space().Full || !errors.Is(s.CheckRoom(), ErrFull) {
		t.Fatalf("store does not report itself full after a failed write: %+v", s.Space())
	}
	if _, err := s.DB().ExecContext(ctx, `PRAGMA max_page_count = 1000000`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendEvent(ctx, Event{InstanceID: "i1", Type: "x"}); err != nil {
		t.Fatal(err)
	}
	if s.Space().Full || s.CheckRoom() != nil {
		t.Fatalf("still full after a write succeeded: %+v", s.Space())
	}
	if IsFull(errors.New("database is locked")) || IsFull(nil) {
		t.Fatal("IsFull matches other errors")
	}
}

// The watermark refuses new work before SQLite runs out of room.
func TestWatermark(t *testing.T) {
	s := newTestStore(t)
	sp := s.Space()
	if !sp.Known || sp.Free == 0 || sp.Full {
		t.Fatalf("space = %+v", sp)
	}
	s.SetMinFree(sp.Free + 1<<40)
	if err := s.CheckRoom(); !errors.Is(err, ErrFull) {
		t.Fatalf("CheckRoom below the watermark = %v", err)
	}
	s.SetMinFree(0)
	if err := s.CheckRoom(); err != nil {
		t.Fatalf("CheckRoom without a watermark = %v", err)
	}
}
