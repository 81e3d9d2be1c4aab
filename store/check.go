package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite/lib"
)

// ErrDamaged marks a database that SQLite reports as malformed.
var ErrDamaged = errors.New("database file is damaged")

// quickCheckLimit bounds the problems quick_check collects: the first few
// say enough, and a badly damaged file would otherwise list thousands.
const quickCheckLimit = 5

// damagedError names the file and what SQLite said, and what to do.
type damagedError struct {
	path, said string
}

func (e *damagedError) Error() string {
	return fmt.Sprintf("store: %s is damaged (SQLite %s); restore the file from a backup while meowgate is stopped", e.path, e.said)
}

func (e *damagedError) Unwrap() error { return ErrDamaged }

// quickCheck refuses a damaged file before anything runs on it: without it
// a file with one bad page in the middle opens, answers /readyz and accepts
// sends, and fails later with "database disk image is malformed". It runs
// PRAGMA quick_check (every b-tree page, cell and freelist; not index
// contents, which integrity_check would add at several times the cost) on
// the read-only probe connection, so a refused file is not written.
func (s *Store) quickCheck(ctx context.Context, db *sql.DB) error {
	start := time.Now()
	rows, err := db.QueryContext(ctx, fmt.Sprintf("PRAGMA quick_check(%d)", quickCheckLimit))
	if err != nil {
		return s.checkError(err)
	}
	defer rows.Close()
	var said []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return s.checkError(err)
		}
		said = append(said, line)
	}
	if err := rows.Err(); err != nil {
		return s.checkError(err)
	}
	if len(said) != 1 || said[0] != "ok" {
		return &damagedError{path: s.path, said: "PRAGMA quick_check: " + strings.Join(said, "; ")}
	}
	s.log.Info("store: quick_check ok", "store", s.path, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// checkError explains a quick_check that failed outright: SQLite stops at
// some damage (a bad page 1, a bad schema) with SQLITE_CORRUPT instead of
// listing it.
func (s *Store) checkError(err error) error {
	if sqliteCode(err)&0xff == sqlite3.SQLITE_CORRUPT {
		return &damagedError{path: s.path, said: "PRAGMA quick_check: " + err.Error()}
	}
	return s.openError(err)
}
