package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A file with one b-tree page overwritten in the middle opens today and
// fails later; Open refuses it, naming the file, and leaves it untouched.
func TestDamagedRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meowgate.db")
	s, err := Open(t.Context(), path, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(t.Context(), `CREATE TABLE filler (x BLOB);
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000)
		INSERT INTO filler SELECT randomblob(100) FROM c`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b := readFile(t, path)
	size := int(binary.BigEndian.Uint16(b[16:18]))
	k := len(b) / size / 2
	for ; k < len(b)/size; k++ {
		if typ := b[k*size]; typ == 2 || typ == 5 || typ == 10 || typ == 13 {
			break
		}
	}
	copy(b[k*size:(k+1)*size], bytes.Repeat([]byte{0xA5}, size))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	_, err = Open(t.Context(), path, testLogger(t))
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "backup") {
		t.Fatalf("Open of a damaged file: %v", err)
	}
	if !bytes.Equal(readFile(t, path), b) {
		t.Error("the refused file was written")
	}
}
