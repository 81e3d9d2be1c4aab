package instance

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

func TestRejectCalls(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("c", "+4915100000201", `{"reject_calls":true,"reject_call_message":"I can't take calls","send_delay_ms":0}`)
	callID, err := e.sim.CallOffer(ctx, "+4915100000202", "+4915100000201")
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor("call rejected", func() bool {
		for _, r := range e.sim.CallRejects("+4915100000201") {
			if r.CallID == callID {
				return true
			}
		}
		return false
	})
	e.waitFor("reject message delivered", func() bool {
		in := e.inbox("+4915100000202")
		return len(in) == 1 && in[0] == "I can't take calls"
	})
	evs, _ := e.m.Events(ctx, e.mustID("c"), 0, 1000)
	found := false
	for _, ev := range evs {
		if ev.Type == event.TypeCallReceived {
			var d map[string]any
			_ = json.Unmarshal(ev.Data, &d)
			found = d["call_id"] == callID && d["rejected"] == true && d["from"] == "+4915100000202"
		}
	}
	if !found {
		t.Fatal("no call.received event with rejected=true")
	}

	// Without reject_calls the call is only reported.
	if _, err := e.m.UpdateSettings(ctx, "c", *settingsPatch(t, `{"reject_calls":false}`)); err != nil {
		t.Fatal(err)
	}
	call2, _ := e.sim.CallOffer(ctx, "+4915100000203", "+4915100000201")
	e.waitFor("second call event", func() bool {
		evs, _ := e.m.Events(ctx, e.mustID("c"), 0, 1000)
		for _, ev := range evs {
			var d map[string]any
			_ = json.Unmarshal(ev.Data, &d)
			if ev.Type == event.TypeCallReceived && d["call_id"] == call2 {
				return d["rejected"] == false
			}
		}
		return false
	})
	if n := len(e.sim.CallRejects("+4915100000201")); n != 1 {
		t.Fatalf("%d rejects, want 1", n)
	}
}

func TestIgnoreGroupsAndBroadcasts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("g", "+4915100000211", `{"ignore_groups":true,"ignore_broadcasts":true}`)
	const group = "120363000000000001@g.us"
	if _, err := e.sim.GroupMessage(ctx, group, "+4915100000212", "+4915100000211", "group hi", "Gus"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sim.StatusUpdate(ctx, "+4915100000212", "+4915100000211", "my status", "Gus"); err != nil {
		t.Fatal(err)
	}
	// A direct message after them proves the earlier ones were processed.
	last, err := e.sim.Incoming(ctx, "+4915100000212", "+4915100000211", "direct", "Gus")
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor("direct message", func() bool { _, err := e.m.Message(ctx, "g", last); return err == nil })
	list, _ := e.m.Messages(ctx, "g", store.MessageFilter{})
	if len(list) != 1 {
		t.Fatalf("stored %d messages, want only the direct one", len(list))
	}

	// With the settings off, both are stored and published.
	if _, err := e.m.UpdateSettings(ctx, "g", *settingsPatch(t, `{"ignore_groups":false,"ignore_broadcasts":false,"read_status":true}`)); err != nil {
		t.Fatal(err)
	}
	gid, _ := e.sim.GroupMessage(ctx, group, "+4915100000212", "+4915100000211", "group again", "Gus")
	sid, _ := e.sim.StatusUpdate(ctx, "+4915100000212", "+4915100000211", "status again", "Gus")
	e.waitFor("group and status stored", func() bool {
		g, err1 := e.m.Message(ctx, "g", gid)
		s, err2 := e.m.Message(ctx, "g", sid)
		return err1 == nil && err2 == nil && g.Chat == group && s.Chat == "status@broadcast"
	})
	// read_status marks the status seen.
	e.waitFor("status read receipt", func() bool {
		for _, r := range e.sim.ReceiptsSent("+4915100000211") {
			if r.Type == "read" && contains(r.IDs, sid) {
				return true
			}
		}
		return false
	})
}

func TestAlwaysOnlineAndMarkReadOnReply(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("o", "+4915100000221", `{"always_online":true,"mark_read_on_reply":true,"send_delay_ms":0}`)
	e.waitFor("available presence", func() bool {
		p := e.sim.Presences("+4915100000221")
		return len(p) > 0 && p[len(p)-1].Type == "available"
	})
	if _, err := e.m.UpdateSettings(ctx, "o", *settingsPatch(t, `{"always_online":false}`)); err != nil {
		t.Fatal(err)
	}
	e.waitFor("unavailable presence", func() bool {
		p := e.sim.Presences("+4915100000221")
		return len(p) > 0 && p[len(p)-1].Type == "unavailable"
	})

	in, _ := e.sim.Incoming(ctx, "+4915100000222", "+4915100000221", "question?", "Q")
	e.waitFor("incoming", func() bool { _, err := e.m.Message(ctx, "o", in); return err == nil })
	for _, r := range e.sim.ReceiptsSent("+4915100000221") {
		if r.Type == "read" {
			t.Fatal("read before replying, with mark_read off")
		}
	}
	reply, _, err := e.m.Send(ctx, "o", SendParams{To: "+4915100000222", Text: "answer", ReplyTo: in}, "")
	if err != nil {
		t.Fatal(err)
	}
	e.waitStatus("o", reply.ID, event.StatusSent)
	e.waitFor("read on reply", func() bool {
		for _, r := range e.sim.ReceiptsSent("+4915100000221") {
			if r.Type == "read" && contains(r.IDs, in) {
				return true
			}
		}
		return false
	})
	// The store records the read mark after WhatsApp has it.
	e.waitFor("incoming message read", func() bool { return e.msg("o", in).Status == event.StatusRead })
}

// sync_full_history and the device name travel in the registration payload
// the phone sees at pairing.
func TestPairingPayload(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, c := range []struct {
		name, device string
		full         bool
	}{{"full", "Kitchen Pi", true}, {"plain", "", false}} {
		p := CreateParams{Name: c.name, DeviceName: c.device, Connect: true,
			Settings: &SettingsPatch{SyncFullHistory: &c.full}}
		if _, _, _, err := e.m.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		jid := e.link(c.name, "")
		props := e.sim.DeviceProps(jid)
		if props == nil {
			t.Fatalf("%s: simulator saw no device props", c.name)
		}
		wantOS := c.device
		if wantOS == "" {
			wantOS = "meowgate"
		}
		if props.GetOs() != wantOS || props.GetRequireFullSync() != c.full {
			t.Fatalf("%s: props os=%q full=%v, want %q %v", c.name, props.GetOs(), props.GetRequireFullSync(), wantOS, c.full)
		}
	}
}

// Messages written on the phone show up as message.echo.
func TestEcho(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("echo", "+4915100000231", "")
	id, err := e.sim.PhoneSend(ctx, "+4915100000231", "+4915100000232", "sent from the phone")
	if err != nil {
		t.Fatal(err)
	}
	var m *event.Message
	e.waitFor("echo stored", func() bool {
		var err error
		m, err = e.m.Message(ctx, "echo", id)
		return err == nil
	})
	if m.Direction != "out" || m.Text != "sent from the phone" || m.Chat != "4915100000232@s.whatsapp.net" {
		t.Fatalf("echo %+v", m)
	}
	if !contains(e.eventTypes(e.mustID("echo")), event.TypeMessageEcho) {
		t.Fatal("no message.echo event")
	}
}
