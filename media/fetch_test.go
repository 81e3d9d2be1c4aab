package media

import (
	"github.com/meowgate/meowgate/internal/mediatest"

	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func TestStageURL(t *testing.T) {
	jpg := mediatest.JPEG(t, 64, 48)
	pdf := []byte("%PDF-1.4\n%%EOF\n")
	mux := http.NewServeMux()
	mux.HandleFunc("/photo.jpg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(jpg)
	})
	mux.HandleFunc("/octet", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(jpg)
	})
	mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Disposition", `attachment; filename="Q3 report.pdf"`)
		w.Write(pdf)
	})
	mux.HandleFunc("/files/", func(w http.ResponseWriter, r *http.Request) { w.Write(pdf) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/files/invoice.pdf", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	info := mustStage(t, KindImage, false, Source{URL: srv.URL + "/photo.jpg"}, jpg)
	if info.Mimetype != "image/jpeg" || info.Width != 64 || info.FileName != "photo.jpg" {
		t.Errorf("image from URL: %+v", info)
	}
	mustStage(t, KindImage, false, Source{URL: srv.URL + "/octet"}, jpg)
	info = mustStage(t, KindDocument, false, Source{URL: srv.URL + "/download?id=7"}, pdf)
	if info.FileName != "Q3 report.pdf" || info.Mimetype != "application/pdf" {
		t.Errorf("document name from Content-Disposition: %q %s", info.FileName, info.Mimetype)
	}
	info = mustStage(t, KindDocument, false, Source{URL: srv.URL + "/moved"}, pdf)
	if info.FileName != "invoice.pdf" {
		t.Errorf("document name after a redirect: %q", info.FileName)
	}
	info = mustStage(t, KindDocument, false, Source{URL: srv.URL + "/moved", FileName: "mine.pdf"}, pdf)
	if info.FileName != "mine.pdf" {
		t.Errorf("the client's name lost to the URL's: %q", info.FileName)
	}
}

func TestStageURLBad(t *testing.T) {
	limit := MaxSize(KindSticker)
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	mux.HandleFunc("/slow-body", func(w http.ResponseWriter, r *http.Request) {
		w.Write(mediatest.WebPVP8(10, 10))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	mux.HandleFunc("/ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://example.com/sticker.webp", http.StatusFound)
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<html>login</html>"))
	})
	mux.HandleFunc("/announced", func(w http.ResponseWriter, r *http.Request) {
		// Announces one byte over the limit, sends a little and waits: a
		// fetcher that reads the body would hang until the test's release.
		w.Header().Set("Content-Length", strconv.FormatInt(limit+1, 10))
		w.Write(mediatest.WebPVP8(10, 10))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Write(mediatest.WebPVP8(10, 10))
		chunk := make([]byte, 4096)
		for range 4 * limit / 4096 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release)
	host := srv.Listener.Addr().String()

	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	f := &Fetcher{Timeout: 300 * time.Millisecond}
	for _, tc := range []struct {
		name, url string
		words     []string
	}{
		{"404", "/missing", []string{host, "404 Not Found"}},
		{"slow answer", "/slow", []string{host, "did not answer within 300ms"}},
		{"slow body", "/slow-body", []string{host, "did not send the whole file within 300ms"}},
		{"redirect to ftp", "/ftp", []string{"ftp:", "only http and https"}},
		{"redirect to file", "/file", []string{"file:"}},
		{"redirect loop", "/loop", []string{"more than 5"}},
		{"html for an image", "/html", []string{"text/html", "sticker"}},
		{"announced oversize", "/announced", []string{strconv.FormatInt(limit+1, 10) + " bytes", "at most 500 KiB"}},
		{"chunked oversize", "/chunked", []string{"more than 500 KiB"}},
		{"unreachable", "http://" + closed + "/x.webp", []string{closed, "cannot fetch"}},
		{"ftp URL", "ftp://example.com/x.webp", []string{"only http and https"}},
		{"no host", "http:///x.webp", []string{"no host"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.url
			if u[0] == '/' {
				u = srv.URL + u
			}
			dir := t.TempDir()
			start := time.Now()
			_, err := f.Stage(context.Background(), KindSticker, false, Source{URL: u}, filepath.Join(dir, "m"))
			wantInputErr(t, err, dir, "url", tc.words...)
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("took %v", el)
			}
		})
	}
	// A name that does not resolve: the real Go resolver, asking a DNS
	// server on a closed loopback port (tests stay on loopback).
	dialer := &net.Dialer{Resolver: &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, closed)
	}}}
	dnsF := &Fetcher{Client: &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}, Timeout: 2 * time.Second}
	dir := t.TempDir()
	_, err = dnsF.Stage(context.Background(), KindSticker, false, Source{URL: "http://no-such-host.example/x.webp"}, filepath.Join(dir, "m"))
	wantInputErr(t, err, dir, "url", "cannot resolve host no-such-host.example")

	// Reading stopped at limit+1: count what Stage read of the body
	// through the real transport.
	var read atomic.Int64
	counting := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil {
			resp.Body = &countingBody{ReadCloser: resp.Body, n: &read}
		}
		return resp, err
	})}
	dir = t.TempDir()
	_, err = (&Fetcher{Client: counting}).Stage(context.Background(), KindSticker, false, Source{URL: srv.URL + "/chunked"}, filepath.Join(dir, "m"))
	wantInputErr(t, err, dir, "url", "more than 500 KiB")
	if n := read.Load(); n != limit+1 {
		t.Errorf("Stage read %d bytes of an endless body, want limit+1 = %d", n, limit+1)
	}
}

// TestStageURLDefaultTimeout: the message names the 60 s default.
func TestStageURLDefaultTimeout(t *testing.T) {
	if got := (&Fetcher{}).timeout(); got != 60*time.Second {
		t.Fatalf("default timeout %v", got)
	}
	if got := durText(60 * time.Second); got != "60s" {
		t.Fatalf("durText(60s) = %q", got)
	}
}

// TestStageURLClient: a caller's client is used, and still refuses
// redirects to other schemes.
func TestStageURLClient(t *testing.T) {
	var used atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "gopher://example.com/", http.StatusFound)
	}))
	defer srv.Close()
	base := srv.Client().Transport
	client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		used.Store(true)
		return base.RoundTrip(r)
	})}
	_, err := (&Fetcher{Client: client}).Stage(context.Background(), KindImage, false, Source{URL: srv.URL}, filepath.Join(t.TempDir(), "m"))
	wantInputErr(t, err, "", "url", "gopher:")
	if !used.Load() {
		t.Error("the Fetcher's client was not used")
	}
	if client.CheckRedirect != nil {
		t.Error("Stage changed the caller's client")
	}
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestStageURLCanceled: the caller's cancelation during a fetch is not an
// InputError.
func TestStageURLCanceled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	dir := t.TempDir()
	_, err := (&Fetcher{Timeout: 10 * time.Second}).Stage(ctx, KindImage, false, Source{URL: srv.URL}, filepath.Join(dir, "m"))
	if err == nil || fmt.Sprint(err) == "" {
		t.Fatal("no error")
	}
	if _, ok := err.(*InputError); ok {
		t.Fatalf("the caller's deadline became an InputError: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left %d entries", len(entries))
	}
}
