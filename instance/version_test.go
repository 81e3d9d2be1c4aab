package instance

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	wastore "go.mau.fi/whatsmeow/store"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// openWith opens the env's store and a Manager with opts changed by edit.
func (e *env) openWith(edit func(*Options)) {
	e.t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(e.dir, "meowgate.db"), testLog())
	if err != nil {
		e.t.Fatal(err)
	}
	opts := Options{Store: st, Log: testLog(), HTTPClient: e.sim.HTTPClient()}
	edit(&opts)
	m, err := NewManager(context.Background(), opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.store, e.m = st, m
}

// WhatsApp starts refusing the compiled-in version with 405: meowgate
// fetches the current version from the version page, logs the refused
// instance in again with it, records it, and after a restart logs in with
// the stored version without fetching a newer one.
func TestClientVersionSelfUpdate(t *testing.T) {
	e := newEnv(t)
	e.close()
	auto := func(o *Options) { o.ClientVersion = ClientVersionAuto }
	e.openWith(auto)
	ctx := context.Background()
	e.connected("ver", "+4915100000701", "")
	compiled := wastore.GetWAVersion()
	const newRev = 1031999999
	want := "2.3000.1031999999"
	e.sim.SetLatestRevision(newRev)
	if err := e.sim.SetMinClientVersion(want); err != nil {
		t.Fatal(err)
	}
	if _, err := e.quiet().Restart(ctx, "ver"); err != nil {
		t.Fatal(err)
	}
	e.waitState("ver", event.StateFailed, event.ReasonClientOutdated)
	e.waitState("ver", event.StateStarting, event.ReasonClientVersionUpdated)
	info := e.waitState("ver", event.StateConnected, "")
	evs, err := e.m.Events(ctx, info.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got []event.ClientVersion
	for _, ev := range evs {
		if ev.Type == event.TypeClientVersion {
			var cv event.ClientVersion
			if err := json.Unmarshal(ev.Data, &cv); err != nil {
				t.Fatal(err)
			}
			got = append(got, cv)
		}
	}
	if len(got) != 1 || got[0].Version != want || got[0].Previous != compiled.String() || !got[0].Reconnecting {
		t.Fatalf("system.client_version events %+v", got)
	}
	if v, _ := e.store.Meta(ctx, versionMetaKey); v != want {
		t.Fatalf("stored version %q", v)
	}

	// A restart logs in with the stored version even though the page now
	// names an older one (which is not applied).
	e.close()
	e.sim.SetLatestRevision(compiled[2])
	e.openWith(auto)
	e.waitState("ver", event.StateConnected, "")
	if v := e.m.currentVersion().String(); v != want {
		t.Fatalf("after restart the version is %s", v)
	}
	evs, err = e.m.Events(ctx, info.ID, evs[len(evs)-1].ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Type == event.TypeState && json.Valid(ev.Data) {
			var st event.State
			_ = json.Unmarshal(ev.Data, &st)
			if st.Reason == event.ReasonClientOutdated {
				t.Fatalf("refused as outdated after the restart: %s", ev.Data)
			}
		}
	}
}

// A pinned version is used as given; "off" keeps whatsmeow's own; a bad
// one is refused.
func TestClientVersionPinAndValidation(t *testing.T) {
	for _, bad := range []string{"2.3000", "latest", "2.3000.x", "0.0.0", "2.3000.99999999999"} {
		if ValidClientVersion(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"", "auto", "off", "2.3000.1031999999"} {
		if err := ValidClientVersion(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
	e := newEnv(t)
	e.close()
	e.openWith(func(o *Options) { o.ClientVersion = "2.3000.1031999998" })
	if err := e.sim.SetMinClientVersion("2.3000.1031999998"); err != nil {
		t.Fatal(err)
	}
	e.connected("pin", "+4915100000702", "")
	if _, err := e.quiet().Restart(context.Background(), "pin"); err != nil {
		t.Fatal(err)
	}
	e.waitState("pin", event.StateConnected, "")
}
