package wasim

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// The version page answers whatsmeow.GetLatestVersion, and a minimum
// version refuses older logins with 405 (read from the login payload's
// UserAgent.AppVersion, which store.SetWAVersion alone does not change).
func TestVersionPageAndMinVersion(t *testing.T) {
	t.Parallel()
	sim := newSim(t, Options{})
	ctx := context.Background()
	v, err := whatsmeow.GetLatestVersion(ctx, sim.HTTPClient())
	if err != nil || v.String() != "2.3000.1031080782" {
		t.Fatalf("default version %v, %v", v, err)
	}
	sim.SetLatestRevision(1031999999)
	if v, err = whatsmeow.GetLatestVersion(ctx, sim.HTTPClient()); err != nil || v.String() != "2.3000.1031999999" {
		t.Fatalf("version %v, %v", v, err)
	}
	if err := sim.SetMinClientVersion("2.3000.x"); err == nil {
		t.Fatal("bad version accepted")
	}
	tc := pair(t, sim, "+4915100000150")
	tc.disconnect()
	waitSim(t, sim, "disconnected", func() bool { return !sim.Connected(tc.jid) })
	if err := sim.SetMinClientVersion("2.3000.1031999999"); err != nil {
		t.Fatal(err)
	}
	m := tc.mark()
	if err := tc.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.ClientOutdated](tc, m, nil)
	if err := sim.SetMinClientVersion(""); err != nil {
		t.Fatal(err)
	}
	m = tc.mark()
	tc.disconnect()
	if err := tc.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.Connected](tc, m, nil)
}

// TempBan drops the account's connections and refuses logins with 402, a
// code and the seconds left (events.TemporaryBan); afterwards logins pass.
// PermaBan refuses them with the given reason (events.LoggedOut).
func TestBans(t *testing.T) {
	t.Parallel()
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915100000151")
	m := tc.mark()
	if err := sim.TempBan("+4915100000151", 101, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	ban, _ := waitEvent(tc, m, func(*events.TemporaryBan) bool { return true })
	if ban.Code != events.TempBanSentToTooManyPeople || ban.Expire < 2*time.Second || ban.Expire > 3*time.Second {
		t.Fatalf("ban %+v", ban)
	}
	staysDisconnected(t, sim, tc.jid)
	time.Sleep(ban.Expire + 500*time.Millisecond)
	m = tc.mark()
	tc.disconnect()
	if err := tc.cli.Connect(); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.Connected](tc, m, nil)

	m = tc.mark()
	if err := sim.PermaBan("+4915100000151", 406); err != nil {
		t.Fatal(err)
	}
	out, _ := waitEvent(tc, m, func(*events.LoggedOut) bool { return true })
	if !out.OnConnect || out.Reason != events.ConnectFailureUnknownLogout {
		t.Fatalf("logged out %+v", out)
	}
	if err := sim.PermaBan("+4915100000151", 500); err == nil {
		t.Fatal("a 500 ban was accepted")
	}
}

// A restricted account gets 463 for DMs to people who never wrote to it,
// and not for those who did.
func TestRestrict(t *testing.T) {
	t.Parallel()
	sim := newSim(t, Options{})
	ctx := context.Background()
	tc := pair(t, sim, "+4915100000152")
	if _, err := sim.Incoming(ctx, "4915100000153", "4915100000152", "hi", "Known"); err != nil {
		t.Fatal(err)
	}
	sim.Restrict("+4915100000152", "463", time.Minute)
	send := func(to string) error {
		_, err := tc.cli.SendMessage(ctx, types.NewJID(to, types.DefaultUserServer), &waE2E.Message{Conversation: proto.String("x")})
		return err
	}
	if err := send("4915100000153"); err != nil {
		t.Fatalf("to a known contact: %v", err)
	}
	if err := send("4915100000154"); !errors.Is(err, whatsmeow.ErrServerReturnedError) || err.Error() != "server returned error 463" {
		t.Fatalf("to a stranger: %v", err)
	}
}
