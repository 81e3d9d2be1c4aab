package wasim

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// noReconnectWindow is how long a test watches for a reconnect that must not
// happen. whatsmeow's first automatic reconnect is immediate, so a client
// that wanted to come back would do so well within it.
const noReconnectWindow = 1500 * time.Millisecond

// staysDisconnected fails if the client tries to log in as the device again
// within the window.
func staysDisconnected(t *testing.T, sim *Server, dev types.JID) {
	t.Helper()
	attempts := sim.LoginAttempts(dev)
	ctx, cancel := context.WithTimeout(context.Background(), noReconnectWindow)
	defer cancel()
	err := sim.Wait(ctx, func() bool { return sim.Connected(dev) || sim.LoginAttempts(dev) != attempts })
	if err == nil {
		t.Fatalf("%s tried to log in again", dev)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}

// Presences, chat states and call rejections the client sends are recorded.
func TestInspectPresenceChatStateCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const me, contact = "4915100000090", "4915100000091"
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+"+me)
	contactJID := types.NewJID(contact, types.DefaultUserServer)

	t.Run("presence", func(t *testing.T) {
		for i, p := range []types.Presence{types.PresenceAvailable, types.PresenceUnavailable, types.PresenceAvailable} {
			if err := tc.cli.SendPresence(ctx, p); err != nil {
				t.Fatal(err)
			}
			waitSim(t, sim, "presence", func() bool { return len(sim.Presences(me)) == i+1 })
			got := sim.Presences(me)[i]
			if got.Type != string(p) || got.Device != tc.jid || got.Name != tc.cli.Store.PushName {
				t.Fatalf("presence %d = %+v, want %s from %s", i, got, p, tc.jid)
			}
		}
		if n := len(sim.Presences("+4915100000099")); n != 0 {
			t.Fatalf("another account has %d presences", n)
		}
		if n := len(sim.Presences("")); n != 3 {
			t.Fatalf("all accounts: %d presences", n)
		}
	})

	t.Run("chat state", func(t *testing.T) {
		steps := []struct {
			state types.ChatPresence
			media types.ChatPresenceMedia
			want  string
		}{
			{types.ChatPresenceComposing, types.ChatPresenceMediaText, "composing"},
			{types.ChatPresencePaused, types.ChatPresenceMediaText, "paused"},
			{types.ChatPresenceComposing, types.ChatPresenceMediaAudio, "recording"},
			{types.ChatPresencePaused, types.ChatPresenceMediaText, "paused"},
		}
		for i, st := range steps {
			if err := tc.cli.SendChatPresence(ctx, contactJID, st.state, st.media); err != nil {
				t.Fatal(err)
			}
			waitSim(t, sim, "chat state", func() bool { return len(sim.ChatStates(me)) == i+1 })
			got := sim.ChatStates(me)[i]
			if got.State != st.want || got.To != contactJID.String() || got.Device != tc.jid {
				t.Fatalf("chat state %d = %+v, want %s to %s", i, got, st.want, contactJID)
			}
		}
	})

	t.Run("call reject", func(t *testing.T) {
		m := tc.mark()
		callID, err := sim.CallOffer(ctx, "+"+contact, "+"+me)
		if err != nil {
			t.Fatal(err)
		}
		offer, _ := waitEvent(tc, m, func(e *events.CallOffer) bool { return e.CallID == callID })
		if offer.From.ToNonAD() != contactJID || offer.CallCreator.ToNonAD() != contactJID || offer.RemotePlatform != "android" {
			t.Fatalf("call offer = %+v", offer.BasicCallMeta)
		}
		if err := tc.cli.RejectCall(ctx, offer.From, offer.CallID); err != nil {
			t.Fatal(err)
		}
		waitSim(t, sim, "call reject", func() bool { return len(sim.CallRejects(me)) == 1 })
		rej := sim.CallRejects(me)[0]
		if rej.CallID != callID || rej.Caller != contactJID.String() || rej.Device != tc.jid {
			t.Fatalf("call reject = %+v", rej)
		}
	})
}

// Kick drops the socket; whatsmeow notices and reconnects by itself.
func TestKickReconnects(t *testing.T) {
	t.Parallel()
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915100000100")
	if n := sim.Logins(tc.jid); n != 1 {
		t.Fatalf("%d logins after pairing", n)
	}
	for round := 2; round <= 3; round++ {
		tc.quiesce()
		m := tc.mark()
		if err := sim.Kick(tc.jid); err != nil {
			t.Fatal(err)
		}
		_, m2 := waitEvent[*events.Disconnected](tc, m, nil)
		waitEvent[*events.Connected](tc, m2, nil)
		waitSim(t, sim, "login", func() bool { return sim.Logins(tc.jid) == round && sim.Connected(tc.jid) })
		noQR(t, tc, m)
	}
	exchange(t, sim, tc, "4915100000101", "after kicks")
	if err := sim.Kick(types.NewADJID("4915100000101", 0, 7)); !errors.Is(err, ErrUnknownDevice) {
		t.Fatalf("kicking an unknown device: %v", err)
	}
}

// StreamReplaced: the client reports it and stays away.
func TestStreamReplaced(t *testing.T) {
	t.Parallel()
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915100000110")
	tc.quiesce()
	m := tc.mark()
	if err := sim.StreamReplaced(tc.jid); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.StreamReplaced](tc, m, nil)
	waitSim(t, sim, "socket closed", func() bool { return !sim.Connected(tc.jid) })
	staysDisconnected(t, sim, tc.jid)
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for _, e := range tc.events[m:] {
		switch e.(type) {
		case *events.Connected, *events.Disconnected:
			t.Fatalf("%T after StreamReplaced", e)
		}
	}
}

// Unlink while connected: device_removed → LoggedOut{OnConnect: false}; the
// device is gone from the account and does not come back.
func TestUnlinkConnected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const phone = "4915100000120"
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+"+phone)
	other := pair(t, sim, "+"+phone) // a second linked device stays
	if devs := sim.Devices(phone); len(devs) != 2 {
		t.Fatalf("devices = %v", devs)
	}
	tc.quiesce()
	m := tc.mark()
	if err := sim.Unlink(ctx, tc.jid); err != nil {
		t.Fatal(err)
	}
	lo, _ := waitEvent[*events.LoggedOut](tc, m, nil)
	if lo.OnConnect || lo.Reason != events.ConnectFailureLoggedOut {
		t.Fatalf("LoggedOut = %+v, want OnConnect=false reason 401", lo)
	}
	if devs := sim.Devices(phone); len(devs) != 1 || devs[0] != other.jid {
		t.Fatalf("devices after unlink = %v, want [%s]", devs, other.jid)
	}
	// The account's device list as the other device sees it (usync; despite
	// its doc comment GetUserDevices includes the asking device): the
	// phone and the other device, not the unlinked one.
	listed, err := other.cli.GetUserDevices(ctx, []types.JID{types.NewJID(phone, types.DefaultUserServer)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[types.JID]bool{types.NewJID(phone, types.DefaultUserServer): true, other.jid: true}
	if len(listed) != len(want) || !want[listed[0]] || !want[listed[1]] {
		t.Fatalf("device list seen by the other device = %v, want the phone and %s", listed, other.jid)
	}
	waitSim(t, sim, "socket closed", func() bool { return !sim.Connected(tc.jid) })
	staysDisconnected(t, sim, tc.jid)
	if !sim.Connected(other.jid) {
		t.Fatal("the other device was disconnected")
	}
	// Messages to the account now reach only the remaining device.
	exchange(t, sim, other, "4915100000121", "one device left")
}

// RefuseConnections makes the server answer 503 for a while: after a kick the
// client retries with its backoff (errors×2 s) and gets in once the window
// ends.
func TestRefuseConnectionsBackoff(t *testing.T) {
	t.Parallel()
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915100000130")
	var failed atomic.Int32
	tc.cli.AutoReconnectHook = func(err error) bool {
		failed.Add(1)
		return true
	}
	const window = 2500 * time.Millisecond
	tc.quiesce()
	m := tc.mark()
	start := time.Now()
	sim.RefuseConnections(window)
	if err := sim.Kick(tc.jid); err != nil {
		t.Fatal(err)
	}
	_, m2 := waitEvent[*events.Disconnected](tc, m, nil)
	// Attempts at about 0 s and 2 s are refused, the one at 6 s gets in.
	waitSim(t, sim, "two refused attempts", func() bool { return sim.RefusedConnections() >= 2 })
	if sim.Connected(tc.jid) {
		t.Fatal("connected while refusing")
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := sim.Wait(ctx, func() bool { return sim.Connected(tc.jid) }); err != nil {
		t.Fatal("client did not come back after the window:", err)
	}
	waitEvent[*events.Connected](tc, m2, nil)
	if took := time.Since(start); took < window {
		t.Fatalf("reconnected after %v, inside the %v window", took, window)
	}
	if n := failed.Load(); n < 2 {
		t.Fatalf("whatsmeow reported %d failed reconnects, want ≥ 2", n)
	}
	if n := sim.RefusedConnections(); int(failed.Load()) != n {
		t.Fatalf("client saw %d failed reconnects, server refused %d", failed.Load(), n)
	}
	exchange(t, sim, tc, "4915100000131", "back")
}

// SetClientOutdated makes logins fail with 405 → events.ClientOutdated; the
// client does not retry by itself, and logs in once the server accepts it.
func TestClientOutdated(t *testing.T) {
	t.Parallel()
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915100000140")
	tc.disconnect()
	waitSim(t, sim, "disconnected", func() bool { return !sim.Connected(tc.jid) })

	sim.SetClientOutdated(true)
	m := tc.mark()
	if err := tc.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.ClientOutdated](tc, m, nil)
	if n, ok := sim.LoginAttempts(tc.jid), sim.Logins(tc.jid); n != ok+1 {
		t.Fatalf("%d login attempts, %d logins: want exactly one refused attempt", n, ok)
	}
	staysDisconnected(t, sim, tc.jid)

	sim.SetClientOutdated(false)
	m = tc.mark()
	tc.disconnect()
	if err := tc.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.Connected](tc, m, nil)
	if devs := sim.Devices(tc.jid.User); len(devs) != 1 {
		t.Fatalf("devices = %v: an outdated client must stay linked", devs)
	}
}
