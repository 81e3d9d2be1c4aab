package webhook_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/internal/mediatest"
	"github.com/meowgate/meowgate/store"
	"github.com/meowgate/meowgate/wasim"
	"github.com/meowgate/meowgate/webhook"
)

// A real instance linked through wasim, with an Evolution-format webhook:
// the QR, the link, a received text and image, a sent text and its receipt
// arrive in Evolution's shapes, built from the events the gateway really
// writes.
func TestEvolutionRealInstance(t *testing.T) {
	ctx := context.Background()
	sim, err := wasim.New(ctx, wasim.Options{DeliveryDelay: 10 * time.Millisecond, ReadDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "meowgate.db"), testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m, err := instance.NewManager(ctx, instance.Options{Store: st, Log: testLog(), HTTPClient: sim.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sim.Wait(ctx, sim.Idle) // settle before closing sockets
	})
	w, err := webhook.New(webhook.Options{Store: st, Manager: m, Log: testLog(), ServerURL: evoServer,
		BackoffBase: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)

	rc := newReceiver(t, nil)
	info, _, _, err := m.Create(ctx, instance.CreateParams{Name: "evo", Webhook: webhookPatch(hook(rc.srv.URL,
		map[string]any{"format": instance.FormatEvolution, "include_media": true}))})
	if err != nil {
		t.Fatal(err)
	}
	const phone, peer = "+4915100000701", "+4915100000702"
	own, peerJID := phone[1:]+"@s.whatsapp.net", peer[1:]+"@s.whatsapp.net"
	if _, err := m.Connect(ctx, "evo"); err != nil {
		t.Fatal(err)
	}
	qctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	qr, err := m.WaitQR(qctx, "evo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Scan(ctx, qr.Code, phone); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connected", func() bool {
		i, err := m.Get("evo")
		return err == nil && i.State == event.StateConnected
	})

	textID, err := sim.Send(ctx, wasim.IncomingSpec{From: peer, To: phone, PushName: "Ana", Text: "hi there"})
	if err != nil {
		t.Fatal(err)
	}
	img := mediatest.JPEG(t, 120, 90)
	imgID, err := sim.Send(ctx, wasim.IncomingSpec{From: peer, To: phone, PushName: "Ana", Type: "image", Data: img,
		Mimetype: "image/jpeg", Caption: "doorbell"})
	if err != nil {
		t.Fatal(err)
	}
	sent, _, err := m.Send(ctx, "evo", instance.SendParams{To: peer, Text: "hello back"}, "")
	if err != nil {
		t.Fatal(err)
	}

	// Evolution bodies by event name, then by message id where there is one.
	find := func(name, msgID string) map[string]any {
		for _, q := range rc.requests() {
			var b map[string]any
			if json.Unmarshal(q.body, &b) != nil || b["event"] != name {
				continue
			}
			if msgID == "" || get(b, "data", "key", "id") == msgID || get(b, "data", "keyId") == msgID {
				return b
			}
		}
		return nil
	}
	var open, qrb, text, image, sendMsg, update map[string]any
	waitFor(t, "every Evolution delivery", func() bool {
		qrb, text, image = find("qrcode.updated", ""), find("messages.upsert", textID), find("messages.upsert", imgID)
		sendMsg, update = find("send.message", sent.ID), find("messages.update", sent.ID)
		open = nil
		for _, q := range rc.requests() {
			var b map[string]any
			if json.Unmarshal(q.body, &b) == nil && b["event"] == "connection.update" && get(b, "data", "state") == "open" {
				open = b
			}
		}
		return qrb != nil && text != nil && image != nil && sendMsg != nil && update != nil && open != nil
	})

	if get(qrb, "data", "qrcode", "code") != qr.Code {
		t.Errorf("qrcode.updated %v, want code %q", qrb["data"], qr.Code)
	}
	if open["sender"] != own || get(open, "data", "wuid") != own || get(open, "data", "statusReason") != float64(200) {
		t.Errorf("connection.update open: %s", mustJSON(t, open))
	}
	d := text["data"]
	if text["sender"] != own || get(d, "key", "remoteJid") != peerJID || get(d, "key", "fromMe") != false ||
		get(d, "pushName") != "Ana" || get(d, "message", "conversation") != "hi there" || get(d, "messageType") != "conversation" ||
		get(d, "instanceId") != info.ID || get(d, "status") != "DELIVERY_ACK" {
		t.Errorf("received text: %s", mustJSON(t, text))
	}
	d = image["data"]
	raw, _ := base64.StdEncoding.DecodeString(stringOf(get(d, "message", "base64")))
	if get(d, "messageType") != "imageMessage" || get(d, "message", "imageMessage", "caption") != "doorbell" ||
		get(d, "message", "imageMessage", "mimetype") != "image/jpeg" || !bytes.Equal(raw, img) {
		t.Errorf("received image: type %v, imageMessage %v, base64 %d bytes (want %d)",
			get(d, "messageType"), get(d, "message", "imageMessage"), len(raw), len(img))
	}
	d = sendMsg["data"]
	if get(d, "key", "fromMe") != true || get(d, "key", "remoteJid") != peerJID || get(d, "message", "conversation") != "hello back" {
		t.Errorf("send.message: %s", mustJSON(t, sendMsg))
	}
	if get(update, "data", "status") != "DELIVERY_ACK" || get(update, "data", "remoteJid") != peerJID {
		t.Errorf("messages.update: %s", mustJSON(t, update))
	}
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}
