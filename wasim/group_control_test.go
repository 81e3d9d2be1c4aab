package wasim

import (
	"context"
	"errors"
	"testing"

	"go.mau.fi/whatsmeow/types"
)

// A contact's second device added through the control API (as a benchmark
// in another process does) is in the device list a linked client fetches.
func TestRemoteAddContactDevice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915300000400")
	ctl := Remote(sim.Addr())
	dev, err := ctl.AddContactDevice(ctx, "+4915300000401")
	if err != nil {
		t.Fatal(err)
	}
	if dev.User != "4915300000401" || dev.Device == 0 {
		t.Fatalf("new device %s", dev)
	}
	devs, err := tc.cli.GetUserDevices(ctx, []types.JID{pnJID("4915300000401")})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range devs {
		found = found || d == dev
	}
	if len(devs) != 2 || !found {
		t.Fatalf("devices %v, want the phone and %s", devs, dev)
	}
	if _, err := ctl.AddContactDevice(ctx, "not a number"); !errors.Is(err, ErrBadPhoneNumber) {
		t.Fatalf("bad number: %v", err)
	}
}
