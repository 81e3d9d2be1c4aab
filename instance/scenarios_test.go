package instance

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meowgate/meowgate/event"
)

// A restart of the whole Manager over the same database brings back every
// instance that was running, logged in without a QR code.
func TestManagerRestartRestoresInstances(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, n := range []string{"a", "b"} {
		if _, _, _, err := e.m.Create(ctx, CreateParams{Name: n, Connect: true}); err != nil {
			t.Fatal(err)
		}
	}
	e.link("a", "+4915100000021")
	e.link("b", "+4915100000022")
	if _, _, _, err := e.m.Create(ctx, CreateParams{Name: "idle"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.quiet().Disconnect(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	e.close()
	e.open()
	e.waitState("a", event.StateConnected, "")
	if info, _ := e.m.Get("b"); info.State != event.StateDisconnected {
		t.Fatalf("b was stopped by the user but is %s", info.State)
	}
	if info, _ := e.m.Get("idle"); info.State != event.StateCreated {
		t.Fatalf("idle is %s", info.State)
	}
	if qr, _ := e.m.QR("a"); qr != nil {
		t.Fatal("restored instance shows a QR")
	}
}

func TestPairByCode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, _, _, err := e.m.Create(ctx, CreateParams{Name: "code"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Connect(ctx, "code"); err != nil {
		t.Fatal(err)
	}
	code, err := e.m.PairCode(ctx, "code", "+4915100000030")
	if err != nil {
		t.Fatal(err)
	}
	if len(code) != 9 || code[4] != '-' {
		t.Fatalf("pair code %q", code)
	}
	if _, err := e.sim.EnterCode(ctx, "+4915100000030", code); err != nil {
		t.Fatal(err)
	}
	info := e.waitState("code", event.StateConnected, "")
	if info.Phone != "+4915100000030" || !strings.HasPrefix(info.JID, "4915100000030:") {
		t.Fatalf("after code pairing: %+v", info)
	}
	if _, err := e.m.PairCode(ctx, "code", "+4915100000030"); !isErr(err, ErrNotAwaitingQR) {
		t.Fatalf("pair code while connected: %v", err)
	}
}

func TestRemoteEvents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, n := range []string{"kick", "replace", "unlink"} {
		if _, _, _, err := e.m.Create(ctx, CreateParams{Name: n, Connect: true}); err != nil {
			t.Fatal(err)
		}
	}
	kick := e.link("kick", "+4915100000041")
	replace := e.link("replace", "+4915100000042")
	unlink := e.link("unlink", "+4915100000043")

	if err := e.quietSim().Kick(kick); err != nil {
		t.Fatal(err)
	}
	e.waitState("kick", event.StateDisconnected, event.ReasonNetwork)
	e.waitState("kick", event.StateConnected, "")

	if err := e.quietSim().StreamReplaced(replace); err != nil {
		t.Fatal(err)
	}
	e.waitState("replace", event.StateDisconnected, event.ReasonStreamReplaced)

	if err := e.quietSim().Unlink(ctx, unlink); err != nil {
		t.Fatal(err)
	}
	info := e.waitState("unlink", event.StateLoggedOut, event.ReasonRemoteLogout)
	if info.JID != "" {
		t.Fatalf("unlinked instance keeps jid %q", info.JID)
	}
	// A new link starts with a new QR.
	if _, err := e.m.Connect(ctx, "unlink"); err != nil {
		t.Fatal(err)
	}
	e.waitQR("unlink")

	types := e.eventTypes(info.ID)
	if len(types) == 0 || types[0] != event.TypeState {
		t.Fatalf("event log of unlink: %v", types)
	}
}

func TestClientOutdatedAndBackoff(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, _, _, err := e.m.Create(ctx, CreateParams{Name: "old", Connect: true}); err != nil {
		t.Fatal(err)
	}
	e.link("old", "+4915100000051")
	e.sim.SetClientOutdated(true)
	if _, err := e.quiet().Restart(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	e.waitState("old", event.StateFailed, event.ReasonClientOutdated)
	e.sim.SetClientOutdated(false)

	// While the server refuses connections the instance retries by itself.
	e.sim.RefuseConnections(1500 * time.Millisecond)
	if _, err := e.quiet().Restart(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	e.waitState("old", event.StateDisconnected, event.ReasonNetwork)
	e.waitState("old", event.StateConnected, "")
}

func TestQRTimeout(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, _, _, err := e.m.Create(ctx, CreateParams{Name: "slow", Connect: true}); err != nil {
		t.Fatal(err)
	}
	e.waitQR("slow")
	if n := e.quietSim().ExpireQR(); n != 1 {
		t.Fatalf("expired %d QR connections", n)
	}
	e.waitState("slow", event.StateDisconnected, event.ReasonQRTimeout)
	if _, err := e.m.QR("slow"); !isErr(err, ErrNotAwaitingQR) {
		t.Fatalf("QR after timeout: %v", err)
	}
	// Connecting again gives a fresh QR.
	if _, err := e.m.Connect(ctx, "slow"); err != nil {
		t.Fatal(err)
	}
	e.link("slow", "+4915100000061")
}
