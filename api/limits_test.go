package api_test

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meowgate/meowgate/api"
)

func retryAfter(t *testing.T, r *res) int {
	t.Helper()
	wantErr(t, r, http.StatusTooManyRequests, "rate_limited")
	n, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	return n
}

// untilLimited repeats a request until it is refused with 429 and returns
// how many got through first. At rate r/s with burst b, at most
// b + r×elapsed (+1 for rounding) can pass, however slow the machine is.
func untilLimited(t *testing.T, do func() *res, burst int, perSecond float64) int {
	t.Helper()
	start := time.Now()
	for ok := 0; ; ok++ {
		r := do()
		if r.status != http.StatusTooManyRequests {
			wantStatus(t, r, http.StatusOK)
			if max := float64(burst) + perSecond*time.Since(start).Seconds() + 1; float64(ok+1) > max {
				t.Fatalf("%d requests passed in %v at %g/s with burst %d", ok+1, time.Since(start), perSecond, burst)
			}
			continue
		}
		retryAfter(t, r)
		return ok
	}
}

// TestRateLimit: requests beyond the burst are refused per key, with
// Retry-After, until the bucket refills.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *api.Options) { o.RateLimit, o.RateBurst = 1, 2 })
	token, _ := e.create("rl", nil) // one of the admin's two

	state := func() *res { return e.call("GET", "/v1/instances/rl/state", token, nil) }
	if n := untilLimited(t, state, 2, 1); n < 2 {
		t.Fatalf("only %d requests passed before the limit, burst is 2", n)
	}
	// Each key has its own bucket; unauthenticated probes have none.
	untilLimited(t, func() *res { return e.call("GET", "/v1/instances", adminKey, nil) }, 2, 1)
	for range 5 {
		wantStatus(t, e.call("GET", "/healthz", "", nil), http.StatusOK)
	}
	// A refused request costs nothing: the bucket refills at 1/s.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := state()
		if r.status == http.StatusOK {
			break
		}
		if n := retryAfter(t, r); n > 2 {
			t.Fatalf("Retry-After %d at 1 request/s", n)
		}
		if time.Now().After(deadline) {
			t.Fatal("the token is still limited after 5 s at 1 request/s")
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a fixed wait
	}
}

// TestCreateLimit: the sixth creation within a minute is refused.
func TestCreateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *api.Options) { o.CreatePerMinute = 5 })
	i := 0
	create := func() *res {
		i++
		return e.call("POST", "/v1/instances", adminKey, map[string]any{"name": "c" + strconv.Itoa(i)})
	}
	start := time.Now()
	for range 5 {
		wantStatus(t, create(), http.StatusCreated)
	}
	r := create()
	if r.status == http.StatusCreated && time.Since(start) > 12*time.Second {
		t.Skip("the machine is too slow to reach the creation limit within its refill time")
	}
	if n := retryAfter(t, r); n > 60 {
		t.Fatalf("Retry-After %d for 5 per minute", n)
	}
	wantErr(t, e.call("GET", "/v1/instances/c6", adminKey, nil), http.StatusNotFound, "not_found")
	// Other requests are not affected.
	wantStatus(t, e.call("GET", "/v1/instances", adminKey, nil), http.StatusOK)
}

// TestHealth: /healthz and /readyz need no key; /readyz follows Ready.
func TestHealth(t *testing.T) {
	t.Parallel()
	ready := new(atomic.Bool)
	e := newEnv(t, func(o *api.Options) { o.Ready = ready })

	r := e.call("GET", "/healthz", "", nil)
	wantStatus(t, r, http.StatusOK)
	if string(r.body) != "{\"status\":\"ok\"}\n" || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("healthz: %q %q", r.header.Get("Content-Type"), r.body)
	}
	wantStatus(t, e.call("HEAD", "/healthz", "", nil), http.StatusOK)

	wantErr(t, e.call("GET", "/readyz", "", nil), http.StatusServiceUnavailable, "unavailable")
	wantErr(t, e.call("GET", "/readyz", adminKey, nil), http.StatusServiceUnavailable, "unavailable")
	wantStatus(t, e.call("GET", "/healthz", "", nil), http.StatusOK)
	ready.Store(true)
	r = e.call("GET", "/readyz", "", nil)
	wantStatus(t, r, http.StatusOK)
	if r.obj(t)["status"] != "ready" {
		t.Fatalf("readyz: %s", r.body)
	}

	// Without Options.Ready the handler counts as ready.
	e2 := newEnv(t, nil)
	wantStatus(t, e2.call("GET", "/readyz", "", nil), http.StatusOK)
}

// TestMetrics: admin only, unless opened to loopback; 404 when disabled.
func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	wantErr(t, e.call("GET", "/metrics", "", nil), http.StatusUnauthorized, "unauthorized")
	r := e.call("GET", "/metrics", adminKey, nil)
	wantStatus(t, r, http.StatusOK)
	if string(r.body) != "meowgate_up 1\n" {
		t.Fatalf("metrics %q", r.body)
	}
	open := newEnv(t, func(o *api.Options) { o.MetricsOpen = true })
	wantStatus(t, open.call("GET", "/metrics", "", nil), http.StatusOK) // httptest listens on loopback
	wantErr(t, open.call("GET", "/metrics", "wrong", nil), http.StatusUnauthorized, "unauthorized")
	off := newEnv(t, func(o *api.Options) { o.Metrics = nil })
	wantErr(t, off.call("GET", "/metrics", adminKey, nil), http.StatusNotFound, "not_found")
}

// Wrong keys from one address are slowed down once the burst is used up,
// so a key cannot be guessed at full speed; the right key still works.
func TestAuthFailuresLimited(t *testing.T) {
	e := newEnv(t, func(o *api.Options) { o.AdminKey, o.AuthFailBurst = "right-key", 3 })
	if _, err := apiDoc(); err != nil { // load it now: the limiter refills while the first call would load it
		t.Fatal(err)
	}
	get := func(key string) *res { return e.send(t, req{method: "GET", path: "/v1/instances", key: key}) }
	for n := range 3 {
		if r := get("guess"); r.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", n, r.status)
		}
	}
	r := get("guess")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("4th wrong key: %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	if r := get("right-key"); r.status != http.StatusOK {
		t.Fatalf("right key after failures: %d", r.status)
	}
}
