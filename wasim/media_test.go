package wasim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// inboxEntry waits until the phone of contact has the message id.
func inboxEntry(t *testing.T, sim *Server, contact, id string, ok func(InboxMessage) bool) InboxMessage {
	t.Helper()
	var got InboxMessage
	waitSim(t, sim, "inbox entry "+id, func() bool {
		in, _ := sim.Inbox(contact)
		for _, m := range in {
			if m.ID == id && (ok == nil || ok(m)) {
				got = m
				return true
			}
		}
		return false
	})
	return got
}

// A linked device uploads each kind of media over the simulated CDN and
// sends it; the contact's phone downloads, verifies and decrypts it, and
// its inbox has the file's exact hash, size and metadata.
func TestMediaToContact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const contact = "4915200000001"
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915200000000")
	to := types.NewJID(contact, types.DefaultUserServer)
	tests := []struct {
		typ   string
		size  int
		build func(r whatsmeow.UploadResponse) *waE2E.Message
		want  InboxRich
	}{
		{"image", 70_001, func(r whatsmeow.UploadResponse) *waE2E.Message {
			return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{URL: &r.URL, DirectPath: &r.DirectPath, MediaKey: r.MediaKey,
				FileEncSHA256: r.FileEncSHA256, FileSHA256: r.FileSHA256, FileLength: &r.FileLength,
				Mimetype: proto.String("image/png"), Caption: proto.String("a cat"), Width: proto.Uint32(640), Height: proto.Uint32(480)}}
		}, InboxRich{Type: "image", Mimetype: "image/png", Caption: "a cat", Width: 640, Height: 480}},
		{"video", 200_000, func(r whatsmeow.UploadResponse) *waE2E.Message {
			return &waE2E.Message{VideoMessage: &waE2E.VideoMessage{DirectPath: &r.DirectPath, MediaKey: r.MediaKey,
				FileEncSHA256: r.FileEncSHA256, FileSHA256: r.FileSHA256, FileLength: &r.FileLength,
				Mimetype: proto.String("video/mp4"), Seconds: proto.Uint32(12), Caption: proto.String("clip")}}
		}, InboxRich{Type: "video", Mimetype: "video/mp4", Seconds: 12, Caption: "clip"}},
		{"ptt", 4_096, func(r whatsmeow.UploadResponse) *waE2E.Message {
			return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{URL: &r.URL, DirectPath: &r.DirectPath, MediaKey: r.MediaKey,
				FileEncSHA256: r.FileEncSHA256, FileSHA256: r.FileSHA256, FileLength: &r.FileLength,
				Mimetype: proto.String("audio/ogg; codecs=opus"), PTT: proto.Bool(true), Seconds: proto.Uint32(3)}}
		}, InboxRich{Type: "audio", Mimetype: "audio/ogg; codecs=opus", PTT: true, Seconds: 3}},
		{"document", 16, func(r whatsmeow.UploadResponse) *waE2E.Message {
			return &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{URL: &r.URL, DirectPath: &r.DirectPath, MediaKey: r.MediaKey,
				FileEncSHA256: r.FileEncSHA256, FileSHA256: r.FileSHA256, FileLength: &r.FileLength,
				Mimetype: proto.String("application/pdf"), FileName: proto.String("report.pdf"), Caption: proto.String("Q3")}}
		}, InboxRich{Type: "document", Mimetype: "application/pdf", FileName: "report.pdf", Caption: "Q3"}},
		{"sticker", 1_000, func(r whatsmeow.UploadResponse) *waE2E.Message {
			return &waE2E.Message{StickerMessage: &waE2E.StickerMessage{URL: &r.URL, DirectPath: &r.DirectPath, MediaKey: r.MediaKey,
				FileEncSHA256: r.FileEncSHA256, FileSHA256: r.FileSHA256, FileLength: &r.FileLength,
				Mimetype: proto.String("image/webp"), Width: proto.Uint32(512), Height: proto.Uint32(512)}}
		}, InboxRich{Type: "sticker", Mimetype: "image/webp", Width: 512, Height: 512}},
	}
	mediaTypes := map[string]whatsmeow.MediaType{"image": whatsmeow.MediaImage, "video": whatsmeow.MediaVideo,
		"ptt": whatsmeow.MediaAudio, "document": whatsmeow.MediaDocument, "sticker": whatsmeow.MediaImage}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			data := randomBytes(t, tt.size)
			up, err := tc.cli.Upload(ctx, data, mediaTypes[tt.typ])
			if err != nil {
				t.Fatal(err)
			}
			resp, err := tc.cli.SendMessage(ctx, to, tt.build(up))
			if err != nil {
				t.Fatal(err)
			}
			got := inboxEntry(t, sim, contact, resp.ID, nil)
			want := tt.want
			want.Size, want.SHA256 = int64(len(data)), hexSHA(data)
			if !reflect.DeepEqual(got.InboxRich, want) {
				t.Fatalf("inbox entry\n got %+v\nwant %+v", got.InboxRich, want)
			}
		})
	}
	if f := sim.MediaFailures(""); len(f) != 0 {
		t.Fatalf("media failures: %+v", f)
	}
}

// The CDN refuses an upload whose body does not hash to its token or has
// the wrong auth; a phone that cannot verify a file records a failure
// instead of an inbox entry.
func TestMediaRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const contact = "4915200000011"
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915200000010")
	hc := sim.HTTPClient()
	body := randomBytes(t, 1000)
	other := sha256.Sum256([]byte("something else"))
	good := sha256.Sum256(body)
	post := func(token, auth string) int {
		t.Helper()
		u := fmt.Sprintf("https://%s/mms/image/%s?auth=%s&token=%s", mediaHost, token, auth, token)
		res, err := hc.Post(u, "", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := post(base64.URLEncoding.EncodeToString(other[:]), sim.mediaAuth()); code != http.StatusBadRequest {
		t.Fatalf("upload with a wrong hash: HTTP %d", code)
	}
	if n := sim.UploadsRefused(); n != 1 {
		t.Fatalf("UploadsRefused = %d", n)
	}
	if code := post(base64.URLEncoding.EncodeToString(good[:]), "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("upload with a wrong auth: HTTP %d", code)
	}
	if code := post(base64.URLEncoding.EncodeToString(good[:]), sim.mediaAuth()); code != http.StatusOK {
		t.Fatalf("good upload: HTTP %d", code)
	}

	// A message whose FileSHA256 is not the file's.
	data := randomBytes(t, 5000)
	up, err := tc.cli.Upload(ctx, data, whatsmeow.MediaImage)
	if err != nil {
		t.Fatal(err)
	}
	bad := sha256.Sum256([]byte("not the file"))
	resp, err := tc.cli.SendMessage(ctx, types.NewJID(contact, types.DefaultUserServer), &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
		URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256,
		FileSHA256: bad[:], FileLength: &up.FileLength, Mimetype: proto.String("image/jpeg")}})
	if err != nil {
		t.Fatal(err)
	}
	waitSim(t, sim, "media failure", func() bool { return len(sim.MediaFailures(contact)) == 1 })
	if f := sim.MediaFailures(contact)[0]; f.ID != resp.ID || f.Err != errMediaSHA256.Error() {
		t.Fatalf("media failure %+v", f)
	}
	if in, _ := sim.Inbox(contact); len(in) != 0 {
		t.Fatalf("inbox has the unverifiable file: %+v", in)
	}
}

// A contact sends media; the client downloads it over the simulated CDN and
// whatsmeow verifies it.
func TestMediaFromContact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const contact = "+4915200000021"
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915200000020")
	tests := []IncomingSpec{
		{Type: "image", Data: randomBytes(t, 30_000), Mimetype: "image/png", Caption: "look", Width: 10, Height: 20},
		{Type: "document", Data: randomBytes(t, 100_003), FileName: "a.pdf", Mimetype: "application/pdf"},
		{Type: "audio", Data: randomBytes(t, 2_000), PTT: true, Seconds: 2},
	}
	for _, spec := range tests {
		t.Run(spec.Type, func(t *testing.T) {
			spec.From, spec.To = contact, tc.jid.User
			m := tc.mark()
			id, err := sim.Send(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			evt, _ := waitEvent(tc, m, func(e *events.Message) bool { return e.Info.ID == id })
			//lint:ignore SA1019 any media kind; the test only compares bytes
			data, err := tc.cli.DownloadAny(ctx, evt.Message)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, spec.Data) {
				t.Fatalf("downloaded %d bytes, not the file sent", len(data))
			}
			wantMT := spec.Type
			if spec.PTT {
				wantMT = "ptt"
			}
			if evt.Info.MediaType != wantMT || evt.Info.Type != "media" {
				t.Fatalf("message type %q mediatype %q", evt.Info.Type, evt.Info.MediaType)
			}
			switch spec.Type {
			case "image":
				if x := evt.Message.GetImageMessage(); x.GetCaption() != "look" || x.GetWidth() != 10 || x.GetMimetype() != "image/png" {
					t.Fatalf("image %+v", x)
				}
			case "document":
				if x := evt.Message.GetDocumentMessage(); x.GetFileName() != "a.pdf" {
					t.Fatalf("document %+v", x)
				}
			case "audio":
				if x := evt.Message.GetAudioMessage(); !x.GetPTT() || x.GetSeconds() != 2 {
					t.Fatalf("audio %+v", x)
				}
			}
		})
	}
	if _, err := sim.Send(ctx, IncomingSpec{From: contact, To: tc.jid.User, Type: "gif", Data: []byte("x")}); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("unknown type: %v", err)
	}
	var se *SpecError
	if _, err := sim.Send(ctx, IncomingSpec{From: contact, To: tc.jid.User, Type: "image"}); !errors.As(err, &se) || se.Field != "data" {
		t.Fatalf("image without data: %v", err)
	}
}

// A contact's media expires on the CDN: the download fails with 404, the
// client asks for a media retry, the phone re-uploads it under a new direct
// path, and the download from there verifies. An id the phones do not
// know is "not available on the phone".
func TestMediaExpiryAndRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := newSim(t, Options{})
	tc := pair(t, sim, "+4915200000030")
	mediaRetryRoundTrip(t, sim, tc, "+4915200000031")

	// An unknown message id.
	m := tc.mark()
	info := &types.MessageInfo{ID: "3EB0UNKNOWN", MessageSource: types.MessageSource{
		Chat: types.NewJID("4915200000031", types.DefaultUserServer), Sender: types.NewJID("4915200000031", types.DefaultUserServer)}}
	if err := tc.cli.SendMediaRetryReceipt(ctx, info, randomBytes(t, 32)); err != nil {
		t.Fatal(err)
	}
	retry, _ := waitEvent(tc, m, func(e *events.MediaRetry) bool { return e.MessageID == "3EB0UNKNOWN" })
	if _, err := whatsmeow.DecryptMediaRetryNotification(retry, randomBytes(t, 32)); !errors.Is(err, whatsmeow.ErrMediaNotAvailableOnPhone) {
		t.Fatalf("retry of an unknown id: %v", err)
	}
	if err := sim.ExpireMedia("3EB0UNKNOWN"); !errors.Is(err, ErrUnknownMessage) {
		t.Fatalf("ExpireMedia of an unknown id: %v", err)
	}
}

// mediaRetryRoundTrip has contact send an image, expires it and recovers
// it by a media retry; it returns the message id.
func mediaRetryRoundTrip(t *testing.T, sim *Server, tc *tclient, contact string) {
	t.Helper()
	ctx := context.Background()
	data := randomBytes(t, 50_000)
	m := tc.mark()
	id, err := sim.Send(ctx, IncomingSpec{From: contact, To: tc.jid.User, Type: "image", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	evt, _ := waitEvent(tc, m, func(e *events.Message) bool { return e.Info.ID == id })
	img := evt.Message.GetImageMessage()
	if got, err := tc.cli.Download(ctx, img); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download before expiry: %v", err)
	}
	if err := sim.ExpireMedia(id); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.cli.Download(ctx, img); !errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith404) {
		t.Fatalf("download after expiry: %v, want 404", err)
	}
	m = tc.mark()
	if err := tc.cli.SendMediaRetryReceipt(ctx, &evt.Info, img.GetMediaKey()); err != nil {
		t.Fatal(err)
	}
	retry, _ := waitEvent(tc, m, func(e *events.MediaRetry) bool { return e.MessageID == id })
	notif, err := whatsmeow.DecryptMediaRetryNotification(retry, img.GetMediaKey())
	if err != nil {
		t.Fatal(err)
	}
	if notif.GetResult() != 1 || notif.GetStanzaID() != id || notif.GetDirectPath() == img.GetDirectPath() {
		t.Fatalf("retry notification %+v (old path %s)", notif, img.GetDirectPath())
	}
	renewed := proto.Clone(img).(*waE2E.ImageMessage)
	renewed.URL = nil
	renewed.DirectPath = proto.String(notif.GetDirectPath())
	got, err := tc.cli.Download(ctx, renewed)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download after the retry: %v", err)
	}
	// The old copy stays gone.
	if _, err := tc.cli.Download(ctx, img); !errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith404) {
		t.Fatalf("old copy after the retry: %v", err)
	}
}

// The blob store and its index (direct paths, message ids, media keys)
// survive a simulator restart.
func TestMediaSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const contact = "4915200000041"
	dir := t.TempDir()
	opts := Options{DBPath: filepath.Join(dir, "wasim.db"), MediaDir: filepath.Join(dir, "media")}
	sim := newSim(t, opts)
	tc := pair(t, sim, "+4915200000040")
	data := randomBytes(t, 20_000)
	up, err := tc.cli.Upload(ctx, data, whatsmeow.MediaDocument)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tc.cli.SendMessage(ctx, types.NewJID(contact, types.DefaultUserServer), &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
		URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256,
		FileSHA256: up.FileSHA256, FileLength: &up.FileLength, FileName: proto.String("kept.bin")}})
	if err != nil {
		t.Fatal(err)
	}
	inboxEntry(t, sim, contact, resp.ID, nil)

	opts.Addr = sim.Addr()
	tc.quiesce()
	m := tc.mark()
	if err := sim.Close(); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.Disconnected](tc, m, nil)
	sim2 := newSim(t, opts)
	tc.attach(sim2)
	waitEvent[*events.Connected](tc, m, nil)

	in := inboxEntry(t, sim2, contact, resp.ID, nil)
	if in.FileName != "kept.bin" || in.SHA256 != hexSHA(data) || in.Size != int64(len(data)) {
		t.Fatalf("inbox entry after restart: %+v", in)
	}
	doc := &waE2E.DocumentMessage{URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256,
		FileSHA256: up.FileSHA256, FileLength: &up.FileLength}
	if got, err := tc.cli.Download(ctx, doc); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download after restart: %v", err)
	}
	// The phone still knows the message's media key.
	mediaRetryRoundTrip(t, sim2, tc, "+"+contact)
	if err := sim2.ExpireMedia(resp.ID); err != nil {
		t.Fatalf("expire the upload from before the restart: %v", err)
	}
	if _, err := tc.cli.Download(ctx, doc); !errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith404) {
		t.Fatalf("download of the expired upload: %v", err)
	}
}

// A 64 MiB upload is streamed to disk: the process allocates far less
// than the blob while the simulator stores it.
func TestMediaUploadStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB upload")
	}
	sim := newSim(t, Options{})
	const size = 64 << 20
	// The body is generated on the fly (a seeded stream), twice: once to
	// hash it for the token, once to send it.
	gen := func() io.Reader { return io.LimitReader(newStream(), size) }
	h := sha256.New()
	if _, err := io.Copy(h, gen()); err != nil {
		t.Fatal(err)
	}
	token := base64.URLEncoding.EncodeToString(h.Sum(nil))
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("https://%s/mms/document/%s?auth=%s", mediaHost, token, sim.mediaAuth()), gen())
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	var before, after runtimeMem
	before.read()
	res, err := sim.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	after.read()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d: %s", res.StatusCode, body)
	}
	if grown := after.totalAlloc - before.totalAlloc; grown > size/4 {
		t.Fatalf("the upload allocated %d MiB for a %d MiB blob", grown>>20, size>>20)
	}
	t.Logf("64 MiB upload allocated %.1f MiB in total", float64(after.totalAlloc-before.totalAlloc)/(1<<20))
}

func newStream() io.Reader { return mrand.NewChaCha8([32]byte{1}) }

type runtimeMem struct{ totalAlloc uint64 }

func (m *runtimeMem) read() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.totalAlloc = ms.TotalAlloc
}
