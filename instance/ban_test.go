package instance

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/meowgate/meowgate/event"
)

// A temporary ban fails the instance with its end as until, keeps the queue
// (nothing is sent into the ban) and logs in again by itself after it.
func TestTemporaryBan(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const phone, to = "+4915100000601", "+4915100000602"
	e.connected("ban", phone, `{"send_delay_ms":0}`)
	e.presenceSent("ban")
	e.quiet()
	if err := e.sim.TempBan(phone, 101, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	info := e.waitState("ban", event.StateFailed, event.ReasonTempBanned)
	if left := time.Until(info.Until); left < time.Second || left > 5*time.Second {
		t.Fatalf("until %v is %v away, want about 3s", info.Until, left)
	}
	m := e.send("ban", to, "after the ban")
	time.Sleep(500 * time.Millisecond)
	if got := e.msg("ban", m.ID).Status; got != event.StatusQueued {
		t.Fatalf("message sent into the ban: %s", got)
	}
	if in := e.inbox(to); len(in) != 0 {
		t.Fatalf("contact got %v during the ban", in)
	}
	e.waitState("ban", event.StateConnected, "")
	if !time.Now().After(info.Until) {
		t.Fatalf("logged in again at %v, before the ban's end %v", time.Now(), info.Until)
	}
	e.waitStatus("ban", m.ID, event.StatusSent)
	if in := e.inbox(to); strings.Join(in, ",") != "after the ban" {
		t.Fatalf("contact got %v", in)
	}
	// The state event carried until; the next state has none.
	evs, err := e.m.Events(ctx, info.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var banned, after *event.State
	for _, ev := range evs {
		if ev.Type != event.TypeState {
			continue
		}
		var st event.State
		if err := json.Unmarshal(ev.Data, &st); err != nil {
			t.Fatal(err)
		}
		if st.Reason == event.ReasonTempBanned {
			banned = &st
		} else if banned != nil && after == nil {
			after = &st
		}
	}
	if banned == nil || banned.Until == nil || !banned.Until.Equal(info.Until) {
		t.Fatalf("temporarily_banned event %+v, want until %v", banned, info.Until)
	}
	if after == nil || after.Until != nil || after.Reason != event.ReasonBanExpired {
		t.Fatalf("state after the ban %+v", after)
	}
}

// A permanent ban logs the instance out with the reason WhatsApp gave.
func TestPermanentBan(t *testing.T) {
	for _, tc := range []struct {
		code   int
		reason string
	}{{406, event.ReasonBanned}, {403, event.ReasonLocked}, {401, event.ReasonRemoteLogout}} {
		e := newEnv(t)
		phone := "+49151000006" + string(rune('1'+tc.code%10)) + "0"
		e.connected("perma", phone, "")
		e.presenceSent("perma")
		e.quiet()
		if err := e.sim.PermaBan(phone, tc.code); err != nil {
			t.Fatal(err)
		}
		info := e.waitState("perma", event.StateLoggedOut, tc.reason)
		if info.JID != "" || !info.Until.IsZero() {
			t.Fatalf("%d: logged out instance %+v", tc.code, info)
		}
		e.close()
	}
}

// presenceSent waits until the instance's sender has told WhatsApp its
// presence at login. A ban closes the socket from the server's side, and
// whatsmeow's read pump closing it while that write runs is a data race
// inside the library (FrameSocket.SendFrame against Close) under -race.
func (e *env) presenceSent(name string) {
	e.t.Helper()
	i, err := e.m.lookup(name)
	if err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		sent := make(chan bool, 1)
		i.post(func() {
			ok := false
			if s := i.sender; s != nil {
				s.mu.Lock()
				ok = s.presence != ""
				s.mu.Unlock()
			}
			sent <- ok
		})
		if <-sent {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("%s: no presence sent at login", name)
}
