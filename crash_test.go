package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// hookReceiver is a webhook receiver that fails while failing is set and
// records the first delivery of every event id.
type hookReceiver struct {
	failing atomic.Bool
	mu      sync.Mutex
	order   []int64       // event ids in order of first successful delivery
	count   map[int64]int // successful deliveries per event id
	types   map[int64]string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if h.failing.Load() {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	var ev struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	if json.Unmarshal(body, &ev) != nil || ev.ID != r.Header.Get("X-Meowgate-Delivery") {
		http.Error(w, "bad delivery", http.StatusBadRequest)
		return
	}
	id, _ := strconv.ParseInt(ev.ID, 10, 64)
	h.mu.Lock()
	if h.count[id] == 0 {
		h.order = append(h.order, id)
		h.types[id] = ev.Type
	}
	h.count[id]++
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

var statusRank = map[string]int{"queued": 1, "sending": 2, "sent": 3, "delivered": 4, "read": 5, "played": 6}

// Kill the real process while 200 messages are queued and being sent and
// while the webhook receiver fails; after a restart every message reaches
// the contact exactly once, every event is delivered, and no status goes
// backwards.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	hooks := &hookReceiver{count: map[int64]int{}, types: map[int64]string{}}
	hooks.failing.Store(true)
	recv := httptest.NewServer(hooks)
	defer recv.Close()
	t.Setenv("MEOWGATE_WEBHOOK_MAX_BACKOFF", "2s")
	t.Setenv("MEOWGATE_API_RATE_LIMIT", "10000")
	t.Setenv("MEOWGATE_API_RATE_BURST", "10000")

	p := startBinary(t, bin, dir, addr, "--sandbox")
	p.call("POST", "/v1/instances", map[string]any{"name": "c", "connect": true,
		"settings": map[string]any{"send_delay_ms": 10},
		"webhook":  map[string]any{"url": recv.URL, "secret": "s3cret"}}, 201)
	p.call("POST", "/v1/sandbox/instances/c/scan", map[string]any{"phone": "+4915100000401"}, 200)
	p.waitState("c", "connected")

	const contact = "+4915100000402"
	ids := map[string]bool{}
	for n := range 200 {
		m := p.call("POST", "/v1/instances/c/messages", map[string]any{"to": contact, "text": fmt.Sprintf("crash %03d", n)}, 202)
		ids[m["message"].(map[string]any)["id"].(string)] = true
	}
	inbox := func(pp *proc) []any {
		return pp.call("GET", "/v1/sandbox/contacts/"+contact+"/inbox", nil, 200)["messages"].([]any)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(inbox(p)) < 30 {
		if time.Now().After(deadline) {
			t.Fatal("sending did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	p2 := startBinary(t, bin, dir, addr, "--sandbox")
	hooks.failing.Store(false)
	deadline = time.Now().Add(60 * time.Second)
	for {
		done := 0
		for _, m := range p2.call("GET", "/v1/instances/c/messages?direction=out&limit=500", nil, 200)["messages"].([]any) {
			if statusRank[m.(map[string]any)["status"].(string)] >= statusRank["sent"] {
				done++
			}
		}
		if done == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 200 messages sent after the restart", done)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Exactly once at the contact, by id.
	seen := map[string]int{}
	for _, m := range inbox(p2) {
		seen[m.(map[string]any)["id"].(string)]++
	}
	for id := range ids {
		if seen[id] != 1 {
			t.Errorf("message %s reached the contact %d times", id, seen[id])
		}
	}
	if len(seen) != len(ids) {
		t.Errorf("contact has %d distinct messages, want %d", len(seen), len(ids))
	}

	// No status goes backwards.
	for id := range ids {
		m := p2.call("GET", "/v1/instances/c/messages/"+id, nil, 200)["message"].(map[string]any)
		best := 0
		for _, h := range m["status_history"].([]any) {
			st := h.(map[string]any)["status"].(string)
			r := statusRank[st]
			if r >= statusRank["sent"] && r < best {
				t.Errorf("message %s went back to %s", id, st)
			}
			best = max(best, r)
		}
		if statusRank[m["status"].(string)] < best {
			t.Errorf("message %s is %s after reaching rank %d", id, m["status"], best)
		}
	}

	// Every event accepted before and after the crash reaches the receiver,
	// first deliveries in event order.
	var all []int64
	after := "0"
	for {
		evs := p2.call("GET", "/v1/instances/c/events?limit=1000&after="+after, nil, 200)["events"].([]any)
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			id, _ := strconv.ParseInt(e.(map[string]any)["id"].(string), 10, 64)
			all = append(all, id)
		}
		after = evs[len(evs)-1].(map[string]any)["id"].(string)
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		hooks.mu.Lock()
		missing := 0
		for _, id := range all {
			if hooks.count[id] == 0 {
				missing++
			}
		}
		hooks.mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events never delivered", missing, len(all))
		}
		time.Sleep(50 * time.Millisecond)
	}
	hooks.mu.Lock()
	for i := 1; i < len(hooks.order); i++ {
		if hooks.order[i] < hooks.order[i-1] {
			t.Fatalf("event %d delivered before event %d", hooks.order[i], hooks.order[i-1])
		}
	}
	hooks.mu.Unlock()
	_ = os.Remove(filepath.Join(dir, "unused"))
}
