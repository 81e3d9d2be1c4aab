package wasim

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"
)

const waitTimeout = 15 * time.Second

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("WASIM_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

func newSim(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Log == nil {
		opts.Log = testLogger(t).With("side", "wasim")
	}
	if opts.DeliveryDelay == 0 {
		opts.DeliveryDelay = 10 * time.Millisecond
	}
	if opts.ReadDelay == 0 {
		opts.ReadDelay = 10 * time.Millisecond
	}
	s, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// tclient is a real whatsmeow client with its own device store and an event
// recorder the test can wait on.
type tclient struct {
	t     testing.TB
	cli   *whatsmeow.Client
	db    *sql.DB
	store *sqlstore.Container

	mu     sync.Mutex
	events []any
	notify chan struct{}
}

func openClientStore(t testing.TB, path string) (*sql.DB, *sqlstore.Container) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	c := sqlstore.NewWithDB(db, "sqlite3", waLog.Noop)
	if err := c.Upgrade(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, c
}

// newClient creates a client over the device store at path (a new file in
// a temp dir when path is ""): unpaired if the store has no device.
func newClient(t testing.TB, sim *Server, path string) *tclient {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "client.db")
	}
	db, c := openClientStore(t, path)
	dev, err := c.GetFirstDevice(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return wrapClient(t, sim, db, c, dev)
}

func wrapClient(t testing.TB, sim *Server, db *sql.DB, c *sqlstore.Container, dev *store.Device) *tclient {
	tc := &tclient{t: t, db: db, store: c, notify: make(chan struct{})}
	log := waLog.Noop
	if os.Getenv("WASIM_DEBUG") != "" {
		log = waLog.Stdout("client", "DEBUG", false)
	}
	tc.cli = whatsmeow.NewClient(dev, log)
	Attach(tc.cli, sim.Addr())
	tc.cli.AddEventHandler(func(evt any) {
		tc.mu.Lock()
		tc.events = append(tc.events, evt)
		close(tc.notify)
		tc.notify = make(chan struct{})
		tc.mu.Unlock()
	})
	t.Cleanup(func() {
		tc.cli.Disconnect()
		db.Close()
	})
	return tc
}

// waitEvent waits for the first event at or after index from that matches;
// it returns the event and the index after it.
func waitEvent[T any](tc *tclient, from int, match func(T) bool) (T, int) {
	tc.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		tc.mu.Lock()
		for i := from; i < len(tc.events); i++ {
			if e, ok := tc.events[i].(T); ok && (match == nil || match(e)) {
				tc.mu.Unlock()
				return e, i + 1
			}
		}
		ch := tc.notify
		tc.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			var zero T
			tc.t.Fatalf("timed out waiting for %T; events so far: %s", zero, tc.eventNames())
			return zero, from
		}
	}
}

func (tc *tclient) mark() int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return len(tc.events)
}

func (tc *tclient) eventNames() string {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	s := ""
	for _, e := range tc.events {
		s += fmt.Sprintf("%T ", e)
	}
	return s
}

func waitSim(t testing.TB, sim *Server, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := sim.Wait(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// pair links a new client by QR to phone and waits until it is connected.
func pair(t testing.TB, sim *Server, phone string) *tclient {
	t.Helper()
	tc := newClient(t, sim, "")
	pairClient(t, sim, tc, phone)
	return tc
}

func pairClient(t testing.TB, sim *Server, tc *tclient, phone string) types.JID {
	t.Helper()
	m := tc.mark()
	if err := tc.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	qr, _ := waitEvent[*events.QR](tc, m, nil)
	jid, err := sim.Scan(context.Background(), qr.Codes[0], phone)
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := waitEvent[*events.PairSuccess](tc, m, nil)
	if ps.ID != jid {
		t.Fatalf("PairSuccess ID %s, simulator linked %s", ps.ID, jid)
	}
	waitEvent[*events.Connected](tc, m, nil)
	// WhatsApp delivers the push name by app-state sync, which the simulator
	// does not model; presence needs one.
	tc.cli.Store.PushName = "Test " + jid.User
	return jid
}
