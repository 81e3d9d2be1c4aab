package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// dbCheckEvery is how often watchDatabase looks at the database path: one
// stat, so often enough to bound what is accepted into a lost file.
const dbCheckEvery = time.Second

// dbCheckInterval is dbCheckEvery, or half the systemd watchdog interval if
// that is shorter: the loss is seen before the next watchdog ping is due.
func dbCheckInterval() time.Duration {
	if wd, err := daemon.SdWatchdogEnabled(false); err == nil && wd > 0 && wd/2 < dbCheckEvery {
		return wd / 2
	}
	return dbCheckEvery
}

// watchDatabase reports, once, when path no longer names the file that was
// opened (device and inode, os.SameFile): deleted, or replaced by a rename.
// SQLite keeps writing to the file it has open, so from then on every write
// lands in a file that is gone at the next start. Stat errors other than
// "does not exist" are logged and do not count.
func watchDatabase(ctx context.Context, path string, opened os.FileInfo, every time.Duration, log *slog.Logger) <-chan error {
	lost := make(chan error, 1)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		warned := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			fi, err := os.Stat(path)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				lost <- fmt.Errorf("database file %s was deleted while meowgate was running", path)
				return
			case err != nil:
				if !warned {
					log.Warn("cannot check the database file", "store", path, "err", err)
				}
				warned = true
			case !os.SameFile(opened, fi):
				lost <- fmt.Errorf("database file %s was replaced by another file while meowgate was running", path)
				return
			default:
				warned = false
			}
		}
	}()
	return lost
}

// databaseLost turns /readyz to 503 and stops the watchdog pings, says why,
// and returns after one check interval, during which a monitor polling
// /readyz sees 503 rather than only a refused connection; serve then shuts
// down and exits non-zero. Exiting rather than only withholding pings:
// without WatchdogSec (Docker, a shell) a process that stays up would serve
// 202s into the lost file forever, and systemd's Restart=on-failure acts at
// once instead of after a watchdog timeout. The restart then refuses to
// start empty (dbguard.go) with the way out in the log.
func databaseLost(ctx context.Context, err error, ready *atomic.Bool, stopWatchdog func(), n *notifier, log *slog.Logger) {
	ready.Store(false)
	stopWatchdog()
	log.Error("database file lost: not ready, no more watchdog pings, stopping; restore the file from a backup "+
		"(a restart refuses to start empty; \"meowgate serve --init\" starts over deliberately)", "err", err)
	n.send("STATUS=stopping: " + err.Error())
	select {
	case <-ctx.Done():
	case <-time.After(dbCheckInterval()):
	}
}
