package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meowgate/meowgate/internal/mediatest"
)

// Kill the real process while 50 media messages are queued or being
// uploaded; after a restart each reaches the contact exactly once, with
// the bytes that were sent, and no file is left for a message that ended
// unsent (failed, canceled) nor any temporary upload file.
func TestCrashSafetyMedia(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	t.Setenv("MEOWGATE_API_RATE_LIMIT", "10000")
	t.Setenv("MEOWGATE_API_RATE_BURST", "10000")
	recv := httptest.NewServer(&hookReceiver{count: map[int64]int{}, types: map[int64]string{}})
	defer recv.Close()

	p := startBinary(t, bin, dir, addr, "--sandbox")
	inst := p.call("POST", "/v1/instances", map[string]any{"name": "cm", "connect": true,
		"settings": map[string]any{"send_delay_ms": 20}}, 201)["instance"].(map[string]any)
	p.call("POST", "/v1/sandbox/instances/cm/scan", map[string]any{"phone": "+4915100000501"}, 200)
	p.waitState("cm", "connected")
	mediaDir := filepath.Join(dir, "media", inst["id"].(string))

	const contact = "+4915100000502"
	want := map[string]string{} // id → sha256 of the file sent
	for n := range 50 {
		img := mediatest.JPEG(t, 64+n, 48)
		m := p.call("POST", "/v1/instances/cm/messages", map[string]any{"to": contact, "type": "image",
			"caption": fmt.Sprintf("snapshot %02d", n), "base64": base64.StdEncoding.EncodeToString(img)}, 202)
		sum := sha256.Sum256(img)
		want[m["message"].(map[string]any)["id"].(string)] = hex.EncodeToString(sum[:])
	}
	// Ends unsent: the recipient is not on WhatsApp.
	failed := p.call("POST", "/v1/instances/cm/messages", map[string]any{"to": "+9995550000001", "type": "image",
		"base64": base64.StdEncoding.EncodeToString(mediatest.PNG(t, 4, 4))}, 202)["message"].(map[string]any)["id"].(string)
	inbox := func(pp *proc) []any {
		return pp.call("GET", "/v1/sandbox/contacts/"+contact+"/inbox", nil, 200)["messages"].([]any)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(inbox(p)) < 10 {
		if time.Now().After(deadline) {
			t.Fatal("sending did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	p2 := startBinary(t, bin, dir, addr, "--sandbox")
	// One more, canceled while queued after the restart: its file goes too.
	canceled := p2.call("POST", "/v1/instances/cm/messages", map[string]any{"to": contact, "type": "image",
		"send_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		"base64":  base64.StdEncoding.EncodeToString(mediatest.PNG(t, 5, 5))}, 202)["message"].(map[string]any)["id"].(string)
	p2.call("DELETE", "/v1/instances/cm/messages/"+canceled, nil, 200)
	deadline = time.Now().Add(90 * time.Second)
	for {
		done := 0
		for id := range want {
			m := p2.call("GET", "/v1/instances/cm/messages/"+id, nil, 200)["message"].(map[string]any)
			if statusRank[m["status"].(string)] >= statusRank["sent"] {
				done++
			}
		}
		st := p2.call("GET", "/v1/instances/cm/messages/"+failed, nil, 200)["message"].(map[string]any)["status"]
		if done == len(want) && st == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d media messages sent after the restart (the unreachable one is %s)", done, len(want), st)
		}
		time.Sleep(100 * time.Millisecond)
	}

	seen := map[string]int{}
	for _, e := range inbox(p2) {
		m := e.(map[string]any)
		id := m["id"].(string)
		seen[id]++
		if sha, ok := want[id]; ok && m["sha256"] != sha {
			t.Errorf("message %s: the contact decrypted %v, want %s", id, m["sha256"], sha)
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("message %s reached the contact %d times", id, seen[id])
		}
	}
	// Files: every sent one is kept (retention), nothing else is there.
	files, err := os.ReadDir(mediaDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		switch name := f.Name(); {
		case strings.HasPrefix(name, "."):
			t.Errorf("temporary file %s left behind", name)
		case name == failed || name == canceled:
			t.Errorf("the file of %s is still there after it ended unsent", name)
		case want[name] == "":
			t.Errorf("unexpected file %s", name)
		}
	}
	if len(files) != len(want) {
		t.Errorf("%d files in the media directory, want %d", len(files), len(want))
	}
}
