package instance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/internal/mediatest"
	"github.com/meowgate/meowgate/store"
	"github.com/meowgate/meowgate/wasim"
)

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// entry waits for the contact's inbox entry of a message id.
func (e *env) entry(phone, id string) wasim.InboxMessage {
	e.t.Helper()
	var got wasim.InboxMessage
	e.waitFor("inbox entry "+id, func() bool {
		msgs, err := e.sim.Inbox(phone)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, m := range msgs {
			if m.ID == id {
				got = m
				return true
			}
		}
		return false
	})
	return got
}

// TestSendMedia sends every media type; each contact's phone downloads,
// decrypts and verifies the file and sees the metadata that was sent.
func TestSendMedia(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("m", "+4915100000401", `{"send_delay_ms":0}`)
	to := "+4915100000402"
	jpg := mediatest.JPEG(t, 640, 480)
	ogg := mediatest.Opus(312, []int{40, 60, 120, 160, 120, 60, 40, 40, 40, 40})
	mp4 := mediatest.MP4("isom", 320, 240, 1000, 4000, false, 2000)
	webp := mediatest.WebPVP8(512, 512)
	pdf := []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
	cases := []struct {
		p     SendParams
		data  []byte
		mime  string
		check func(t *testing.T, got wasim.InboxMessage)
	}{
		{SendParams{Type: "image", Caption: "the door", File: bytes.NewReader(jpg)}, jpg, "image/jpeg", func(t *testing.T, got wasim.InboxMessage) {
			if got.Caption != "the door" || got.Width != 640 || got.Height != 480 {
				t.Errorf("image: %+v", got.InboxRich)
			}
		}},
		{SendParams{Type: "audio", PTT: true, Base64: base64.StdEncoding.EncodeToString(ogg)}, ogg, "audio/ogg; codecs=opus", func(t *testing.T, got wasim.InboxMessage) {
			if !got.PTT || got.Seconds == 0 {
				t.Errorf("voice note: %+v", got.InboxRich)
			}
		}},
		{SendParams{Type: "video", Caption: "clip", Base64: base64.StdEncoding.EncodeToString(mp4)}, mp4, "video/mp4", func(t *testing.T, got wasim.InboxMessage) {
			if got.Caption != "clip" || got.Seconds != 4 || got.Width != 320 {
				t.Errorf("video: %+v", got.InboxRich)
			}
		}},
		{SendParams{Type: "document", FileName: "invoice-42.pdf", Caption: "your invoice", File: bytes.NewReader(pdf)}, pdf, "application/pdf", func(t *testing.T, got wasim.InboxMessage) {
			if got.FileName != "invoice-42.pdf" || got.Caption != "your invoice" {
				t.Errorf("document: %+v", got.InboxRich)
			}
		}},
		{SendParams{Type: "sticker", Base64: base64.StdEncoding.EncodeToString(webp)}, webp, "image/webp", nil},
	}
	for _, c := range cases {
		c.p.To = to
		m, _, err := e.m.Send(ctx, "m", c.p, "")
		if err != nil {
			t.Fatalf("%s: %v", c.p.Type, err)
		}
		if m.Media == nil || m.Media.SHA256 != hexSum(c.data) || m.Media.Size != int64(len(c.data)) {
			t.Fatalf("%s: queued media %+v", c.p.Type, m.Media)
		}
		e.waitStatus("m", m.ID, event.StatusSent)
		got := e.entry("4915100000402", m.ID)
		if got.Type != c.p.Type || got.SHA256 != hexSum(c.data) || got.Size != int64(len(c.data)) || got.Mimetype != c.mime {
			t.Errorf("%s: the contact got %+v, want sha %s size %d mime %s", c.p.Type, got.InboxRich, hexSum(c.data), len(c.data), c.mime)
		}
		if c.check != nil {
			c.check(t, got)
		}
		// The sent file stays served until the retention removes it.
		f, err := e.m.OpenMedia(ctx, "m", m.ID)
		if err != nil {
			t.Fatalf("%s: open media: %v", c.p.Type, err)
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if !bytes.Equal(b, c.data) {
			t.Errorf("%s: served file differs", c.p.Type)
		}
	}
	if len(e.sim.MediaFailures("4915100000402")) > 0 {
		t.Errorf("phones could not verify: %+v", e.sim.MediaFailures("4915100000402"))
	}
}

// TestSendRich sends location, contact, poll, reaction and a reply, edits
// and revokes, and collects a vote.
func TestSendRich(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("r", "+4915100000411", `{"send_delay_ms":0}`)
	to, phone := "+4915100000412", "4915100000412"
	send := func(p SendParams) *event.Message {
		t.Helper()
		p.To = to
		m, _, err := e.m.Send(ctx, "r", p, "")
		if err != nil {
			t.Fatalf("%s: %v", p.Type, err)
		}
		e.waitStatus("r", m.ID, event.StatusSent)
		return m
	}
	lat, lon := 52.52, 13.405
	loc := send(SendParams{Type: "location", Latitude: &lat, Longitude: &lon, Name: "Home", Address: "Main St 1"})
	if got := e.entry(phone, loc.ID); got.Location == nil || got.Location.Latitude != lat || got.Location.Name != "Home" {
		t.Errorf("location: %+v", got.InboxRich)
	}
	card := send(SendParams{Type: "contact", Contacts: []event.Contact{{Name: "Plumber", Phone: "+4915100000499"}}})
	if got := e.entry(phone, card.ID); got.Contact == nil || got.Contact.DisplayName != "Plumber" || !strings.Contains(got.Contact.VCard, "waid=4915100000499") {
		t.Errorf("contact: %+v", got.InboxRich)
	}
	text := send(SendParams{Text: "washing machine is done"})
	reply := send(SendParams{Text: "and the dryer", ReplyTo: text.ID})
	if got := e.entry(phone, reply.ID); got.QuotedID != text.ID {
		t.Errorf("reply quotes %q, want %q", got.QuotedID, text.ID)
	}
	thumbs := "👍"
	react := send(SendParams{Type: "reaction", MessageID: text.ID, Emoji: &thumbs})
	if got := e.entry(phone, react.ID); got.Reaction == nil || got.Reaction.MessageID != text.ID || got.Reaction.Emoji != thumbs {
		t.Errorf("reaction: %+v", got.InboxRich)
	}

	// Edit and revoke reach the contact's copy.
	edited, err := e.m.EditMessage(ctx, "r", text.ID, "washing machine is done (40 °C)")
	if err != nil {
		t.Fatal(err)
	}
	if !edited.Edited || edited.Text != "washing machine is done (40 °C)" {
		t.Errorf("edited view: %+v", edited)
	}
	e.waitFor("the contact's copy edited", func() bool {
		got := e.entry(phone, text.ID)
		return got.Edited && got.Text == "washing machine is done (40 °C)"
	})
	if _, err := e.m.RevokeMessage(ctx, "r", reply.ID, false); !errors.Is(err, ErrNotEditable) {
		t.Errorf("revoke without for_everyone: %v", err)
	}
	if v, err := e.m.RevokeMessage(ctx, "r", reply.ID, true); err != nil || !v.Revoked {
		t.Fatalf("revoke: %v %+v", err, v)
	}
	e.waitFor("the contact's copy revoked", func() bool { return e.entry(phone, reply.ID).Revoked })
	if _, err := e.m.EditMessage(ctx, "r", loc.ID, "x"); !errors.Is(err, ErrNotEditable) {
		t.Errorf("edit of a location: %v", err)
	}

	// A poll, and the contact's vote decrypted by the instance.
	poll := send(SendParams{Type: "poll", Question: "Dinner?", Options: []string{"Pizza", "Soup", "Salad"}, Selectable: 2})
	if got := e.entry(phone, poll.ID); got.Poll == nil || got.Poll.Question != "Dinner?" || len(got.Poll.Options) != 3 || got.Poll.Selectable != 2 {
		t.Errorf("poll: %+v", got.InboxRich)
	}
	if _, err := e.sim.Send(ctx, wasim.IncomingSpec{From: to, To: "+4915100000411", Type: "poll_vote", TargetID: poll.ID, Options: []string{"Pizza", "Salad"}}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the vote counted", func() bool {
		p := e.msg("r", poll.ID).Poll
		return p != nil && p.Options[0].Votes == 1 && p.Options[2].Votes == 1 && p.Options[1].Votes == 0
	})
	if p := e.msg("r", poll.ID).Poll; len(p.Options[0].Voters) != 1 || p.Options[0].Voters[0] != to {
		t.Errorf("voters: %+v", p.Options[0])
	}
	if !hasEvent(e, "r", event.TypePollVote) || !hasEvent(e, "r", event.TypeEdited) || !hasEvent(e, "r", event.TypeRevoked) {
		t.Errorf("events: %v", e.eventTypes(e.mustID("r")))
	}
}

func hasEvent(e *env, name, typ string) bool {
	for _, t := range e.eventTypes(e.mustID(name)) {
		if t == typ {
			return true
		}
	}
	return false
}

// TestReceiveMedia: a contact sends media; the instance downloads and
// verifies it, serves it, and after the CDN copy expired gets it again
// through the phone (media retry). Reactions, edits and revokes from the
// contact change the stored message and publish their own events.
func TestReceiveMedia(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("in", "+4915100000421", "")
	from := "+4915100000422"
	jpg := mediatest.JPEG(t, 200, 100)
	id, err := e.sim.Send(ctx, wasim.IncomingSpec{From: from, To: "+4915100000421", Type: "image", Data: jpg, Mimetype: "image/jpeg", Caption: "snapshot", Width: 200, Height: 100})
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor("the image downloaded", func() bool {
		m, err := e.m.Message(ctx, "in", id)
		return err == nil && m.Media != nil && m.Media.Downloaded
	})
	m := e.msg("in", id)
	if m.Type != "image" || m.Media.SHA256 != hexSum(jpg) || m.Media.Caption != "snapshot" || m.Media.Width != 200 || m.Text != "snapshot" {
		t.Errorf("received image: %+v %+v", m, m.Media)
	}
	readAll := func(id string) []byte {
		t.Helper()
		f, err := e.m.OpenMedia(ctx, "in", id)
		if err != nil {
			t.Fatalf("open media %s: %v", id, err)
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		return b
	}
	if !bytes.Equal(readAll(id), jpg) {
		t.Fatal("served file differs from the sent one")
	}

	// Too large for auto_download: fetched on demand; and expired first.
	if _, err := e.m.UpdateSettings(ctx, "in", SettingsPatch{AutoDownload: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	doc := bytes.Repeat([]byte("meowgate "), 5000)
	id2, err := e.sim.Send(ctx, wasim.IncomingSpec{From: from, To: "+4915100000421", Type: "document", Data: doc, Mimetype: "text/plain", FileName: "notes.txt"})
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor("the document stored", func() bool { _, err := e.m.Message(ctx, "in", id2); return err == nil })
	if d := e.msg("in", id2).Media; d == nil || d.Downloaded || d.FileName != "notes.txt" {
		t.Fatalf("not-downloaded document: %+v", d)
	}
	if err := e.sim.ExpireMedia(id2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(id2), doc) {
		t.Fatal("document fetched through media retry differs")
	}

	// A received message is not ours to edit or revoke; another
	// instance does not see it at all.
	if _, err := e.m.EditMessage(ctx, "in", id, "x"); !errors.Is(err, ErrNotEditable) {
		t.Errorf("edit of a received message: %v", err)
	}
	if _, err := e.m.RevokeMessage(ctx, "in", id, true); !errors.Is(err, ErrNotEditable) {
		t.Errorf("revoke of a received message: %v", err)
	}
	if _, _, _, err := e.m.Create(ctx, CreateParams{Name: "other"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.EditMessage(ctx, "other", id, "x"); !errors.Is(err, ErrMessageNotFound) {
		t.Errorf("edit through another instance: %v", err)
	}
	if _, err := e.m.OpenMedia(ctx, "other", id); !errors.Is(err, ErrMessageNotFound) {
		t.Errorf("media through another instance: %v", err)
	}

	// The contact reacts to, edits and revokes its messages.
	text, err := e.sim.Send(ctx, wasim.IncomingSpec{From: from, To: "+4915100000421", Text: "typo"})
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor("text stored", func() bool { _, err := e.m.Message(ctx, "in", text); return err == nil })
	steps := []wasim.IncomingSpec{
		{Type: "reaction", TargetID: id, Emoji: "❤️"},
		{Type: "edit", TargetID: text, Text: "fixed"},
		{Type: "revoke", TargetID: id2},
	}
	for _, s := range steps {
		s.From, s.To = from, "+4915100000421"
		if _, err := e.sim.Send(ctx, s); err != nil {
			t.Fatalf("%s: %v", s.Type, err)
		}
	}
	e.waitFor("changes applied", func() bool {
		img, txt, d := e.msg("in", id), e.msg("in", text), e.msg("in", id2)
		return len(img.Reactions) == 1 && img.Reactions[0].Emoji == "❤️" && img.Reactions[0].From == from &&
			txt.Edited && txt.Text == "fixed" && d.Revoked
	})
	for _, typ := range []string{event.TypeReaction, event.TypeEdited, event.TypeRevoked} {
		if !hasEvent(e, "in", typ) {
			t.Errorf("no %s event", typ)
		}
	}
}

// TestMediaBadInputLeavesNothing: refused media leaves no file and no row;
// a failed or canceled media message loses its staged file.
func TestMediaBadInputLeavesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, _, _, err := e.m.Create(ctx, CreateParams{Name: "bad"}); err != nil {
		t.Fatal(err)
	}
	id := e.mustID("bad")
	dir := filepath.Join(e.dir, "media", id)
	bad := []SendParams{
		{Type: "image", Base64: "not base64!!"},
		{Type: "image", Base64: base64.StdEncoding.EncodeToString([]byte("plain text, not an image"))},
		{Type: "audio", PTT: true, Base64: base64.StdEncoding.EncodeToString(mediatest.Vorbis())},
		{Type: "sticker", Base64: base64.StdEncoding.EncodeToString(mediatest.JPEG(t, 10, 10))},
		{Type: "image", URL: "ftp://example.invalid/a.jpg"},
	}
	for _, p := range bad {
		p.To = "+4915100000431"
		if _, _, err := e.m.Send(ctx, "bad", p, ""); err == nil {
			t.Errorf("%+v accepted", p)
		} else if _, ok := err.(*ValidationError); !ok {
			t.Errorf("%s: %v is not a ValidationError", p.Type, err)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Errorf("bad input left %d files", len(left))
	}
	if list, _ := e.m.Messages(ctx, "bad", store.MessageFilter{}); len(list) != 0 {
		t.Errorf("bad input stored %d messages", len(list))
	}
	// Queued (the instance is not connected), then canceled: the file goes.
	m, _, err := e.m.Send(ctx, "bad", SendParams{To: "+4915100000431", Type: "image", Base64: base64.StdEncoding.EncodeToString(mediatest.PNG(t, 8, 8))}, "")
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 {
		t.Fatalf("staged files: %d, want 1", len(left))
	}
	if v, err := e.m.RevokeMessage(ctx, "bad", m.ID, false); err != nil || v.Status != event.StatusCanceled {
		t.Fatalf("cancel: %v %+v", err, v)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("a canceled message left its file")
	}
}

// TestMediaSweep: the retention removes old files, never one a queued
// message still needs; files without a message go after the grace period.
func TestMediaSweep(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.connected("sw", "+4915100000901", `{"send_delay_ms":0}`)
	png := base64.StdEncoding.EncodeToString(mediatest.PNG(t, 4, 4))
	sent, _, err := e.m.Send(ctx, "sw", SendParams{To: "+4915100000902", Type: "image", Base64: png}, "")
	if err != nil {
		t.Fatal(err)
	}
	e.waitStatus("sw", sent.ID, event.StatusSent)
	later, _, err := e.m.Send(ctx, "sw", SendParams{To: "+4915100000902", Type: "image", Base64: png,
		SendAt: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := e.mustID("sw")
	dir := filepath.Join(e.dir, "media", id)
	orphanOld, orphanNew := filepath.Join(dir, "3EB0ORPHANOLD"), filepath.Join(dir, "3EB0ORPHANNEW")
	for _, p := range []string{orphanOld, orphanNew} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	for _, p := range []string{orphanOld, filepath.Join(dir, sent.ID), filepath.Join(dir, later.ID)} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	db := e.rawDB()
	defer db.Close()
	if _, err := db.Exec(`UPDATE messages SET created_at = ? WHERE instance_id = ?`, old.UnixMilli(), id); err != nil {
		t.Fatal(err)
	}
	if n := e.m.sweepMedia(ctx, time.Hour); n != 2 {
		t.Errorf("swept %d files, want 2 (the old sent one and the old orphan)", n)
	}
	for p, want := range map[string]bool{filepath.Join(dir, sent.ID): false, orphanOld: false, filepath.Join(dir, later.ID): true, orphanNew: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}
