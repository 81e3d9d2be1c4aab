package instance

import (
	"context"
	"encoding/json"
	"testing"

	"go.mau.fi/whatsmeow/types"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/internal/mediatest"
	"github.com/meowgate/meowgate/store"
	"github.com/meowgate/meowgate/wasim"
)

// TestLIDOneChat: a contact writes from its LID chat; the message names it
// by phone and LID and is stored under the phone JID; a reply to the LID
// reaches the contact; the chat is one chat whichever id the client asks
// with.
func TestLIDOneChat(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("lid", "+4915100000701", `{"send_delay_ms":0}`)
	const phone = "+4915100000702"
	pnJID := "4915100000702@s.whatsapp.net"
	first, err := e.sim.Send(ctx, wasim.IncomingSpec{From: phone, To: "+4915100000701", Text: "from my LID", FromLID: true})
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor("the LID message stored", func() bool { _, err := e.m.Message(ctx, "lid", first); return err == nil })
	m := e.msg("lid", first)
	if m.Chat != pnJID || m.Sender == nil || m.Sender.Phone != phone || m.Sender.JID != pnJID || m.Sender.LID == "" {
		t.Fatalf("LID message: chat %s sender %+v", m.Chat, m.Sender)
	}
	lid := m.Sender.LID
	// The same person by phone: the same chat.
	second, err := e.sim.Send(ctx, wasim.IncomingSpec{From: phone, To: "+4915100000701", Text: "from my number"})
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor("the PN message stored", func() bool { _, err := e.m.Message(ctx, "lid", second); return err == nil })
	if m2 := e.msg("lid", second); m2.Chat != pnJID || m2.Sender.LID != lid {
		t.Errorf("PN message: chat %s sender %+v", m2.Chat, m2.Sender)
	}
	// A reply addressed to the LID.
	reply, _, err := e.m.Send(ctx, "lid", SendParams{To: lid, Text: "got it", ReplyTo: first}, "")
	if err != nil {
		t.Fatal(err)
	}
	if reply.Chat != pnJID {
		t.Errorf("a reply to the LID is in chat %s, want %s", reply.Chat, pnJID)
	}
	e.waitStatus("lid", reply.ID, event.StatusSent)
	if got := e.entry("4915100000702", reply.ID); got.Text != "got it" || got.QuotedID != first {
		t.Errorf("the contact got %+v", got)
	}
	for _, q := range []string{lid, phone, pnJID} {
		list, err := e.m.Messages(ctx, "lid", store.MessageFilter{Chat: mustChat(t, q)})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 3 {
			t.Errorf("chat=%s lists %d messages, want 3 (one person, one chat)", q, len(list))
		}
	}
	// Events name the person by both.
	evs, err := e.store.ListEvents(ctx, e.mustID("lid"), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Type != event.TypeMessageReceived {
			continue
		}
		var d event.Message
		_ = json.Unmarshal(ev.Data, &d)
		if d.Sender == nil || d.Sender.Phone != phone || d.Sender.LID != lid {
			t.Errorf("event %d names the sender %+v", ev.ID, d.Sender)
		}
	}
}

func mustChat(t *testing.T, s string) string {
	t.Helper()
	c, err := ChatJID(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestContacts: number checks with LIDs, a contact's profile, blocking,
// and presence events for a subscribed contact.
func TestContacts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("ct", "+4915100000711", "")
	const shop = "+4915100000712"
	pic := mediatest.JPEG(t, 64, 64)
	if err := e.sim.SetProfile("4915100000712", wasim.Profile{PushName: "Bakery", About: "Fresh bread daily", Picture: pic,
		Business: &wasim.BusinessProfile{Name: "Bakery Ltd", Address: "Main St 2", Email: "hi@bakery.example", Categories: []string{"Food"}}}); err != nil {
		t.Fatal(err)
	}
	res, err := e.m.CheckContacts(ctx, "ct", []string{shop, "+9995550000002"})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].OnWhatsApp || res[0].JID != "4915100000712@s.whatsapp.net" || res[0].LID == "" || res[1].OnWhatsApp {
		t.Errorf("check: %+v", res)
	}
	c, err := e.m.Contact(ctx, "ct", shop)
	if err != nil {
		t.Fatal(err)
	}
	if c.About != "Fresh bread daily" || c.PictureURL == "" || c.Business == nil || c.Business.Name != "Bakery Ltd" || c.Business.Email != "hi@bakery.example" || c.LID != res[0].LID {
		t.Errorf("contact: %+v business %+v", c, c.Business)
	}
	// A LID resolves to the phone.
	byLID, err := e.m.Contact(ctx, "ct", res[0].LID)
	if err != nil || byLID.Phone != shop {
		t.Errorf("contact by LID: %+v %v", byLID, err)
	}

	// Presence of a subscribed contact, and its typing.
	if err := e.m.SubscribePresence(ctx, "ct", shop); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetPresence("4915100000712", true); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetChatState("4915100000712", "4915100000711", "composing"); err != nil {
		t.Fatal(err)
	}
	e.waitFor("presence events", func() bool {
		var avail, typing bool
		evs, _ := e.store.ListEvents(ctx, e.mustID("ct"), 0, 200)
		for _, ev := range evs {
			if ev.Type != event.TypePresence {
				continue
			}
			var p event.Presence
			_ = json.Unmarshal(ev.Data, &p)
			avail = avail || (p.State == PresenceAvailable && p.From.Phone == shop)
			typing = typing || (p.State == PresenceComposing && p.From.Phone == shop)
		}
		return avail && typing
	})

	// Blocked: the contact's messages are not delivered.
	if c, err := e.m.Block(ctx, "ct", shop, true); err != nil || !c.Blocked {
		t.Fatalf("block: %+v %v", c, err)
	}
	if c, _ := e.m.Contact(ctx, "ct", shop); !c.Blocked {
		t.Error("contact not shown blocked")
	}
	if _, err := e.sim.Send(ctx, wasim.IncomingSpec{From: shop, To: "+4915100000711", Text: "spam"}); err != nil {
		t.Fatal(err)
	}
	if e.sim.BlockedDrops("4915100000711") != 1 {
		t.Errorf("blocked drops: %d", e.sim.BlockedDrops("4915100000711"))
	}
	if _, err := e.m.Block(ctx, "ct", shop, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.CheckContacts(ctx, "ct", make([]string, 51)); err == nil {
		t.Error("a check of 51 numbers accepted")
	}
	if _, err := e.m.Contact(ctx, "ct", "120363000000000001@g.us"); err == nil {
		t.Error("a group as a contact accepted")
	}
	_ = types.EmptyJID
}
