package webhook_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/store"
	"github.com/meowgate/meowgate/webhook"
)

// Webhooks with format "evolution" get Evolution API v2's bodies (and, with
// by_events, its per-event URLs) over the same worker: these tests check
// the shapes against what Evolution 2.3.x posts.

const evoServer = "http://gw.test:8080"

var isoMillis = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func evoEnv(t *testing.T) *env {
	return newEnv(t, func(o *webhook.Options) { o.ServerURL = evoServer + "/" })
}

// bodyOf decodes the last POST of an event.
func bodyOf(t *testing.T, rc *receiver, eventID int64) (map[string]any, request) {
	t.Helper()
	var last *request
	for _, q := range rc.requests() {
		if q.delivery == id(eventID) {
			last = &q
		}
	}
	if last == nil {
		t.Fatalf("event %d was not POSTed", eventID)
	}
	var b map[string]any
	if err := json.Unmarshal(last.body, &b); err != nil {
		t.Fatalf("event %d: body %s: %v", eventID, last.body, err)
	}
	return b, *last
}

// get walks a decoded JSON value by keys.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func messageJSON(t *testing.T, m event.Message) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEvolutionMessagesUpsert(t *testing.T) {
	e := evoEnv(t)
	rc := newReceiver(t, nil)
	ins := e.create("evo", hook(rc.srv.URL, map[string]any{"format": instance.FormatEvolution, "include_media": true, "secret": "s3"}))
	ctx := context.Background()
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	peer := "4915100000602@s.whatsapp.net"

	textID := "3EB0AABBCCDDEEFF001122" // whatsmeow's form: Baileys calls it web
	evText := e.event(ins, event.TypeMessageReceived, messageJSON(t, event.Message{
		ID: textID, Instance: "evo", Direction: "in", From: peer, Chat: peer, Type: event.MsgText, Text: "hello",
		Summary: json.RawMessage(`{"push_name":"Ana"}`), Status: event.StatusReceived, CreatedAt: at, UpdatedAt: at,
	}))

	// A received image whose file is kept: base64 (webhookBase64) inlines it.
	img := bytes.Repeat([]byte("jpeg-bytes"), 300)
	sum := sha256.Sum256(img)
	imgID := "3A0123456789ABCDEF01"
	md := &event.Media{Mimetype: "image/jpeg", Size: int64(len(img)), SHA256: hex.EncodeToString(sum[:]), Caption: "doorbell",
		Width: 120, Height: 90, Downloaded: true, URL: instance.MediaPath("evo", imgID)}
	if err := os.MkdirAll(filepath.Join(e.dir, "media", ins), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "media", ins, imgID), img, 0o644); err != nil {
		t.Fatal(err)
	}
	content, _ := json.Marshal(map[string]any{"media": md})
	msg := &store.Message{InstanceID: ins, ID: imgID, Direction: "in", Chat: peer, Sender: peer, Type: event.MsgImage,
		Text: "doorbell", Summary: json.RawMessage(`{"push_name":"Ana"}`), Content: content, Status: event.StatusReceived, CreatedAt: at}
	data := messageJSON(t, event.Message{ID: imgID, Instance: "evo", Direction: "in", From: peer, Chat: peer, Type: event.MsgImage,
		Text: "doorbell", Summary: json.RawMessage(`{"push_name":"Ana"}`), Media: md, Status: event.StatusReceived, CreatedAt: at, UpdatedAt: at})
	if _, err := e.st.StoreMessage(ctx, msg, event.TypeMessageReceived, json.RawMessage(data)); err != nil {
		t.Fatal(err)
	}
	evs, err := e.st.ListEvents(ctx, ins, evText, 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("image event: %v %v", evs, err)
	}
	evImg := evs[0].ID
	e.waitStatus(ins, evImg, store.DeliveryDelivered)

	b, req := bodyOf(t, rc, evText)
	for k, want := range map[string]any{"event": "messages.upsert", "instance": "evo", "destination": rc.srv.URL, "server_url": evoServer} {
		if b[k] != want {
			t.Errorf("%s = %v, want %v", k, b[k], want)
		}
	}
	if v, ok := b["apikey"]; !ok || v != nil {
		t.Errorf("apikey = %v (present %v), want null", v, ok)
	}
	if _, ok := b["sender"]; ok {
		t.Errorf("sender %v on an instance never linked", b["sender"])
	}
	if s, _ := b["date_time"].(string); !isoMillis.MatchString(s) {
		t.Errorf("date_time %q", s)
	}
	if req.path != "/" || req.header.Get("X-Meowgate-Event") != event.TypeMessageReceived ||
		!strings.HasPrefix(req.header.Get("X-Meowgate-Signature"), "t=") {
		t.Errorf("POST %s with headers %v", req.path, req.header)
	}
	d := b["data"]
	wantKey := map[string]any{"remoteJid": peer, "fromMe": false, "id": textID}
	if k, _ := get(d, "key").(map[string]any); !mapsEqual(k, wantKey) {
		t.Errorf("key %v, want %v", get(d, "key"), wantKey)
	}
	checks := map[string]any{"pushName": "Ana", "messageType": "conversation", "status": "DELIVERY_ACK",
		"messageTimestamp": float64(at.Unix()), "instanceId": ins, "source": "web"}
	for k, want := range checks {
		if got := get(d, k); got != want {
			t.Errorf("data.%s = %v, want %v", k, got, want)
		}
	}
	if m, _ := get(d, "message").(map[string]any); len(m) != 1 || m["conversation"] != "hello" {
		t.Errorf("data.message %v", get(d, "message"))
	}

	b, _ = bodyOf(t, rc, evImg)
	d = b["data"]
	if get(d, "messageType") != "imageMessage" || get(d, "source") != "ios" || get(d, "key", "id") != imgID {
		t.Errorf("image data %v", d)
	}
	im := get(d, "message", "imageMessage")
	for k, want := range map[string]any{"caption": "doorbell", "mimetype": "image/jpeg", "url": evoServer + md.URL,
		"fileSha256": base64.StdEncoding.EncodeToString(sum[:]), "fileLength": "3000", "width": float64(120), "height": float64(90)} {
		if got := get(im, k); got != want {
			t.Errorf("imageMessage.%s = %v, want %v", k, got, want)
		}
	}
	s, _ := get(d, "message", "base64").(string)
	if raw, err := base64.StdEncoding.DecodeString(s); err != nil || !bytes.Equal(raw, img) {
		t.Errorf("message.base64: %d bytes, %v", len(raw), err)
	}
}

func mapsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Status changes, state changes and QR codes map to messages.update,
// connection.update and qrcode.updated; events Evolution has no
// counterpart for are never queued, and the order holds.
func TestEvolutionUpdatesConnectionAndQR(t *testing.T) {
	e := evoEnv(t)
	rc := newReceiver(t, nil)
	ins := e.create("evo", hook(rc.srv.URL, map[string]any{"format": instance.FormatEvolution}))
	peer := "4915100000602@s.whatsapp.net"
	at := time.Now().UTC()
	status := func(st string) string {
		return mustJSON(t, event.MessageStatus{ID: "3EB0M1", Chat: peer, Status: st, At: at})
	}
	state := func(st, prev, reason string) string {
		return mustJSON(t, event.State{Connection: instance.Connection(st), Previous: prev, Reason: reason, Since: at, State: st})
	}
	evDelivered := e.event(ins, event.TypeMessageStatus, status(event.StatusDelivered))
	evExpired := e.event(ins, event.TypeMessageStatus, status(event.StatusExpired))
	evStarting := e.event(ins, event.TypeState, state(event.StateStarting, event.StateDisconnected, event.ReasonUserRequest))
	evScan := e.event(ins, event.TypeState, state(event.StateScanQR, event.StateStarting, ""))
	evQR := e.event(ins, event.TypeQR, mustJSON(t, event.QR{Code: "2@abc,def,ghi", ExpiresAt: at.Add(time.Minute)}))
	evOpen := e.event(ins, event.TypeState, state(event.StateConnected, event.StateScanQR, event.ReasonPaired))
	evClose := e.event(ins, event.TypeState, state(event.StateDisconnected, event.StateConnected, event.ReasonNetwork))
	evCall := e.event(ins, event.TypeCallReceived, `{"call_id":"c1"}`)
	evRead := e.event(ins, event.TypeMessageStatus, status(event.StatusRead))
	e.waitStatus(ins, evRead, store.DeliveryDelivered)
	e.waitCursor(ins, evRead)

	want := []string{id(evDelivered), id(evStarting), id(evQR), id(evOpen), id(evClose), id(evRead)}
	if got := rc.order(); !slices.Equal(got, want) {
		t.Errorf("POSTed %v, want %v", got, want)
	}
	ds, err := e.st.ListWebhookDeliveries(context.Background(), ins, "", store.MaxDeliveryLimit)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.EventID == evExpired || d.EventID == evScan || d.EventID == evCall {
			t.Errorf("event %d (no Evolution counterpart) queued: %+v", d.EventID, d)
		}
	}

	b, _ := bodyOf(t, rc, evDelivered)
	wantUpd := map[string]any{"keyId": "3EB0M1", "remoteJid": peer, "fromMe": true, "status": "DELIVERY_ACK", "instanceId": ins}
	if d, _ := b["data"].(map[string]any); b["event"] != "messages.update" || !mapsEqual(d, wantUpd) {
		t.Errorf("status: %v %v, want data %v", b["event"], b["data"], wantUpd)
	}
	if b, _ := bodyOf(t, rc, evRead); get(b, "data", "status") != "READ" {
		t.Errorf("read: %v", b["data"])
	}
	for _, c := range []struct {
		ev     int64
		state  string
		reason float64
	}{{evStarting, "connecting", 200}, {evOpen, "open", 200}, {evClose, "close", 408}} {
		b, _ := bodyOf(t, rc, c.ev)
		if b["event"] != "connection.update" || get(b, "data", "instance") != "evo" ||
			get(b, "data", "state") != c.state || get(b, "data", "statusReason") != c.reason {
			t.Errorf("event %d: %v %v, want %s %v", c.ev, b["event"], b["data"], c.state, c.reason)
		}
	}
	b, _ = bodyOf(t, rc, evQR)
	q := get(b, "data", "qrcode")
	if b["event"] != "qrcode.updated" || get(q, "instance") != "evo" || get(q, "code") != "2@abc,def,ghi" {
		t.Errorf("qr: %v %v", b["event"], b["data"])
	}
	if v, ok := q.(map[string]any)["pairingCode"]; !ok || v != nil {
		t.Errorf("pairingCode %v (present %v), want null", v, ok)
	}
	s, _ := get(q, "base64").(string)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "data:image/png;base64,"))
	if !strings.HasPrefix(s, "data:image/png;base64,") || err != nil {
		t.Fatalf("qr base64 %.40q: %v", s, err)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Errorf("qr base64 is not a PNG: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// by_events posts each event to URL/<event-name>, keeping the URL's query;
// destination stays the configured URL, as in Evolution.
func TestEvolutionByEvents(t *testing.T) {
	e := evoEnv(t)
	rc := newReceiver(t, nil)
	url := rc.srv.URL + "/hook/?k=v"
	ins := e.create("evo", hook(url, map[string]any{"format": instance.FormatEvolution, "by_events": true}))
	peer := "4915100000602@s.whatsapp.net"
	at := time.Now().UTC()
	sentAt := at.Add(time.Second)
	evIn := e.event(ins, event.TypeMessageReceived, messageJSON(t, event.Message{ID: "IN1", Direction: "in", From: peer, Chat: peer,
		Type: event.MsgText, Text: "hi", CreatedAt: at}))
	evSent := e.event(ins, event.TypeMessageSent, messageJSON(t, event.Message{ID: "OUT1", Direction: "out", To: peer, Chat: peer,
		Type: event.MsgText, Text: "hello back", ReplyTo: "IN1", Status: event.StatusSent, CreatedAt: at, SentAt: &sentAt}))
	evStatus := e.event(ins, event.TypeMessageStatus, mustJSON(t, event.MessageStatus{ID: "OUT1", Chat: peer, Status: event.StatusDelivered, At: at}))
	evState := e.event(ins, event.TypeState, mustJSON(t, event.State{Previous: event.StateCreated, State: event.StateStarting, Since: at}))
	evQR := e.event(ins, event.TypeQR, mustJSON(t, event.QR{Code: "2@x"}))
	e.waitStatus(ins, evQR, store.DeliveryDelivered)

	for ev, path := range map[int64]string{evIn: "/hook/messages-upsert?k=v", evSent: "/hook/send-message?k=v",
		evStatus: "/hook/messages-update?k=v", evState: "/hook/connection-update?k=v", evQR: "/hook/qrcode-updated?k=v"} {
		b, req := bodyOf(t, rc, ev)
		if req.path != path || b["destination"] != url {
			t.Errorf("event %d (%v) POSTed to %s with destination %v, want %s", ev, b["event"], req.path, b["destination"], path)
		}
	}
	b, _ := bodyOf(t, rc, evSent)
	d := b["data"]
	if b["event"] != "send.message" || get(d, "key", "fromMe") != true || get(d, "key", "remoteJid") != peer ||
		get(d, "status") != "SERVER_ACK" || get(d, "message", "conversation") != "hello back" ||
		get(d, "contextInfo", "stanzaId") != "IN1" || get(d, "messageTimestamp") != float64(sentAt.Unix()) {
		t.Errorf("send.message data %v", d)
	}
	if v, ok := d.(map[string]any)["pushName"]; !ok || v != nil {
		t.Errorf("pushName %v (present %v) without a push name, want null", v, ok)
	}
}

// Retries and order are the worker's own; a delivery queued in meowgate's
// format whose webhook turned Evolution before it went out is sent in the
// new shape, or recorded delivered without a POST when Evolution has no
// counterpart, and the queue goes on.
func TestEvolutionRetriesAndFormatSwitch(t *testing.T) {
	e := evoEnv(t)
	var first string
	rc := newReceiver(t, func(w http.ResponseWriter, delivery string, n int) int {
		if delivery == first {
			return 500
		}
		return 200
	})
	ins := e.create("evo", hook(rc.srv.URL, nil))
	peer := "4915100000602@s.whatsapp.net"
	text := func(id, s string) string {
		return messageJSON(t, event.Message{ID: id, Direction: "in", From: peer, Chat: peer, Type: event.MsgText, Text: s, CreatedAt: time.Now()})
	}
	rc.mu.Lock()
	evA := e.event(ins, event.TypeMessageReceived, text("A1", "a"))
	first = id(evA)
	rc.mu.Unlock()
	evCall := e.event(ins, event.TypeCallReceived, `{"call_id":"c1"}`)
	evB := e.event(ins, event.TypeMessageReceived, text("B1", "b"))
	e.waitStatus(ins, evA, store.DeliveryFailed)
	e.delivery(ins, evCall)
	e.delivery(ins, evB)

	if _, err := e.m.Update(context.Background(), "evo", instance.UpdateParams{Webhook: webhookPatch(map[string]any{"format": instance.FormatEvolution})}); err != nil {
		t.Fatal(err)
	}
	// An attempt of A may be on its way with the old shape: the next one
	// is refused too, so the one accepted was built after the switch.
	refused := rc.count(evA) + 1
	rc.setRespond(func(w http.ResponseWriter, delivery string, n int) int {
		if delivery == first && n <= refused {
			return 500
		}
		return 200
	})
	e.waitStatus(ins, evB, store.DeliveryDelivered)

	if n := rc.count(evA); n < 2 {
		t.Errorf("event A POSTed %d times, want retries", n)
	}
	if b, _ := bodyOf(t, rc, evA); b["event"] != "messages.upsert" || get(b, "data", "message", "conversation") != "a" {
		t.Errorf("A delivered as %s", mustJSON(t, b))
	}
	if n := rc.count(evCall); n != 0 {
		t.Errorf("call.received POSTed %d times to an Evolution webhook", n)
	}
	dc := e.delivery(ins, evCall)
	if dc.Status != store.DeliveryDelivered || !strings.Contains(dc.LastResponse, "no Evolution API counterpart") {
		t.Errorf("skipped delivery %+v", dc)
	}
	var order []string
	for _, q := range rc.requests() {
		if q.status == 200 {
			order = append(order, q.delivery)
		}
	}
	if want := []string{id(evA), id(evB)}; !slices.Equal(order, want) {
		t.Errorf("delivered %v, want %v", order, want)
	}
}

// Once linked, sender is the instance's own JID (without its device) and
// connection.update open carries the account, as Evolution's wuid.
func TestEvolutionSenderAndAccount(t *testing.T) {
	e := evoEnv(t)
	rc := newReceiver(t, nil)
	ins := e.create("evo", hook(rc.srv.URL, map[string]any{"format": instance.FormatEvolution}))
	e.closeAll()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(e.dir, "meowgate.db"), testLog())
	if err != nil {
		t.Fatal(err)
	}
	row, err := st.GetInstance(ctx, ins)
	if err != nil {
		t.Fatal(err)
	}
	row.JID, row.PushName = "4915100000601:7@s.whatsapp.net", "Gate"
	if err := st.UpdateInstance(ctx, row); err != nil {
		t.Fatal(err)
	}
	st.Close()
	e.open()
	e.startWorker()

	own := "4915100000601@s.whatsapp.net"
	peer := "4915100000602@s.whatsapp.net"
	evOpen := e.event(ins, event.TypeState, mustJSON(t, event.State{Previous: event.StateStarting, State: event.StateConnected, Reason: event.ReasonLoggedIn}))
	evEcho := e.event(ins, event.TypeMessageEcho, messageJSON(t, event.Message{ID: "E1", Direction: "out", To: peer, Chat: peer,
		Type: event.MsgText, Text: "from the phone", CreatedAt: time.Now()}))
	e.waitStatus(ins, evEcho, store.DeliveryDelivered)

	b, _ := bodyOf(t, rc, evOpen)
	d := b["data"]
	if b["sender"] != own || get(d, "state") != "open" || get(d, "wuid") != own || get(d, "profileName") != "Gate" {
		t.Errorf("open: sender %v data %v", b["sender"], d)
	}
	b, _ = bodyOf(t, rc, evEcho)
	if b["event"] != "messages.upsert" || b["sender"] != own || get(b, "data", "key", "fromMe") != true || get(b, "data", "pushName") != "Gate" {
		t.Errorf("echo: %s", mustJSON(t, b))
	}
}

// EvolutionTypes covers exactly the types evolutionEvent delivers, under
// both spellings of Evolution's names.
func TestEvolutionTypes(t *testing.T) {
	cover := map[string]string{}
	for _, name := range []string{"MESSAGES_UPSERT", "messages.update", "SEND_MESSAGE", "connection.update", "QRCODE_UPDATED"} {
		types := webhook.EvolutionTypes(name)
		if len(types) == 0 {
			t.Errorf("EvolutionTypes(%q) is empty", name)
		}
		for _, typ := range types {
			cover[typ] = name
		}
	}
	for _, name := range []string{"CHATS_UPSERT", "presence.update", "", "MESSAGES"} {
		if got := webhook.EvolutionTypes(name); got != nil {
			t.Errorf("EvolutionTypes(%q) = %v, want nil", name, got)
		}
	}
	if len(cover) != 7 {
		t.Errorf("types covered %v", cover)
	}
}
