package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/meowgate/meowgate/client"
)

// testPNG is a real 64×48 PNG image.
func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 0x80, 0xff})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// waitInbox polls the contact's inbox until the message id is there and ok.
func waitInbox(t *testing.T, ctx context.Context, c *client.Client, phone, id string, ok func(client.InboxMessage) bool) client.InboxMessage {
	t.Helper()
	var last []client.InboxMessage
	for {
		inbox, err := c.SandboxInbox(ctx, phone)
		if err != nil {
			t.Fatalf("inbox of %s: %v", phone, err)
		}
		last = inbox
		for _, m := range inbox {
			if m.ID == id && ok(m) {
				return m
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("inbox of %s: message %s not as wanted: %+v", phone, id, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitStatus polls a message until its status is one of want.
func waitStatus(t *testing.T, ctx context.Context, c *client.Client, name, id string, want ...string) *client.Message {
	t.Helper()
	for {
		m, err := c.Message(ctx, name, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if m.Status == w {
				return m
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("message %s still %s, want %v", id, m.Status, want)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// failingReader gives some bytes, then an error.
type failingReader struct{ n int }

var errDisk = errors.New("disk read error")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errDisk
	}
	n := min(len(p), f.n)
	for i := range n {
		p[i] = 'x'
	}
	f.n -= n
	return n, nil
}

// TestSendFileEditRevokeMedia: an image uploaded through SendFile (a
// streamed multipart body) reaches the simulated contact intact; Media
// returns the same bytes; a sent text is edited and the image revoked on
// the contact's phone; the wrong calls are typed errors.
func TestSendFileEditRevokeMedia(t *testing.T) {
	c, _ := newServer(t, nil)
	ctx := testCtx(t)
	if _, err := c.CreateInstance(ctx, client.CreateInstanceRequest{Name: "pic", Connect: true,
		Settings: map[string]any{"send_delay_ms": 0}}); err != nil {
		t.Fatal(err)
	}
	link(t, ctx, c, "pic", "+4915100000801")
	const to = "+4915100000802"
	pic := testPNG(t)
	sum := sha256.Sum256(pic)
	want := hex.EncodeToString(sum[:])

	// Only an io.Reader: nothing the transport could size or seek.
	req := client.SendRequest{To: to, Type: client.MsgImage, Caption: "a cat", IdempotencyKey: "up-1"}
	msg, err := c.SendFile(ctx, "pic", req, "cat.png", struct{ io.Reader }{bytes.NewReader(pic)})
	if err != nil {
		t.Fatal(err)
	}
	if msg.Type != client.MsgImage || msg.Replayed || msg.Media == nil || msg.Media.SHA256 != want ||
		msg.Media.Mimetype != "image/png" || msg.Media.Caption != "a cat" || msg.Media.Width != 64 || msg.Media.Height != 48 {
		t.Fatalf("sent: %+v media %+v", msg, msg.Media)
	}
	again, err := c.SendFile(ctx, "pic", req, "cat.png", bytes.NewReader(pic))
	if err != nil || again.ID != msg.ID || !again.Replayed {
		t.Fatalf("retried upload: %v %+v", err, again)
	}
	got := waitInbox(t, ctx, c, to, msg.ID, func(m client.InboxMessage) bool { return true })
	if got.Type != client.MsgImage || got.SHA256 != want || got.Size != int64(len(pic)) || got.Caption != "a cat" || got.Mimetype != "image/png" {
		t.Fatalf("the contact received: %+v", got)
	}

	rc, ct, err := c.Media(ctx, "pic", msg.ID)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || ct != "image/png" || !bytes.Equal(body, pic) {
		t.Fatalf("media: %v %q, %d bytes, want %d", err, ct, len(body), len(pic))
	}

	// A sent text is edited on the contact's phone; the image revoked.
	txt, err := c.Send(ctx, "pic", client.SendRequest{To: to, Text: "teh order shipped"})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, ctx, c, "pic", txt.ID, client.StatusSent, client.StatusDelivered, client.StatusRead)
	edited, err := c.EditMessage(ctx, "pic", txt.ID, "the order shipped")
	if err != nil || edited.Text != "the order shipped" || !edited.Edited {
		t.Fatalf("edit: %v %+v", err, edited)
	}
	waitInbox(t, ctx, c, to, txt.ID, func(m client.InboxMessage) bool { return m.Edited && m.Text == "the order shipped" })
	revoked, err := c.RevokeMessage(ctx, "pic", msg.ID, true)
	if err != nil || !revoked.Revoked {
		t.Fatalf("revoke: %v %+v", err, revoked)
	}
	waitInbox(t, ctx, c, to, msg.ID, func(m client.InboxMessage) bool { return m.Revoked })

	// A location with its coordinates as pointers (0 is a coordinate).
	lat, lon := 0.0, 13.3777
	loc, err := c.Send(ctx, "pic", client.SendRequest{To: to, Type: client.MsgLocation, Latitude: &lat, Longitude: &lon, Name: "Null Island-ish"})
	if err != nil || loc.Location == nil || loc.Location.Longitude != lon {
		t.Fatalf("location: %v %+v", err, loc)
	}
	gl := waitInbox(t, ctx, c, to, loc.ID, func(client.InboxMessage) bool { return true })
	if gl.Type != client.MsgLocation || gl.Location == nil || gl.Location.Latitude != 0 || gl.Location.Longitude != lon || gl.Location.Name != "Null Island-ish" {
		t.Fatalf("the contact's location: %+v %+v", gl, gl.Location)
	}

	// Typed errors.
	var ae *client.Error
	if _, err := c.EditMessage(ctx, "pic", msg.ID, "x"); !errors.As(err, &ae) || ae.Status != 409 || ae.Code != client.CodeNotEditable {
		t.Errorf("editing an image: %#v", err)
	}
	if _, _, err := c.Media(ctx, "pic", txt.ID); !errors.As(err, &ae) || ae.Status != 404 || ae.Code != client.CodeNotFound {
		t.Errorf("media of a text: %#v", err)
	}
	_, err = c.SendFile(ctx, "pic", client.SendRequest{To: to, Type: client.MsgImage}, "notes.txt", strings.NewReader("plain text, not an image"))
	if !errors.As(err, &ae) || ae.Status != 422 || ae.Code != client.CodeInvalid || len(ae.Fields) == 0 {
		t.Errorf("a text file as an image: %#v", err)
	}
	if _, err := c.SendFile(ctx, "pic", client.SendRequest{To: to, Type: client.MsgImage, Base64: "AAAA"}, "x.png", bytes.NewReader(pic)); err == nil {
		t.Error("SendFile with base64 too: no error")
	}
	// A file that fails to read fails the upload; nothing is queued.
	before, err := c.Messages(ctx, "pic", client.MessageQuery{Direction: "out", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SendFile(ctx, "pic", client.SendRequest{To: to, Type: client.MsgDocument}, "big.bin", &failingReader{n: 1 << 20})
	if err == nil || !errors.Is(err, errDisk) && !strings.Contains(err.Error(), errDisk.Error()) {
		t.Errorf("a failing file: %v", err)
	}
	after, err := c.Messages(ctx, "pic", client.MessageQuery{Direction: "out", Limit: 100})
	if err != nil || len(after) != len(before) {
		t.Errorf("after a failed upload: %v, %d messages, was %d", err, len(after), len(before))
	}
}
