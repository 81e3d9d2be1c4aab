package webhook

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestBackoff(t *testing.T) {
	w := &Worker{opts: Options{BackoffBase: time.Second, MaxBackoff: 5 * time.Minute}}
	// Quick attempts: each waits for the time since the window opened plus
	// the base, i.e. 1 s, 2 s, 4 s, … up to the cap.
	var elapsed time.Duration
	for _, want := range []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300} {
		got := w.backoff(elapsed, 0)
		if got != want*time.Second {
			t.Errorf("backoff after %v = %v, want %v", elapsed, got, want*time.Second)
		}
		elapsed += got
	}
	for _, tc := range []struct{ retryAfter, want time.Duration }{
		{30 * time.Second, 30 * time.Second},
		{time.Hour, 5 * time.Minute},           // capped
		{time.Millisecond, time.Second},        // at least the base
		{0, time.Second + 10*time.Millisecond}, // none: the usual backoff
	} {
		if got := w.backoff(10*time.Millisecond, tc.retryAfter); got != tc.want {
			t.Errorf("backoff with Retry-After %v = %v, want %v", tc.retryAfter, got, tc.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := retryAfter(tc.in, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("short"); got != "short" {
		t.Errorf("truncate(short) = %q", got)
	}
	long := strings.Repeat("é", 400) // 800 bytes
	got := truncate(long)
	if !utf8.ValidString(got) || len(got) > maxSnippet+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("truncate(long) = %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if got := truncate("a\xffb"); got != "a\uFFFDb" {
		t.Errorf("invalid UTF-8 kept: %q", got)
	}
}

func TestSign(t *testing.T) {
	// Computed independently:
	// printf '1714564800.{"a":1}' | openssl dgst -sha256 -hmac secret
	const want = "t=1714564800,v1=c378938cf1c2d1311146ca91a45734efb5d800a5375a7689e0c736149d7e71fa"
	if got := Sign("secret", time.Unix(1714564800, 0), []byte(`{"a":1}`)); got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}
