package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A file renamed over the database path is another file: reported as
// replaced. (Deletion is covered against the binary: TestDatabaseLostAndInit.)
func TestWatchDatabaseReplaced(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "meowgate.db")
	if err := os.WriteFile(db, []byte("a"), 0o600); err != nil {
		t.Fatal(err)
	}
	opened, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	lost := watchDatabase(t.Context(), db, opened, 10*time.Millisecond, slog.New(slog.DiscardHandler))
	select {
	case err := <-lost:
		t.Fatalf("reported before anything changed: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	other := filepath.Join(dir, "restored.db")
	if err := os.WriteFile(other, []byte("b"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, db); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		if !strings.Contains(err.Error(), db+" was replaced") {
			t.Fatalf("got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("replacement not reported")
	}
}
