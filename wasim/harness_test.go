package wasim

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
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

const waitTimeout = 60 * time.Second

func TestMain(m *testing.M) {
	// No keepalive pings during the tests: a ping sent from whatsmeow's
	// keepalive goroutine could overlap a test closing the socket (see
	// tclient.settle). The simulator answers them like any other iq.
	whatsmeow.KeepAliveIntervalMin = time.Hour
	whatsmeow.KeepAliveIntervalMax = time.Hour + time.Minute
	os.Exit(m.Run())
}

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
	t.Cleanup(func() {
		// A client attached after this simulator was created is cleaned up
		// after it: disconnect it first, so that whatsmeow does not see its
		// socket closed from the far end while it still uses it (see
		// tclient.settle).
		for _, tc := range attachedTo(s) {
			if err := tc.settle(); err != nil {
				t.Errorf("cleanup: %v", err)
			}
			tc.cli.Disconnect()
		}
		s.Close()
	})
	return s
}

var (
	attachMu sync.Mutex
	attached = map[*Server]map[*tclient]bool{}
)

// attach records that tc talks to sim (after a simulator restart, to the
// new one).
func (tc *tclient) attach(sim *Server) {
	attachMu.Lock()
	defer attachMu.Unlock()
	if tc.sim != nil {
		delete(attached[tc.sim], tc)
	}
	tc.sim = sim
	if sim != nil {
		if attached[sim] == nil {
			attached[sim] = map[*tclient]bool{}
		}
		attached[sim][tc] = true
	}
}

// attachedTo returns the clients attached to sim and forgets sim.
func attachedTo(sim *Server) []*tclient {
	attachMu.Lock()
	defer attachMu.Unlock()
	var out []*tclient
	for tc := range attached[sim] {
		out = append(out, tc)
	}
	delete(attached, sim)
	return out
}

// tclient is a real whatsmeow client with its own device store and an event
// recorder the test can wait on.
type tclient struct {
	t     testing.TB
	cli   *whatsmeow.Client
	db    *sql.DB
	sim   *Server   // the simulator it talks to (attach; guarded by attachMu)
	path  string    // device store file
	jid   types.JID // set by pairClient
	store *sqlstore.Container

	mu     sync.Mutex
	events []any
	notify chan struct{}
}

func openClientStore(driver, path string) (*sql.DB, *sqlstore.Container, error) {
	db, err := sql.Open(driver, "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(1)
	c := sqlstore.NewWithDB(db, "sqlite3", waLog.Noop)
	if err := c.Upgrade(context.Background()); err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, c, nil
}

// newClient creates a client over the device store at path (in memory when
// path is ""; tests that restart the client pass a file): unpaired if the
// store has no device.
func newClient(t testing.TB, sim *Server, path string) *tclient {
	t.Helper()
	tc, err := newClientE(t, sim, path)
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

// newClientE is newClient for any goroutine: it reports errors instead of
// failing the test (t is used only for TempDir and Cleanup).
func newClientE(t testing.TB, sim *Server, path string) (*tclient, error) {
	return newClientDriver(t, sim, cachedSQLite, path)
}

// newClientDriver is newClientE with the device store opened through the
// given database/sql driver.
func newClientDriver(t testing.TB, sim *Server, driver, path string) (*tclient, error) {
	if path == "" {
		// In memory: a file store costs more CPU under -race and waits for
		// the disk, and only the restart tests need one.
		path = ":memory:"
	}
	db, c, err := openClientStore(driver, path)
	if err != nil {
		return nil, err
	}
	dev, err := c.GetFirstDevice(context.Background())
	if err != nil {
		db.Close()
		return nil, err
	}
	tc := wrapClient(t, sim, db, c, dev)
	tc.path = path
	return tc, nil
}

func wrapClient(t testing.TB, sim *Server, db *sql.DB, c *sqlstore.Container, dev *store.Device) *tclient {
	tc := &tclient{t: t, db: db, store: c, notify: make(chan struct{})}
	tc.attach(sim)
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
		if err := tc.settle(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		tc.cli.Disconnect()
		tc.attach(nil)
		db.Close()
	})
	return tc
}

// settle lets the traffic between the client and the simulator die down
// before the socket is closed: the simulator waits until the client has
// acknowledged everything, then the calling goroutine makes one round trip
// through the client's socket.
//
// This works around a data race in whatsmeow itself (socket/framesocket.go:
// SendFrame reads fs.conn without the lock Close writes it under): closing
// while a background goroutine still sends an ack or receipt trips -race.
// The round trip takes the noise socket's write lock after those senders,
// which orders their sends before the close.
func (tc *tclient) settle() error {
	attachMu.Lock()
	sim := tc.sim
	attachMu.Unlock()
	if sim != nil && sim.ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := sim.Wait(ctx, sim.Idle); err != nil {
			return fmt.Errorf("simulator not idle: %w", err)
		}
	}
	if tc.cli.IsLoggedIn() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		// A keepalive round trip proves the client's receive loop has drained
		// what came before; whatsmeow exposes it only through its internals.
		//lint:ignore SA1019 test-only use, no public equivalent
		tc.cli.DangerousInternals().SendKeepAlive(ctx)
	}
	return nil
}

// quiesce is settle for the test goroutine; call it before the client's
// socket is closed from either side (Disconnect, Kick, Unlink, sim.Close…).
func (tc *tclient) quiesce() {
	tc.t.Helper()
	if err := tc.settle(); err != nil {
		tc.t.Fatal(err)
	}
}

// disconnect settles the traffic and closes the client's socket.
func (tc *tclient) disconnect() {
	tc.t.Helper()
	tc.quiesce()
	tc.cli.Disconnect()
}

// waitEvent waits for the first event at or after index from that matches;
// it returns the event and the index after it.
func waitEvent[T any](tc *tclient, from int, match func(T) bool) (T, int) {
	tc.t.Helper()
	e, next, err := awaitEvent(tc, from, waitTimeout, match)
	if err != nil {
		tc.t.Fatal(err)
	}
	return e, next
}

// awaitEvent is waitEvent for any goroutine: it returns an error on timeout.
func awaitEvent[T any](tc *tclient, from int, timeout time.Duration, match func(T) bool) (T, int, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		tc.mu.Lock()
		for i := from; i < len(tc.events); i++ {
			if e, ok := tc.events[i].(T); ok && (match == nil || match(e)) {
				tc.mu.Unlock()
				return e, i + 1, nil
			}
		}
		ch := tc.notify
		tc.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			var zero T
			return zero, from, fmt.Errorf("timed out waiting for %T; events so far: %s", zero, tc.eventNames())
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
	jid, err := pairClientE(sim, tc, phone, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return jid
}

// pairClientE connects an unpaired client, has the phone scan its first QR
// code and waits until the client is paired and logged in. It is safe to
// call from any goroutine.
func pairClientE(sim *Server, tc *tclient, phone string, timeout time.Duration) (types.JID, error) {
	m := tc.mark()
	if err := tc.cli.Connect(); err != nil {
		return types.EmptyJID, err
	}
	qr, _, err := awaitEvent[*events.QR](tc, m, timeout, nil)
	if err != nil {
		return types.EmptyJID, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	jid, err := sim.Scan(ctx, qr.Codes[0], phone)
	if err != nil {
		return types.EmptyJID, err
	}
	ps, _, err := awaitEvent[*events.PairSuccess](tc, m, timeout, nil)
	if err != nil {
		return types.EmptyJID, err
	}
	if ps.ID != jid {
		return types.EmptyJID, fmt.Errorf("PairSuccess ID %s, simulator linked %s", ps.ID, jid)
	}
	if _, _, err := awaitEvent[*events.Connected](tc, m, timeout, nil); err != nil {
		return types.EmptyJID, err
	}
	// WhatsApp delivers the push name by app-state sync, which the simulator
	// does not model; presence needs one.
	tc.cli.Store.PushName = "Test " + jid.User
	tc.jid = jid
	return jid, nil
}
