package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/meowgate/meowgate/internal/mediatest"
)

// A contact sends an image in the sandbox: the webhook with include_media
// carries it inline, the media route serves the same bytes, and without
// include_media the event only links it.
func TestMediaWebhookInline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	var mu sync.Mutex
	var got []map[string]any
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		if json.NewDecoder(r.Body).Decode(&ev) == nil && ev["type"] == "message.received" {
			mu.Lock()
			got = append(got, ev)
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()

	p := startBinary(t, bin, dir, addr, "--sandbox")
	p.call("POST", "/v1/instances", map[string]any{"name": "wi", "connect": true,
		"webhook": map[string]any{"url": recv.URL, "include_media": true, "events": []string{"message.received"}}}, 201)
	p.call("POST", "/v1/sandbox/instances/wi/scan", map[string]any{"phone": "+4915100000601"}, 200)
	p.waitState("wi", "connected")
	img := mediatest.JPEG(t, 120, 90)
	id := p.call("POST", "/v1/sandbox/instances/wi/incoming", map[string]any{"from": "+4915100000602", "type": "image",
		"base64": base64.StdEncoding.EncodeToString(img), "mimetype": "image/jpeg", "caption": "doorbell"}, 202)["id"].(string)

	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no message.received delivery")
		}
		time.Sleep(20 * time.Millisecond)
	}
	data := got[0]["data"].(map[string]any)
	md, _ := data["media"].(map[string]any)
	if data["id"] != id || md == nil {
		t.Fatalf("delivery: %v", got[0])
	}
	inline, _ := base64.StdEncoding.DecodeString(md["base64"].(string))
	if !bytes.Equal(inline, img) || md["caption"] != "doorbell" || md["mimetype"] != "image/jpeg" {
		t.Errorf("inline media: %d bytes, caption %v, mimetype %v", len(inline), md["caption"], md["mimetype"])
	}
	req, _ := http.NewRequest("GET", "http://"+addr+md["url"].(string), nil)
	req.Header.Set("Authorization", "Bearer "+p.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" || !bytes.Equal(served, img) {
		t.Errorf("media route: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(served))
	}
}
