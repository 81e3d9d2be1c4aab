package instance

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// waitFor polls cond whenever an event is committed (and at least every
// 50 ms) until it holds.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		ch := e.m.EventsNotify()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			e.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (e *env) msg(name, id string) *event.Message {
	e.t.Helper()
	m, err := e.m.Message(context.Background(), name, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

var forward = map[string]int{"queued": 1, "sending": 2, "sent": 3, "delivered": 4, "read": 5, "played": 6}

// waitStatus waits until the message has status, or for the forward
// statuses (sent, delivered, read) a later one: receipts may overtake the
// recording of the server ack.
func (e *env) waitStatus(name, id, status string) *event.Message {
	e.t.Helper()
	var m *event.Message
	e.waitFor("message "+id+" "+status, func() bool {
		m = e.msg(name, id)
		if r := forward[status]; r >= forward["sent"] {
			return forward[m.Status] >= r
		}
		return m.Status == status
	})
	return m
}

func (e *env) connected(name, phone string, settings string) {
	e.t.Helper()
	p := CreateParams{Name: name, Connect: true}
	if settings != "" {
		p.Settings = settingsPatch(e.t, settings)
	}
	if _, _, _, err := e.m.Create(context.Background(), p); err != nil {
		e.t.Fatal(err)
	}
	e.link(name, phone)
}

func (e *env) send(name, to, text string) *event.Message {
	e.t.Helper()
	m, _, err := e.m.Send(context.Background(), name, SendParams{To: to, Text: text}, "")
	if err != nil {
		e.t.Fatal(err)
	}
	if m.Status != event.StatusQueued {
		e.t.Fatalf("new message is %s", m.Status)
	}
	return m
}

func (e *env) inbox(phone string) []string {
	msgs, err := e.sim.Inbox(phone)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		if !m.Echo {
			out = append(out, m.Text)
		}
	}
	return out
}

func statuses(m *event.Message) string {
	var s []string
	for _, h := range m.StatusHistory {
		s = append(s, h.Status)
	}
	return strings.Join(s, ",")
}

func TestSendStatuses(t *testing.T) {
	e := newEnv(t)
	e.connected("s", "+4915100000101", `{"send_delay_ms":0}`)
	m := e.send("s", "+4915100000102", "hello")
	got := e.waitStatus("s", m.ID, event.StatusRead)
	if h := statuses(got); h != "queued,sending,sent,delivered,read" {
		t.Fatalf("status history %s", h)
	}
	if got.SentAt == nil || got.Chat != "4915100000102@s.whatsapp.net" {
		t.Fatalf("sent message %+v", got)
	}
	if in := e.inbox("+4915100000102"); len(in) != 1 || in[0] != "hello" {
		t.Fatalf("contact inbox %v", in)
	}
	types := e.eventTypes(got.ID[:0] + e.mustID("s"))
	for _, want := range []string{event.TypeMessageSent, event.TypeMessageStatus} {
		if !contains(types, want) {
			t.Fatalf("no %s event in %v", want, types)
		}
	}

	// Not on WhatsApp: fails with a clear error, nothing delivered.
	bad := e.send("s", "+9995550001", "anyone?")
	failed := e.waitStatus("s", bad.ID, event.StatusFailed)
	if !strings.Contains(failed.Error, "not on WhatsApp") {
		t.Fatalf("error %q", failed.Error)
	}
	if in := e.inbox("+9995550001"); len(in) != 0 {
		t.Fatalf("+999 inbox %v", in)
	}
	e.waitFor("counts", func() bool {
		info, _ := e.m.Get("s")
		return info.Counts.Messages == 2 && info.Counts.Pending == 0
	})
}

func (e *env) mustID(name string) string {
	info, err := e.m.Get(name)
	if err != nil {
		e.t.Fatal(err)
	}
	return info.ID
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestQueueWhileDisconnectedAndOrder(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("q", "+4915100000111", `{"send_delay_ms":0}`)
	if _, err := e.quiet().Disconnect(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, text := range []string{"one", "two", "three"} {
		ids = append(ids, e.send("q", "+4915100000112", text).ID)
	}
	queue, err := e.m.Queue(ctx, "q")
	if err != nil || len(queue) != 3 || queue[0].ID != ids[0] {
		t.Fatalf("queue %v %v", queue, err)
	}
	if _, err := e.m.Connect(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("q", ids[2], event.StatusRead)
	if in := e.inbox("+4915100000112"); strings.Join(in, ",") != "one,two,three" {
		t.Fatalf("order %v", in)
	}
}

func TestPacingScheduleExpiryCancel(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("p", "+4915100000121", `{"send_delay_ms":300,"send_jitter_ms":100,"typing_simulation":true}`)
	a := e.send("p", "+4915100000122", "a")
	b := e.send("p", "+4915100000122", "b")
	e.waitStatus("p", a.ID, event.StatusSent)
	e.waitStatus("p", b.ID, event.StatusSent)
	// WhatsApp's ack timestamps (sent_at) have whole seconds: measure the
	// spacing where the contact received them.
	in, err := e.sim.Inbox("+4915100000122")
	if err != nil || len(in) != 2 {
		t.Fatalf("inbox %+v %v", in, err)
	}
	if gap := in[1].ReceivedAt.Sub(in[0].ReceivedAt); gap < 290*time.Millisecond {
		t.Fatalf("sends %v apart, want ≥ send_delay_ms", gap)
	}
	states := e.sim.ChatStates("+4915100000121")
	if len(states) < 2 || states[0].State != "composing" || states[1].State != "paused" {
		t.Fatalf("typing simulation: %+v", states)
	}

	// send_at holds a message back until its time.
	at := time.Now().Add(700 * time.Millisecond).UTC()
	sched, _, err := e.m.Send(ctx, "p", SendParams{To: "+4915100000122", Text: "later", SendAt: at.Format(time.RFC3339Nano)}, "")
	if err != nil {
		t.Fatal(err)
	}
	got := e.waitStatus("p", sched.ID, event.StatusSent)
	if got.SentAt.Before(at.Truncate(time.Second)) {
		t.Fatalf("sent at %v before send_at %v", got.SentAt, at)
	}

	// queue_ttl: a message still queued after it expires.
	if _, err := e.quiet().Disconnect(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.UpdateSettings(ctx, "p", *settingsPatch(t, `{"queue_ttl":"1s"}`)); err != nil {
		t.Fatal(err)
	}
	old := e.send("p", "+4915100000122", "stale")
	keep := e.send("p", "+4915100000122", "keep")
	n, err := e.m.CancelQueue(ctx, "p")
	if err != nil || n != 2 {
		t.Fatalf("cancel: %d %v", n, err)
	}
	if m := e.msg("p", keep.ID); m.Status != event.StatusCanceled {
		t.Fatalf("canceled message is %s", m.Status)
	}
	_ = old
	exp := e.send("p", "+4915100000122", "expires")
	time.Sleep(1100 * time.Millisecond) // let the TTL pass while disconnected
	if _, err := e.m.Connect(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("p", exp.ID, event.StatusExpired)
	for _, txt := range e.inbox("+4915100000122") {
		if txt == "expires" || txt == "keep" || txt == "stale" {
			t.Fatalf("%q was delivered", txt)
		}
	}
}

func TestIdempotencyAndCrashResend(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("i", "+4915100000131", `{"send_delay_ms":0}`)
	first, replay, err := e.m.Send(ctx, "i", SendParams{To: "+4915100000132", Text: "once"}, "key-1")
	if err != nil || replay {
		t.Fatal(err, replay)
	}
	again, replay, err := e.m.Send(ctx, "i", SendParams{To: "+4915100000132", Text: "once"}, "key-1")
	if err != nil || !replay || again.ID != first.ID {
		t.Fatalf("retried POST: %v %v %v", again, replay, err)
	}
	e.waitStatus("i", first.ID, event.StatusRead)

	// A crash after WhatsApp accepted the message but before meowgate
	// recorded it: the message is sent again with the same id on restart,
	// and the contact sees it once.
	e.close()
	db := e.rawDB()
	if _, err := db.Exec(`UPDATE messages SET status = 'sending' WHERE id = ?`, first.ID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	e.open()
	e.waitFor("resend", func() bool { return e.sim.Duplicates("+4915100000131", first.ID) == 1 })
	if in := e.inbox("+4915100000132"); len(in) != 1 {
		t.Fatalf("contact saw %v", in)
	}
}

func TestReceive(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("r", "+4915100000141", `{"mark_read":true}`)
	id, err := e.sim.Incoming(ctx, "+4915100000142", "+4915100000141", "ping", "Ann")
	if err != nil {
		t.Fatal(err)
	}
	var got *event.Message
	e.waitFor("received message", func() bool {
		m, err := e.m.Message(ctx, "r", id)
		got = m
		return err == nil
	})
	if got.Direction != "in" || got.Text != "ping" || got.From != "4915100000142@s.whatsapp.net" || !strings.Contains(string(got.Summary), `"push_name":"Ann"`) {
		t.Fatalf("received %+v", got)
	}
	if !contains(e.eventTypes(e.mustID("r")), event.TypeMessageReceived) {
		t.Fatal("no message.received event")
	}
	// mark_read: WhatsApp saw a read receipt for it.
	e.waitFor("read receipt", func() bool {
		for _, r := range e.sim.ReceiptsSent("+4915100000141") {
			if r.Type == "read" && contains(r.IDs, id) {
				return true
			}
		}
		return false
	})
	list, err := e.m.Messages(ctx, "r", store.MessageFilter{Direction: "in"})
	if err != nil || len(list) != 1 {
		t.Fatalf("history %v %v", list, err)
	}
}

func TestHundredPacedInOrder(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("h", "+4915100000151", `{"send_delay_ms":50}`)
	var last *event.Message
	for n := range 100 {
		last = e.send("h", "+4915100000152", fmt.Sprintf("m%03d", n))
	}
	e.waitStatus("h", last.ID, event.StatusDelivered)
	msgs, err := e.sim.Inbox("+4915100000152")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 100 {
		t.Fatalf("contact got %d messages", len(msgs))
	}
	for n, m := range msgs {
		if want := fmt.Sprintf("m%03d", n); m.Text != want {
			t.Fatalf("message %d is %q, want %q", n, m.Text, want)
		}
		if n > 0 {
			// Received times are taken by the simulator, after the server
			// handled each send; sends are paced at least 50 ms apart.
			if gap := m.ReceivedAt.Sub(msgs[n-1].ReceivedAt); gap < 45*time.Millisecond {
				t.Fatalf("messages %d and %d arrived %v apart", n-1, n, gap)
			}
		}
	}
	_ = ctx
}

func TestSendBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, _, _, err := e.m.Create(ctx, CreateParams{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		p     SendParams
		field string
	}{
		{SendParams{To: "+4915100000161", Text: ""}, "text"},
		{SendParams{To: "+4915100000161", Text: strings.Repeat("x", MaxTextLength+1)}, "text"},
		{SendParams{To: "015100000161", Text: "x"}, "to"},
		{SendParams{To: "+12", Text: "x"}, "to"},
		{SendParams{To: "4915100000161:3@s.whatsapp.net", Text: "x"}, "to"},
		{SendParams{To: "", Text: "x"}, "to"},
		{SendParams{To: "+4915100000161", Text: "x", Type: "gif"}, "type"},
		{SendParams{To: "+4915100000161", Type: "image"}, "url"},
		{SendParams{To: "+4915100000161", Type: "image", URL: "http://x/a.jpg", Base64: "AAAA"}, "url"},
		{SendParams{To: "+4915100000161", Type: "image", Base64: "AAAA", Caption: strings.Repeat("c", 1025)}, "caption"},
		{SendParams{To: "+4915100000161", Type: "image", Base64: "AAAA", PTT: true}, "ptt"},
		{SendParams{To: "+4915100000161", Type: "document", Base64: "AAAA", FileName: "../etc/passwd"}, "file_name"},
		{SendParams{To: "+4915100000161", Type: "text", Text: "x", Caption: "c"}, "caption"},
		{SendParams{To: "+4915100000161", Type: "location", Longitude: ptr(1.0)}, "latitude"},
		{SendParams{To: "+4915100000161", Type: "location", Latitude: ptr(91.0), Longitude: ptr(1.0)}, "latitude"},
		{SendParams{To: "+4915100000161", Type: "contact"}, "contacts"},
		{SendParams{To: "+4915100000161", Type: "contact", Contacts: []event.Contact{{Name: "A", Phone: "123"}}}, "contacts[0].phone"},
		{SendParams{To: "+4915100000161", Type: "contact", VCard: "hello"}, "vcard"},
		{SendParams{To: "+4915100000161", Type: "reaction", MessageID: "3EB0NOPE", Emoji: ptr("👍")}, "message_id"},
		{SendParams{To: "+4915100000161", Type: "reaction", MessageID: "3EB0NOPE"}, "emoji"},
		{SendParams{To: "+4915100000161", Type: "poll", Question: "q", Options: []string{"a"}}, "options"},
		{SendParams{To: "+4915100000161", Type: "poll", Question: "q", Options: []string{"a", "a"}}, "options"},
		{SendParams{To: "+4915100000161", Type: "poll", Question: "q", Options: []string{"a", "b"}, Selectable: 3}, "selectable"},
		{SendParams{To: "+4915100000161", Type: "poll", Options: []string{"a", "b"}}, "question"},
		{SendParams{To: "+4915100000161", Text: "x", Mentions: []string{"nobody"}}, "mentions"},
		{SendParams{To: "+4915100000161", Text: "x", SendAt: "tomorrow"}, "send_at"},
		{SendParams{To: "+4915100000161", Text: "x", SendAt: "2020-01-01T00:00:00Z"}, "send_at"},
		{SendParams{To: "+4915100000161", Text: "x", ReplyTo: "3EB0NOPE"}, "reply_to"},
	}
	for _, c := range cases {
		_, _, err := e.m.Send(ctx, "b", c.p, "")
		ve, ok := err.(*ValidationError)
		if !ok || ve.Fields[c.field] == "" {
			t.Errorf("%+v: error %v, want a problem with %s", c.p, err, c.field)
		}
	}
	if list, _ := e.m.Messages(ctx, "b", store.MessageFilter{}); len(list) != 0 {
		t.Fatalf("bad input stored %d messages", len(list))
	}
	url := "http://127.0.0.1:1/hook"
	_, err := e.m.Update(ctx, "b", UpdateParams{Webhook: &WebhookPatch{URL: &url, Headers: map[string]string{"X-Meowgate-Signature": "t=1,v1=00"}}})
	if ve, ok := err.(*ValidationError); !ok || ve.Fields["webhook.headers.X-Meowgate-Signature"] == "" {
		t.Fatalf("forged signature header accepted: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
