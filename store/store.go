// Package store keeps all of meowgate's state in one SQLite file
// (modernc.org/sqlite, no cgo): instances, the event log, messages and the
// send queue, webhook deliveries, and whatsmeow's device store.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.mau.fi/whatsmeow/store/sqlstore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinel errors; match them with errors.Is.
var (
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("conflict")
	ErrNewerSchema = errors.New("database schema is newer than this meowgate")
	ErrNotDatabase = errors.New("file is not a database")
)

// readConns bounds the read pool. Readers never block the writer in WAL mode,
// so a few are enough for API reads and SSE tails on a Raspberry Pi.
const readConns = 4

// Store is the database. All writes go through one connection (write), so
// SQLite never sees two writers and nothing can fail with SQLITE_BUSY; reads
// that need no transaction use a separate query_only pool (read).
type Store struct {
	path    string
	log     *slog.Logger
	write   *sql.DB
	read    *sql.DB
	devices *sqlstore.Container
	ckpt    checkpointer
	events  broadcaster
	batch   batcher
	space   space
}

// dsn builds the modernc DSN. busy_timeout comes first so the pragmas after
// it (journal_mode=WAL writes the file) wait for a lock instead of failing;
// modernc also sorts it first. _txlock=immediate makes BEGIN take the write
// lock at once, so two transactions never deadlock upgrading read locks.
// Read connections open with mode=rw: a pool connection opened after the
// file was deleted (the checkpointer asks every second) must not create an
// empty one where the missing-database guard expects none.
func dsn(abs string, readOnly bool) string {
	u := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?_pragma=busy_timeout(10000)"
	if readOnly {
		return u + "&_pragma=query_only(1)&mode=rw"
	}
	return u + "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(" + strconv.Itoa(walHardLimit) + ")&_pragma=foreign_keys(1)&_txlock=immediate"
}

// Open opens (creating if needed) the database at path, applies migrations,
// and upgrades whatsmeow's device tables. A file that is not a SQLite
// database, or was written by a newer meowgate, is refused untouched.
func Open(ctx context.Context, path string, log *slog.Logger) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: database path is empty")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("store: create database directory: %w", err)
	}
	if err := prepareFile(path, abs); err != nil {
		return nil, err
	}

	s := &Store{path: path, log: log}
	s.events.init()
	// Every check that can refuse the file runs on a query_only connection
	// first: the write DSN's journal_mode(WAL) would already rewrite the
	// header of a file we are about to refuse.
	if err := s.probe(ctx, abs); err != nil {
		return nil, err
	}

	s.write = openDB(dsn(abs, false))
	// One connection, kept forever: it serialises writers in Go, and idle
	// closes would only cost WAL checkpoints and re-running the pragmas.
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	s.write.SetConnMaxIdleTime(0)
	if err := s.migrate(ctx); err != nil {
		s.write.Close()
		return nil, err
	}

	// The read pool is opened after migrating, once the file is in WAL mode
	// (a persistent setting, so its DSN need not repeat it).
	s.read = openDB(dsn(abs, true))
	s.read.SetMaxOpenConns(readConns)
	s.read.SetMaxIdleConns(readConns)
	s.read.SetConnMaxIdleTime(5 * time.Minute)
	if err := s.read.PingContext(ctx); err != nil {
		s.Close()
		return nil, s.openError(err)
	}
	s.startCheckpointer()
	return s, nil
}

// probe opens the file read-only and refuses it if it is not a SQLite
// database, belongs to another application, has a newer schema, or is
// damaged (check.go).
func (s *Store) probe(ctx context.Context, abs string) error {
	db, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		return fmt.Errorf("store: open %s: %w", s.path, err)
	}
	defer db.Close()
	var version, appID int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return s.openError(err)
	}
	if err := db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return s.openError(err)
	}
	if appID != 0 && appID != applicationID {
		return fmt.Errorf("store: %s is not a meowgate database (application_id %#x): %w", s.path, appID, ErrNotDatabase)
	}
	if err := checkVersion(version); err != nil {
		return err
	}
	return s.quickCheck(ctx, db)
}

// prepareFile refuses a file that is not SQLite before the driver gets to it
// (setting WAL mode is a write), and creates a missing file with mode 0600:
// it will hold the WhatsApp device keys, and SQLite gives -wal and -shm the
// main file's mode.
func prepareFile(path, abs string) error {
	f, err := os.OpenFile(abs, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	defer f.Close()
	var hdr [16]byte
	n, err := io.ReadFull(f, hdr[:])
	switch {
	case n == 0 && errors.Is(err, io.EOF):
		return nil // new or empty file: SQLite treats it as an empty database
	case errors.Is(err, io.ErrUnexpectedEOF) || err == nil && string(hdr[:]) != "SQLite format 3\x00":
		return fmt.Errorf("store: %s is not a meowgate database: %w", path, ErrNotDatabase)
	case err != nil:
		return fmt.Errorf("store: read %s: %w", path, err)
	}
	return nil
}

// openError explains a failure of the first connection to the file.
func (s *Store) openError(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("store: %s is not a meowgate database: %w", s.path, ErrNotDatabase)
		case sqlite3.SQLITE_CORRUPT:
			return &damagedError{path: s.path, said: "says: " + err.Error()}
		}
	}
	return fmt.Errorf("store: open %s: %w", s.path, err)
}

// Close closes both pools. The write connection closes last, so SQLite
// checkpoints the WAL into the main file and removes it.
func (s *Store) Close() error {
	s.closeBatch()
	s.stopCheckpointer()
	var errs []error
	if s.read != nil {
		errs = append(errs, s.read.Close())
	}
	errs = append(errs, s.write.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Ping runs a query on the write connection, so it also fails (at ctx's
// deadline) when a writer is stuck: suitable for a watchdog.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.write.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// DB returns the single write connection pool (also used by whatsmeow).
// Holding a transaction or an open *sql.Rows on it blocks every other writer.
func (s *Store) DB() *sql.DB { return s.write }

// Path returns the database path as given to Open.
func (s *Store) Path() string { return s.path }

// Devices returns whatsmeow's device store, which lives in the same file.
func (s *Store) Devices() *sqlstore.Container { return s.devices }

// inTx runs fn in a write transaction (BEGIN IMMEDIATE) and commits if fn
// returns nil. fn must use tx only: any other use of the write pool inside fn
// waits for the one connection fn is holding, forever.
func (s *Store) inTx(ctx context.Context, fn func(tx *Tx) error) error {
	stx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.noteWrite(fmt.Errorf("store: begin: %w", err))
	}
	defer stx.Rollback() //nolint:errcheck // no-op after Commit
	tx := &Tx{Tx: stx, s: s}
	if err := fn(tx); err != nil {
		return s.noteWrite(err)
	}
	if err := tx.Commit(); err != nil {
		return s.noteWrite(fmt.Errorf("store: commit: %w", err))
	}
	s.noteWrite(nil) // room again, if it was full
	if len(tx.tails) > 0 {
		s.events.publish(tx.tails)
	}
	return nil
}

// sqliteCode returns the extended SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// toMS and fromMS convert times to the unix milliseconds stored in the
// database; the zero time is stored as 0 and read back as the zero time.
func toMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// now returns the current time at the database's millisecond precision, so a
// value returned to the caller equals the one read back later.
func now() time.Time { return time.UnixMilli(time.Now().UnixMilli()).UTC() }

// jsonText validates a JSON column value and returns it as a string: a
// []byte argument would be stored as a BLOB, which SQLite's JSON functions
// read as JSONB. Empty means def.
func jsonText(field string, v []byte, def string) (string, error) {
	if len(v) == 0 {
		return def, nil
	}
	if !json.Valid(v) {
		return "", fmt.Errorf("store: %s is not valid JSON", field)
	}
	return string(v), nil
}
