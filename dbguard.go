package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/meowgate/meowgate/store"
)

// markerPath is the file that records that a database was created next to
// it. SQLite happily creates an empty database where the old one went
// missing, so without a record a lost file looks like a first start.
func markerPath(db string) string { return db + ".initialized" }

// errNoDatabase is a start refused because the database is missing or
// empty where the marker says there was one.
var errNoDatabase = errors.New("no database")

// openStore opens the database after refusing to start empty where one
// existed (unless fresh is set: serve --init), and then writes the marker.
// It returns the opened file's identity for watchDatabase.
func openStore(ctx context.Context, path string, fresh bool, log *slog.Logger) (*store.Store, os.FileInfo, error) {
	if err := checkPresent(path, fresh, log); err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, path, log)
	if err != nil {
		return nil, nil, err
	}
	// Stat after Open: the window in which the path could name another file
	// than the one SQLite opened is this one call.
	fi, err := os.Stat(path)
	if err == nil {
		err = writeMarker(path)
	}
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	return st, fi, nil
}

// checkPresent refuses a missing or empty database file when its marker
// exists. An empty main file with a non-empty -wal is a database whose
// first pages were never checkpointed (a crash soon after creation), not
// an empty one.
func checkPresent(path string, fresh bool, log *slog.Logger) error {
	marker := markerPath(path)
	if _, err := os.Stat(marker); errors.Is(err, fs.ErrNotExist) {
		return nil // first start: as before
	} else if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	what := ""
	switch fi, err := os.Stat(path); {
	case errors.Is(err, fs.ErrNotExist):
		what = "missing"
	case err != nil:
		return fmt.Errorf("store: %w", err)
	case fi.Size() == 0:
		if wal, err := os.Stat(path + "-wal"); err == nil && wal.Size() > 0 {
			return nil
		}
		what = "empty (0 bytes)"
	default:
		return nil
	}
	if fresh {
		log.Warn("store: starting with a new, empty database (--init)", "store", path, "was", what)
		return nil
	}
	return fmt.Errorf("store: %w: %s is %s, but %s records that a database was created there: refusing to start "+
		"empty (every instance, link and message would be gone); restore the file from a backup, or, to start over "+
		"deliberately, run \"meowgate serve --init\" once (or delete %s)", errNoDatabase, path, what, marker, marker)
}

// writeMarker creates the marker once; an existing one is left alone.
func writeMarker(path string) error {
	marker := markerPath(path)
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	text := fmt.Sprintf("meowgate created %s here on %s.\nWhile this file exists, meowgate refuses to start if %[1]s is missing or empty;\n"+
		"run \"meowgate serve --init\" (or delete this file) to start over with an empty database.\n",
		filepath.Base(path), time.Now().UTC().Format(time.RFC3339))
	if err := os.WriteFile(marker, []byte(text), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", marker, err)
	}
	return nil
}
