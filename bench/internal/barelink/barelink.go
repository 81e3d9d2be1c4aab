// Package barelink links a bare whatsmeow client (its own SQLite file) to
// a wasim process, scanning the QR through wasim's control API: the
// baseline the bench programs compare meowgate with.
package barelink

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"
	_ "modernc.org/sqlite" // the same pure-Go SQLite meowgate uses

	"github.com/meowgate/meowgate/wasim"
)

// Link connects a new client on the SQLite file dbPath to the simulator at
// addr as phone, and returns it with the time linking took.
func Link(ctx context.Context, addr, dbPath, phone string) (*whatsmeow.Client, time.Duration, error) {
	wasim.TrustRoot()
	abs, err := filepath.Abs(dbPath)
	if err != nil {
		return nil, 0, err
	}
	db, err := sql.Open("sqlite", "file:"+abs+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, 0, err
	}
	container := sqlstore.NewWithDB(db, "sqlite3", waLog.Noop)
	if err := container.Upgrade(ctx); err != nil {
		return nil, 0, fmt.Errorf("upgrade: %w", err)
	}
	dev, err := container.GetFirstDevice(ctx)
	if err != nil {
		return nil, 0, err
	}
	cli := whatsmeow.NewClient(dev, waLog.Noop)
	wasim.Attach(cli, addr)
	ctl := wasim.Remote(addr)
	connected := make(chan struct{})
	scanErr := make(chan error, 1)
	var once, scanned sync.Once
	cli.AddEventHandler(func(evt any) {
		switch e := evt.(type) {
		case *events.QR:
			scanned.Do(func() {
				go func() {
					if _, err := ctl.Scan(ctx, e.Codes[0], phone); err != nil {
						scanErr <- err
					}
				}()
			})
		case *events.Connected:
			once.Do(func() { close(connected) })
		}
	})
	t0 := time.Now()
	if err := cli.Connect(); err != nil {
		return nil, 0, err
	}
	select {
	case <-connected:
	case err := <-scanErr:
		return nil, 0, fmt.Errorf("scan: %w", err)
	case <-ctx.Done():
		return nil, 0, fmt.Errorf("not connected: %w", ctx.Err())
	}
	return cli, time.Since(t0), nil
}
