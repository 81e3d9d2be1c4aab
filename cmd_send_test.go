package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestClientSend(t *testing.T) {
	s := startTestServer(t, testAdminKey)
	if code, _ := s.api(t, "POST", "/v1/instances", `{"name":"tx","connect":true}`); code != 201 {
		t.Fatalf("create: %d", code)
	}
	waitFor(t, "QR", 10*time.Second, func() bool { code, _ := s.api(t, "GET", "/v1/instances/tx/qr", ""); return code == 200 })
	if code, body := s.api(t, "POST", "/v1/sandbox/instances/tx/scan", `{"phone":"+4915100000301"}`); code != 200 {
		t.Fatalf("scan: %d %s", code, body)
	}
	waitFor(t, "connected", 10*time.Second, func() bool {
		_, body := s.api(t, "GET", "/v1/instances/tx/state", "")
		return strings.Contains(string(body), `"connected"`)
	})
	code, out, errOut := runCLI(t, noEnv, "send", "tx", "+4915100000302", "hello", "from", "the", "CLI", "--wait", "--url", s.url, "--key", testAdminKey)
	if code != 0 || !strings.Contains(out, " queued") || !sentRE.MatchString(out) {
		t.Fatalf("send: %d\n%s\n%s", code, out, errOut)
	}
	waitFor(t, "inbox", 10*time.Second, func() bool {
		_, body := s.api(t, "GET", "/v1/sandbox/contacts/+4915100000302/inbox", "")
		return strings.Contains(string(body), "hello from the CLI")
	})
	code, _, errOut = runCLI(t, noEnv, "send", "tx", "+9995550002", "nobody", "--wait", "--url", s.url, "--key", testAdminKey)
	if code != 1 || !strings.Contains(errOut, "not on WhatsApp") {
		t.Fatalf("send to +999: %d %s", code, errOut)
	}
	code, _, errOut = runCLI(t, noEnv, "send", "tx", "12", "bad", "--url", s.url, "--key", testAdminKey)
	if code != 1 || !strings.Contains(errOut, "invalid") {
		t.Fatalf("send to a bad number: %d %s", code, errOut)
	}
}

// inboxEntry is what the sandbox shows of a message a contact received.
type inboxEntry struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Text     string `json:"text"`
	SHA256   string `json:"sha256"`
	Caption  string `json:"caption"`
	FileName string `json:"file_name"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
		Address   string  `json:"address"`
	} `json:"location"`
}

// inboxOf waits until the contact's inbox holds the message id.
func (s *testServer) inboxOf(t *testing.T, phone, id string) inboxEntry {
	t.Helper()
	var found inboxEntry
	waitFor(t, "message "+id+" in the inbox of "+phone, 10*time.Second, func() bool {
		_, body := s.api(t, "GET", "/v1/sandbox/contacts/"+phone+"/inbox", "")
		var in struct{ Messages []inboxEntry }
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatalf("inbox: %v: %s", err, body)
		}
		for _, m := range in.Messages {
			if m.ID == id {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// TestClientSendFileAndLocation: `meowgate send --file` uploads an image (its
// type guessed from its content, the words its caption) and a document,
// `--type location` sends a place; each reaches the contact's phone as sent.
// Wrong flag combinations are usage errors (exit 2).
func TestClientSendFileAndLocation(t *testing.T) {
	s := startTestServer(t, testAdminKey)
	if code, _ := s.api(t, "POST", "/v1/instances", `{"name":"fx","connect":true,"settings":{"send_delay_ms":0}}`); code != 201 {
		t.Fatalf("create: %d", code)
	}
	waitFor(t, "QR", 10*time.Second, func() bool { code, _ := s.api(t, "GET", "/v1/instances/fx/qr", ""); return code == 200 })
	if code, body := s.api(t, "POST", "/v1/sandbox/instances/fx/scan", `{"phone":"+4915100000311"}`); code != 200 {
		t.Fatalf("scan: %d %s", code, body)
	}
	waitFor(t, "connected", 10*time.Second, func() bool {
		_, body := s.api(t, "GET", "/v1/instances/fx/state", "")
		return strings.Contains(string(body), `"connected"`)
	})
	const to = "+4915100000312"
	auth := []string{"--url", s.url, "--key", testAdminKey}
	send := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, noEnv, append(append([]string{"send"}, args...), auth...)...)
	}
	idOf := func(out string) string { return strings.Fields(out)[0] }

	// An image under a name that says nothing: the content says PNG.
	dir := t.TempDir()
	var pic bytes.Buffer
	if err := png.Encode(&pic, image.NewGray(image.Rect(0, 0, 40, 30))); err != nil {
		t.Fatal(err)
	}
	picPath := filepath.Join(dir, "snapshot.bin")
	if err := os.WriteFile(picPath, pic.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pic.Bytes())
	code, out, errOut := send("fx", to, "the", "front", "door", "--file", picPath, "--wait")
	if code != 0 || !strings.Contains(out, " queued") || !sentRE.MatchString(out) {
		t.Fatalf("send --file: %d\n%s\n%s", code, out, errOut)
	}
	got := s.inboxOf(t, to, idOf(out))
	if got.Type != "image" || got.SHA256 != hex.EncodeToString(sum[:]) || got.Caption != "the front door" {
		t.Fatalf("the contact received: %+v", got)
	}

	// A text file goes as a document with its name.
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("milk, eggs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = send("fx", to, "--file", notes, "shopping")
	if code != 0 {
		t.Fatalf("send a document: %d\n%s\n%s", code, out, errOut)
	}
	if got := s.inboxOf(t, to, idOf(out)); got.Type != "document" || got.FileName != "notes.txt" || got.Caption != "shopping" {
		t.Fatalf("the contact received: %+v", got)
	}

	// A location; the words name the place.
	code, out, errOut = send("fx", to, "--type", "location", "--lat", "52.5163", "--lon", "13.3777", "Brandenburg", "Gate", "--address", "Pariser Platz")
	if code != 0 {
		t.Fatalf("send a location: %d\n%s\n%s", code, out, errOut)
	}
	if got := s.inboxOf(t, to, idOf(out)); got.Type != "location" || got.Location == nil ||
		got.Location.Latitude != 52.5163 || got.Location.Longitude != 13.3777 || got.Location.Name != "Brandenburg Gate" || got.Location.Address != "Pariser Platz" {
		t.Fatalf("the contact received: %+v %+v", got, got.Location)
	}

	// The server's refusal is exit 1: a PNG is no video.
	code, _, errOut = send("fx", to, "--file", picPath, "--type", "video")
	if code != 1 || !strings.Contains(errOut, "invalid") {
		t.Errorf("a PNG as a video: %d %s", code, errOut)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"fx", to}, "TEXT"},
		{[]string{"fx", to, "hi", "--ptt"}, "--ptt needs --file"},
		{[]string{"fx", to, "--type", "poll", "x"}, "--type must be"},
		{[]string{"fx", to, "--type", "image", "x"}, "needs --file"},
		{[]string{"fx", to, "--type", "location", "--lat", "91", "--lon", "0"}, "--lat"},
		{[]string{"fx", to, "--type", "location", "--lat", "1"}, "needs --lat and --lon"},
		{[]string{"fx", to, "hi", "--lat", "1", "--lon", "2"}, "go with --type location"},
		{[]string{"fx", to, "--file", picPath, "--type", "image", "--ptt"}, "--ptt sends audio"},
		{[]string{"fx", to, "--file", picPath, "--type", "gif"}, "--type for a file"},
		{[]string{"fx", to, "--file", filepath.Join(dir, "missing.png")}, "no such file"},
		{[]string{"fx", to, "--file", dir}, "is a directory"},
	} {
		code, _, errOut := send(c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("send %q: exit %d, want 2 with %q:\n%s", c.args, code, c.want, errOut)
		}
	}
}

func TestGuessKind(t *testing.T) {
	for _, c := range []struct {
		head, name, want string
	}{
		{"\xFF\xD8\xFF\xE0....JFIF", "x", "image"},
		{"\x89PNG\r\n\x1a\n....", "photo.dat", "image"},
		{"RIFF\x00\x00\x00\x00WEBPVP8 ", "s", "sticker"},
		{"\x00\x00\x00\x18ftypmp42", "clip", "video"},
		{"\x00\x00\x00\x18ftypM4A ", "song", "audio"},
		{"OggS\x00\x02", "note", "audio"},
		{"ID3\x03", "song", "audio"},
		{"%PDF-1.7", "report.pdf", "document"},
		{"", "holiday.JPG", "image"},
		{"", "voice.opus", "audio"},
		{"", "clip.mp4", "video"},
		{"plain", "notes.txt", "document"},
		{"plain", "no-extension", "document"},
	} {
		if got := guessKind([]byte(c.head), c.name); got != c.want {
			t.Errorf("guessKind(%q, %q) = %s, want %s", c.head, c.name, got, c.want)
		}
	}
}

// sentRE matches the last line of `send --wait` once WhatsApp accepted the
// message: receipts may have moved it past sent between two polls.
var sentRE = regexp.MustCompile(` (sent|delivered|read|played)\n$`)
