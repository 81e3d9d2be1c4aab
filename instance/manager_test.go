package instance

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/types"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
	"github.com/meowgate/meowgate/wasim"
)

const waitTimeout = 20 * time.Second

func testLog() *slog.Logger {
	lvl := slog.LevelError
	if os.Getenv("MEOWGATE_TEST_DEBUG") != "" {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

type env struct {
	t     *testing.T
	sim   *wasim.Server
	dir   string
	store *store.Store
	m     *Manager
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sim, err := wasim.New(context.Background(), wasim.Options{Log: testLog().With("side", "wasim"),
		DeliveryDelay: 10 * time.Millisecond, ReadDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	e := &env{t: t, sim: sim, dir: t.TempDir()}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	e.t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(e.dir, "meowgate.db"), testLog())
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := NewManager(context.Background(), Options{Store: st, Log: testLog(), HTTPClient: e.sim.HTTPClient()})
	if err != nil {
		e.t.Fatal(err)
	}
	e.store, e.m = st, m
}

// quiet waits until the traffic between the clients and the simulator has
// settled and returns the Manager: whatsmeow races with itself when a
// socket is closed while it is still writing (SendFrame against Close), so
// tests stop or restart clients only when nothing is in flight.
func (e *env) quiet() *Manager {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_ = e.sim.Wait(ctx, e.sim.Idle)
	return e.m
}

func (e *env) close() {
	if e.m != nil {
		e.quiet()
		e.m.Close()
		e.store.Close()
		e.m = nil
	}
}

// waitState waits until the instance is in state (and reason, if given).
func (e *env) waitState(name, state, reason string) *Info {
	e.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		ch, info, err := e.m.Watch(name)
		if err != nil {
			e.t.Fatal(err)
		}
		if info.State == state && (reason == "" || info.Reason == reason) {
			return info
		}
		select {
		case <-ch:
		case <-deadline:
			e.t.Fatalf("%s: timed out waiting for %s/%s; now %s/%s", name, state, reason, info.State, info.Reason)
		}
	}
}

func (e *env) waitQR(name string) *QR {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	qr, err := e.m.WaitQR(ctx, name)
	if err != nil {
		e.t.Fatalf("%s: waiting for QR: %v", name, err)
	}
	return qr
}

func (e *env) link(name, phone string) types.JID {
	e.t.Helper()
	qr := e.waitQR(name)
	jid, err := e.sim.Scan(context.Background(), qr.Code, phone)
	if err != nil {
		e.t.Fatal(err)
	}
	e.waitState(name, event.StateConnected, "")
	return jid
}

func (e *env) eventTypes(id string) []string {
	evs, err := e.m.Events(context.Background(), id, 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	info, token, qr, err := e.m.Create(ctx, CreateParams{Name: "shop", Connect: true})
	if err != nil {
		t.Fatal(err)
	}
	if token == "" || qr == nil || qr.Code == "" {
		t.Fatalf("create with connect: token %q qr %+v", token, qr)
	}
	if got, ok := e.m.Authenticate(token); !ok || got.ID != info.ID {
		t.Fatal("token does not authenticate")
	}
	jid, err := e.sim.Scan(ctx, qr.Code, "+4915100000010")
	if err != nil {
		t.Fatal(err)
	}
	got := e.waitState("shop", event.StateConnected, "")
	if got.JID != jid.String() || got.Phone != "+4915100000010" {
		t.Fatalf("after pairing: jid %q phone %q, want %s", got.JID, got.Phone, jid)
	}

	// Disconnect keeps the link; connecting again logs in without a QR.
	if _, err := e.quiet().Disconnect(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	e.waitState("shop", event.StateDisconnected, event.ReasonUserRequest)
	if _, err := e.quiet().Disconnect(ctx, "shop"); !isErr(err, ErrNotConnected) {
		t.Fatalf("second disconnect: %v", err)
	}
	if _, err := e.m.Connect(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	e.waitState("shop", event.StateConnected, "")
	if _, err := e.m.Connect(ctx, "shop"); !isErr(err, ErrAlreadyConnected) {
		t.Fatalf("connect while connected: %v", err)
	}
	if _, err := e.m.QR("shop"); !isErr(err, ErrNotAwaitingQR) {
		t.Fatalf("QR while connected: %v", err)
	}

	// Restart keeps the link.
	if _, err := e.quiet().Restart(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	e.waitState("shop", event.StateConnected, "")

	// Logout unlinks, on our side and on the phone's.
	if _, err := e.quiet().Logout(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	e.waitState("shop", event.StateLoggedOut, event.ReasonUserRequest)
	if n := len(e.sim.Devices("+4915100000010")); n != 0 {
		t.Fatalf("phone still lists %d linked devices", n)
	}
	if _, err := e.quiet().Logout(ctx, "shop"); !isErr(err, ErrNotPaired) {
		t.Fatalf("second logout: %v", err)
	}

	// Connecting again needs a new QR.
	if _, err := e.m.Connect(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	qr2 := e.waitQR("shop")
	if qr2.Code == qr.Code {
		t.Fatal("same QR code after logout")
	}
	e.link("shop", "+4915100000010")

	if err := e.quiet().Delete(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Get("shop"); !isErr(err, ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if n := len(e.sim.Devices("+4915100000010")); n != 0 {
		t.Fatalf("phone still lists %d linked devices after delete", n)
	}
	devs, err := e.store.Devices().GetAllDevices(ctx)
	if err != nil || len(devs) != 0 {
		t.Fatalf("device keys left after delete: %d (%v)", len(devs), err)
	}
	if _, err := e.m.Authenticate(token); err {
		t.Fatal("token of deleted instance still works")
	}
}

func isErr(err, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func (e *env) rawDB() *sql.DB {
	e.t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, "meowgate.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		e.t.Fatal(err)
	}
	return db
}

// quietSim is quiet for operator actions that close sockets from the server.
func (e *env) quietSim() *wasim.Server {
	e.t.Helper()
	e.quiet()
	return e.sim
}
