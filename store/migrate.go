package store

import (
	"context"
	"embed"
	"fmt"
	"path"
	"strconv"
	"strings"

	"go.mau.fi/whatsmeow/store/sqlstore"
)

// Migrations are numbered files NNNN_name.sql, applied in order, each in its
// own transaction together with the PRAGMA user_version bump that records it.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// applicationID marks the file as meowgate's ("meow"); set by 0001_init.sql.
const applicationID = 0x6D656F77

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations and checks that they are
// numbered 1..n without gaps, so user_version always means "applied 1..v".
func loadMigrations() ([]migration, error) {
	entries, err := migrationFS.ReadDir("migrations")
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries { // ReadDir sorts by name
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != len(ms)+1 {
			return nil, fmt.Errorf("store: migration %s: want number %04d", e.Name(), len(ms)+1)
		}
		b, err := migrationFS.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	return ms, nil
}

// newerSchemaError reports a database written by a newer meowgate: running
// old code on it could corrupt data the new code relies on (ntfy does the same).
type newerSchemaError struct{ have, known int }

func (e *newerSchemaError) Error() string {
	return fmt.Sprintf("store: database schema version %d is newer than this meowgate (%d); upgrade meowgate or restore a backup", e.have, e.known)
}

func (e *newerSchemaError) Unwrap() error { return ErrNewerSchema }

// checkVersion refuses a schema version newer than the embedded migrations.
func checkVersion(version int) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	if version > len(ms) {
		return &newerSchemaError{have: version, known: len(ms)}
	}
	return nil
}

// migrate brings meowgate's tables and then whatsmeow's device tables up to
// date. Open has already refused files it must not touch (probe).
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	var version int
	if err := s.write.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return s.openError(err)
	}
	if err := checkVersion(version); err != nil {
		return err
	}

	for _, m := range ms[version:] {
		err := s.inTx(ctx, func(tx *Tx) error {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			// PRAGMA takes no bound parameters; m.version is an int.
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version))
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %s: %w", m.name, err)
		}
		s.log.Info("store: applied migration", "migration", m.name, "version", m.version)
	}

	// whatsmeow's tables share the file and the write connection. Its Upgrade
	// insists on foreign keys being on, which the DSN pragma guarantees.
	s.devices = sqlstore.NewWithDB(s.write, "sqlite3", WALogger(s.log, "whatsmeow/store"))
	if err := s.devices.Upgrade(ctx); err != nil {
		return fmt.Errorf("store: upgrade whatsmeow device store: %w", err)
	}
	return nil
}
