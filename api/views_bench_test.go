package api_test

// In-process benchmarks of the hot read routes and of enqueueing, over a
// real Manager and SQLite file: allocations per request are stable, so a
// before/after of a refactoring compares them with benchstat (see
// docs/benchmarks.md, "The house refactoring").

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meowgate/meowgate/api"
	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/store"
)

const benchKey = "bench-admin-key-0123456789abcdef"

func benchHandler(b *testing.B) http.Handler {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "m.db"), log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	m, err := instance.NewManager(ctx, instance.Options{Store: st, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(m.Close)
	h := api.New(api.Options{Manager: m, Log: log, AdminKey: benchKey, RateLimit: 1e9, RateBurst: 1e9, CreatePerMinute: 1e9, AuthFailBurst: 1e9})
	for i := range 100 {
		r := httptest.NewRequest("POST", "/v1/instances", strings.NewReader(fmt.Sprintf(`{"name":"inst-%d"}`, i)))
		r.Header.Set("Authorization", "Bearer "+benchKey)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 201 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
	return h
}

func benchGet(b *testing.B, h http.Handler, path string) {
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Authorization", "Bearer "+benchKey)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

func BenchmarkAPIList100(b *testing.B) { benchGet(b, benchHandler(b), "/v1/instances") }
func BenchmarkAPIGetOne(b *testing.B)  { benchGet(b, benchHandler(b), "/v1/instances/inst-7") }
func BenchmarkAPIState(b *testing.B)   { benchGet(b, benchHandler(b), "/v1/instances/inst-7/state") }

func BenchmarkAPIEnqueue(b *testing.B) {
	h := benchHandler(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		r := httptest.NewRequest("POST", "/v1/instances/inst-3/messages", strings.NewReader(fmt.Sprintf(`{"to":"+4915100%06d","text":"hello %d"}`, i%1000, i)))
		r.Header.Set("Authorization", "Bearer "+benchKey)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 202 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}
