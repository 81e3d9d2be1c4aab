package store

import (
	"os"
	"testing"
	"time"
)

// Writes reach the database file within about a second without any writer
// checkpointing (the automatic checkpoint is far above what they write).
func TestCheckpointer(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t)
	size := func() int64 {
		fi, err := os.Stat(s.path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	if _, err := s.DB().ExecContext(ctx, `CREATE TABLE filler (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		if _, err := s.DB().ExecContext(ctx, `INSERT INTO filler VALUES (randomblob(1 << 20))`); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * checkpointEvery)
	for size() < before+8<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("database file %d bytes after writing 8 MiB to %d: no checkpoint", size(), before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
