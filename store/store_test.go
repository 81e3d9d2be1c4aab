package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/types"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// newTestStore opens a fresh database file under t.TempDir().
func newTestStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "meowgate.db"), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func pragma[T any](t *testing.T, db *sql.DB, name string) T {
	t.Helper()
	var v T
	if err := db.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestOpenCloseReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "nested", "dir", "meowgate.db")
	s, err := Open(ctx, path, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateInstance(ctx, &Instance{ID: "ins_1", Name: "home"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{filepath.Dir(path): 0o700 | os.ModeDir, path: 0o600} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
	}

	s, err = Open(ctx, path, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in, err := s.GetInstance(ctx, "home")
	if err != nil {
		t.Fatal(err)
	}
	if in.ID != "ins_1" {
		t.Fatalf("reopened instance id %q", in.ID)
	}
}

func schemaDump(t *testing.T, s *Store) string {
	t.Helper()
	rows, err := s.DB().QueryContext(t.Context(), `SELECT type, name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var typ, name, sqlText string
		if err := rows.Scan(&typ, &name, &sqlText); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s %s\n", typ, name, sqlText)
	}
	return b.String()
}

func TestMigrationsIdempotent(t *testing.T) {
	ctx := t.Context()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "meowgate.db")
	var dumps []string
	for range 3 {
		s, err := Open(ctx, path, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		if v := pragma[int](t, s.DB(), "user_version"); v != len(ms) {
			t.Errorf("user_version = %d, want %d", v, len(ms))
		}
		if id := pragma[int](t, s.DB(), "application_id"); id != applicationID {
			t.Errorf("application_id = %#x", id)
		}
		var wmVersion int
		if err := s.DB().QueryRowContext(ctx, `SELECT version FROM whatsmeow_version`).Scan(&wmVersion); err != nil {
			t.Fatal(err)
		}
		if wmVersion == 0 {
			t.Error("whatsmeow tables not migrated")
		}
		dumps = append(dumps, schemaDump(t, s))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if dumps[0] != dumps[1] || dumps[1] != dumps[2] {
		t.Errorf("schema changed on reopen:\n%s\n---\n%s", dumps[0], dumps[1])
	}
	for _, table := range []string{"instances", "events", "messages", "webhook_cursors", "webhook_deliveries", "whatsmeow_device"} {
		if !strings.Contains(dumps[0], "table "+table+" ") {
			t.Errorf("table %s missing", table)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meowgate.db")
	s, err := Open(ctx, path, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := loadMigrations()
	newer := len(ms) + 2
	if _, err := s.DB().ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", newer)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, path)

	_, err = Open(ctx, path, testLogger(t))
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open = %v, want ErrNewerSchema", err)
	}
	want := fmt.Sprintf("store: database schema version %d is newer than this meowgate (%d); upgrade meowgate or restore a backup", newer, len(ms))
	if err.Error() != want {
		t.Errorf("error %q\nwant  %q", err, want)
	}
	if !bytes.Equal(before, readFile(t, path)) {
		t.Error("database file was modified")
	}
}

func TestNotADatabaseRefused(t *testing.T) {
	garbage := make([]byte, 8192)
	rng := rand.New(rand.NewPCG(1, 2)) // deterministic: the same bytes every run
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	foreign := filepath.Join(t.TempDir(), "other.db")
	{ // a real SQLite file belonging to another application
		db, err := sql.Open("sqlite", foreign)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("PRAGMA application_id = 42; CREATE TABLE t (x)"); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	for name, content := range map[string][]byte{
		"garbage":        garbage,
		"short":          []byte("hello"),
		"text":           []byte(strings.Repeat("not a database\n", 100)),
		"corrupt sqlite": append([]byte("SQLite format 3\x00"), garbage...),
		"foreign app db": readFile(t, foreign),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "meowgate.db")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(t.Context(), path, testLogger(t))
			if err == nil {
				t.Fatal("Open succeeded")
			}
			t.Log(err)
			prefix := "store: " + path + " is not a meowgate database"
			if name != "corrupt sqlite" && (!errors.Is(err, ErrNotDatabase) || !strings.HasPrefix(err.Error(), prefix)) {
				t.Errorf("error %q, want prefix %q wrapping ErrNotDatabase", err, prefix)
			}
			if !bytes.Equal(content, readFile(t, path)) {
				t.Error("file was modified")
			}
		})
	}
	t.Run("exact message", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "meowgate.db")
		os.WriteFile(path, garbage, 0o600)
		_, err := Open(t.Context(), path, testLogger(t))
		if want := "store: " + path + " is not a meowgate database: file is not a database"; err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
		if _, err := os.Stat(path + "-wal"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a WAL file was created: %v", err)
		}
	})
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPragmas(t *testing.T) {
	s := newTestStore(t)
	if v := pragma[string](t, s.write, "journal_mode"); v != "wal" {
		t.Errorf("journal_mode = %q", v)
	}
	if v := pragma[int](t, s.write, "synchronous"); v != 1 {
		t.Errorf("synchronous = %d, want 1 (NORMAL)", v)
	}
	if v := pragma[int](t, s.write, "foreign_keys"); v != 1 {
		t.Errorf("foreign_keys = %d", v)
	}
	if v := pragma[int](t, s.write, "busy_timeout"); v != 10000 {
		t.Errorf("busy_timeout = %d", v)
	}
	if v := pragma[int](t, s.read, "query_only"); v != 1 {
		t.Errorf("read pool query_only = %d", v)
	}
	if v := pragma[int](t, s.read, "busy_timeout"); v != 10000 {
		t.Errorf("read pool busy_timeout = %d", v)
	}
	if _, err := s.read.ExecContext(t.Context(), `DELETE FROM instances`); err == nil {
		t.Error("write through the read pool succeeded")
	}
	if n := s.write.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("write pool max conns = %d", n)
	}
}

func TestDevices(t *testing.T) {
	ctx := t.Context()
	s := newTestStore(t)
	c := s.Devices()
	devs, err := c.GetAllDevices(ctx)
	if err != nil || len(devs) != 0 {
		t.Fatalf("GetAllDevices = %d, %v", len(devs), err)
	}
	dev := c.NewDevice()
	jid := types.NewADJID("15551234567", 0, 3)
	dev.ID = &jid
	dev.PushName = "Tester"
	// Set at pairing in real life; PutDevice dereferences it.
	dev.Account = &waAdv.ADVSignedDeviceIdentity{Details: []byte{1}, AccountSignature: make([]byte, 64), AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64)}
	if err := c.PutDevice(ctx, dev); err != nil {
		t.Fatal(err)
	}
	if err := dev.Identities.PutIdentity(ctx, "15557654321.0:0", [32]byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := dev.Sessions.PutSession(ctx, "15557654321.0:0", []byte("session")); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetDevice(ctx, jid)
	if err != nil || got == nil || got.PushName != "Tester" {
		t.Fatalf("GetDevice = %+v, %v", got, err)
	}
	if devs, _ := c.GetAllDevices(ctx); len(devs) != 1 {
		t.Fatalf("GetAllDevices = %d devices", len(devs))
	}
	if err := got.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM whatsmeow_sessions`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("sessions left after device delete: %d, %v", n, err)
	}
	// The store must still be usable: whatsmeow gave the one connection back.
	if err := s.CreateInstance(ctx, &Instance{ID: "ins_1", Name: "a"}); err != nil {
		t.Fatal(err)
	}
}

func TestWALogger(t *testing.T) {
	var buf bytes.Buffer
	l := WALogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo, AddSource: true})), "whatsmeow")
	l.Debugf("hidden %d", 1)
	l.Sub("Client").Sub("Socket").Warnf("dial %s", "x")
	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Error("debug logged at info level")
	}
	for _, want := range []string{"level=WARN", `msg="dial x"`, "module=whatsmeow/Client/Socket", "store_test.go"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
	if strings.Count(out, "module=") != 1 {
		t.Errorf("module attribute repeated: %q", out)
	}
	WALogger(nil, "x").Errorf("discarded") // must not panic
}

func TestPing(t *testing.T) {
	s := newTestStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping with a canceled context succeeded")
	}
}
