package wasim

import (
	"context"
	"database/sql"
	"fmt"

	"go.mau.fi/whatsmeow/store/sqlstore"
	waLog "go.mau.fi/whatsmeow/util/log"
	_ "modernc.org/sqlite" // pure-Go SQLite driver, registered as "sqlite"
)

// The simulator keeps the WhatsApp side in its own SQLite file: accounts,
// linked devices and their public keys, uploaded prekeys, stanzas waiting for
// offline devices, and what each simulated phone received. The phones'
// Signal state (identity, sessions, sender keys) lives in whatsmeow's own
// sqlstore tables in the same file, so a restarted simulator continues where
// it stopped.
const schema = `
CREATE TABLE IF NOT EXISTS wasim_users (
	phone      TEXT PRIMARY KEY,
	lid        TEXT NOT NULL,
	push_name  TEXT NOT NULL DEFAULT '',
	next_dev   INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS wasim_companions (
	jid        TEXT PRIMARY KEY,
	phone      TEXT NOT NULL,
	noise_pub  BLOB NOT NULL,
	reg_id     INTEGER NOT NULL,
	ident_pub  BLOB NOT NULL,
	skey_id    INTEGER NOT NULL,
	skey_pub   BLOB NOT NULL,
	skey_sig   BLOB NOT NULL,
	platform   TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS wasim_prekeys (
	jid        TEXT NOT NULL,
	key_id     INTEGER NOT NULL,
	pub        BLOB NOT NULL,
	PRIMARY KEY (jid, key_id)
);
CREATE TABLE IF NOT EXISTS wasim_offline (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	jid        TEXT NOT NULL,
	node       BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS wasim_offline_jid ON wasim_offline (jid, seq);
CREATE TABLE IF NOT EXISTS wasim_inbox (
	phone       TEXT NOT NULL,
	sender      TEXT NOT NULL,
	id          TEXT NOT NULL,
	chat        TEXT NOT NULL,
	text        TEXT NOT NULL,
	received_at INTEGER NOT NULL,
	dups        INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (phone, sender, id)
);
CREATE TABLE IF NOT EXISTS wasim_seen (
	sender     TEXT NOT NULL,
	id         TEXT NOT NULL,
	t          INTEGER NOT NULL,
	dups       INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (sender, id)
);
CREATE TABLE IF NOT EXISTS wasim_blobs (
	path       TEXT PRIMARY KEY,
	file       TEXT NOT NULL,
	size       INTEGER NOT NULL,
	enc_sha256 BLOB NOT NULL,
	mms_type   TEXT NOT NULL,
	expired    INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS wasim_blobs_file ON wasim_blobs (file);
CREATE TABLE IF NOT EXISTS wasim_media_msgs (
	id         TEXT PRIMARY KEY,
	path       TEXT NOT NULL,
	media_key  BLOB NOT NULL,
	info       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS wasim_polls (
	phone      TEXT NOT NULL,
	id         TEXT NOT NULL,
	creator    TEXT NOT NULL,
	secret     BLOB NOT NULL,
	options    TEXT NOT NULL,
	PRIMARY KEY (phone, id)
);
`

// addColumns brings a database made by an older simulator up to date.
func addColumns(ctx context.Context, db *sql.DB) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('wasim_inbox') WHERE name = 'extra'`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		// The rich fields of an inbox entry (media, location, poll…), as JSON.
		if _, err := db.ExecContext(ctx, `ALTER TABLE wasim_inbox ADD COLUMN extra TEXT NOT NULL DEFAULT ''`); err != nil {
			return err
		}
	}
	return nil
}

// openDB opens (or creates) the simulator database. An empty path keeps
// everything in memory, for tests that do not restart the simulator.
func openDB(ctx context.Context, path string, log waLog.Logger) (*sql.DB, *sqlstore.Container, error) {
	dsn := "file::memory:"
	if path != "" {
		dsn = "file:" + path
	}
	dsn += "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("wasim: open %s: %w", path, err)
	}
	// One connection: an in-memory database exists once per connection, and
	// the simulator's write rate does not need more.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	if _, err := db.ExecContext(ctx, schema+socialSchema); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("wasim: create schema: %w", err)
	}
	if err := addColumns(ctx, db); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("wasim: update schema: %w", err)
	}
	container := sqlstore.NewWithDB(db, "sqlite3", log)
	if err := container.Upgrade(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("wasim: upgrade device store: %w", err)
	}
	return db, container, nil
}
