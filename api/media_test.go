package api_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestMessageMedia: GET …/messages/{id}/media streams the file of a
// message with its type, disposition, nosniff, ranges and conditional
// requests; a message without a file is 404. Against the real Manager, so
// it skips until the media domain lands.
func TestMessageMedia(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if mediaDomainPending(e.m) {
		t.Skip("needs the media domain: OpenMedia is a stub")
	}
	token, _ := e.create("files", nil)
	const path = "/v1/instances/files/messages"
	pdf := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + strings.Repeat("% filler\n", 100) + "%%EOF\n")
	r := e.postMultipart(t, path, nil, part{name: "to", value: "+4915100000001"}, part{name: "type", value: "document"},
		part{name: "caption", value: "the report"},
		part{name: "file", value: string(pdf), fileName: "Bericht März.pdf", contentType: "application/pdf"})
	wantStatus(t, r, http.StatusAccepted)
	doc := r.obj(t)["message"].(map[string]any)
	media, _ := doc["media"].(map[string]any)
	if media == nil || media["mimetype"] != "application/pdf" || media["file_name"] != "Bericht März.pdf" {
		t.Fatalf("document message: %s", r.body)
	}
	url := media["url"].(string)

	r = e.call("GET", url, token, nil)
	wantStatus(t, r, http.StatusOK)
	if !bytes.Equal(r.body, pdf) {
		t.Fatalf("file differs: %d bytes, want %d", len(r.body), len(pdf))
	}
	if ct := r.header.Get("Content-Type"); ct != "application/pdf" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "filename*=utf-8''Bericht%20M%C3%A4rz.pdf") {
		t.Errorf("Content-Disposition %q", cd)
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("no nosniff: %v", r.header)
	}

	// A range, and a conditional request.
	r = e.send(t, req{method: "GET", path: url, key: adminKey, header: map[string]string{"Range": "bytes=0-7"}})
	wantStatus(t, r, http.StatusPartialContent)
	if string(r.body) != "%PDF-1.4" || r.header.Get("Content-Range") != "bytes 0-7/"+strconv.Itoa(len(pdf)) {
		t.Errorf("range: %q %q", r.body, r.header.Get("Content-Range"))
	}
	r = e.send(t, req{method: "GET", path: url, key: adminKey, header: map[string]string{"Range": "bytes=999999-"}})
	wantStatus(t, r, http.StatusRequestedRangeNotSatisfiable)
	lm := e.call("GET", url, adminKey, nil).header.Get("Last-Modified")
	if lm == "" {
		t.Fatal("no Last-Modified")
	}
	r = e.send(t, req{method: "GET", path: url, key: adminKey, header: map[string]string{"If-Modified-Since": lm}})
	wantStatus(t, r, http.StatusNotModified)

	// An image is shown inline; an SVG never is.
	png, _ := base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
	r = e.call("POST", path, adminKey, map[string]any{"to": "+4915100000001", "type": "image", "base64": base64.StdEncoding.EncodeToString(png)})
	wantStatus(t, r, http.StatusAccepted)
	img := r.obj(t)["message"].(map[string]any)
	r = e.call("GET", img["media"].(map[string]any)["url"].(string), adminKey, nil)
	wantStatus(t, r, http.StatusOK)
	if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "inline") || r.header.Get("Content-Type") != "image/png" || !bytes.Equal(r.body, png) {
		t.Errorf("image: %q %q", cd, r.header.Get("Content-Type"))
	}

	// A text message has no file; another instance's token sees nothing.
	r = e.call("POST", path, adminKey, map[string]any{"to": "+4915100000001", "text": "no file"})
	wantStatus(t, r, http.StatusAccepted)
	id := r.obj(t)["message"].(map[string]any)["id"].(string)
	wantErr(t, e.call("GET", path+"/"+id+"/media", adminKey, nil), http.StatusNotFound, "not_found")
	wantErr(t, e.call("GET", path+"/nope/media", adminKey, nil), http.StatusNotFound, "not_found")
	other, _ := e.create("other", nil)
	wantErr(t, e.call("GET", url, other, nil), http.StatusNotFound, "not_found")
	wantErr(t, e.call("GET", url, "", nil), http.StatusUnauthorized, "unauthorized")
}

// TestEditRevoke: a queued message is edited in place and canceled by
// DELETE; a canceled one can be neither (409 not_editable); unknown ids
// are 404.
func TestEditRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if mediaDomainPending(e.m) {
		t.Skip("needs the media domain: EditMessage and RevokeMessage are stubs")
	}
	e.create("ed", nil) // never connected: its messages stay queued
	const path = "/v1/instances/ed/messages"
	r := e.call("POST", path, adminKey, map[string]any{"to": "+4915100000001", "text": "typo"})
	wantStatus(t, r, http.StatusAccepted)
	id := r.obj(t)["message"].(map[string]any)["id"].(string)

	r = e.call("PATCH", path+"/"+id, adminKey, map[string]any{"text": "fixed"})
	wantStatus(t, r, http.StatusOK)
	if m := r.obj(t)["message"].(map[string]any); m["text"] != "fixed" || m["status"] != "queued" {
		t.Fatalf("after PATCH: %s", r.body)
	}
	wantErr(t, e.call("PATCH", path+"/nope", adminKey, map[string]any{"text": "x"}), http.StatusNotFound, "not_found")
	wantErr(t, e.call("DELETE", path+"/nope", adminKey, nil), http.StatusNotFound, "not_found")

	r = e.call("DELETE", path+"/"+id+"?for_everyone=0", adminKey, nil)
	wantStatus(t, r, http.StatusOK)
	if st := r.obj(t)["message"].(map[string]any)["status"]; st != "canceled" {
		t.Fatalf("after DELETE: %s", r.body)
	}
	// Canceled, it is no longer queued.
	wantErr(t, e.call("DELETE", path+"/"+id, adminKey, nil), http.StatusConflict, "not_editable")
	wantErr(t, e.call("PATCH", path+"/"+id, adminKey, map[string]any{"text": "again"}), http.StatusConflict, "not_editable")
}
