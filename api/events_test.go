package api_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/meowgate/meowgate/api"
	"github.com/meowgate/meowgate/event"
)

// TestInstanceEvents replays an instance's event log with ?after= and ?limit=.
func TestInstanceEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	token, _ := e.create("ev", map[string]any{"connect": true})
	otherToken, _ := e.create("other", nil)

	evs := e.events("ev", token, "?after=0")
	if len(evs) < 3 {
		t.Fatalf("only %d events after create with connect", len(evs))
	}
	prev := int64(0)
	for _, ev := range evs {
		n, err := strconv.ParseInt(ev.ID, 10, 64)
		if err != nil || n <= prev {
			t.Fatalf("event ids are not increasing decimal strings: %v", eventIDs(evs))
		}
		prev = n
		if ev.Instance != "ev" || ev.CreatedAt.IsZero() || len(ev.Data) == 0 {
			t.Fatalf("event %+v", ev)
		}
	}
	if countType(evs, event.TypeState) < 2 || countType(evs, event.TypeQR) < 1 {
		t.Fatalf("want instance.state and instance.qr events, got %+v", evs)
	}
	var states []string
	for _, ev := range evs {
		if ev.Type == event.TypeState {
			var d struct{ State, Connection string }
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				t.Fatal(err)
			}
			states = append(states, d.State)
		}
	}
	if !slices.Equal(states, []string{event.StateStarting, event.StateScanQR}) {
		t.Fatalf("state events %v", states)
	}
	// The QR event carries the code GET …/qr shows.
	qr := e.call("GET", "/v1/instances/ev/qr", token, nil).obj(t)
	for _, ev := range evs {
		if ev.Type == event.TypeQR {
			var d struct{ Code string }
			_ = json.Unmarshal(ev.Data, &d)
			if d.Code != qr["code"] {
				t.Fatalf("qr event code %q, GET qr %q", d.Code, qr["code"])
			}
		}
	}

	// Resume after an id; no after means from the start; limit bounds.
	if got := e.events("ev", token, "?after="+evs[0].ID); !slices.Equal(eventIDs(got), eventIDs(evs[1:])) {
		t.Fatalf("after=%s: %v, want %v", evs[0].ID, eventIDs(got), eventIDs(evs[1:]))
	}
	if got := e.events("ev", token, "?after="+evs[len(evs)-1].ID); len(got) != 0 {
		t.Fatalf("after the last id: %v", eventIDs(got))
	}
	if got := e.events("ev", token, ""); !slices.Equal(eventIDs(got), eventIDs(evs)) {
		t.Fatalf("without after: %v", eventIDs(got))
	}
	if got := e.events("ev", adminKey, "?after=0&limit=1"); len(got) != 1 || got[0].ID != evs[0].ID {
		t.Fatalf("limit=1: %v", eventIDs(got))
	}
	for _, q := range []string{"?after=abc", "?after=-1", "?after=1.5", "?limit=0", "?limit=1001", "?limit=x"} {
		wantErr(t, e.call("GET", "/v1/instances/ev/events"+q, token, nil), http.StatusUnprocessableEntity, "invalid")
	}
	// Another instance's token sees nothing of it.
	wantErr(t, e.call("GET", "/v1/instances/ev/events", otherToken, nil), http.StatusNotFound, "not_found")
	if got := e.events("other", otherToken, "?after=0"); len(got) != 0 {
		t.Fatalf("the other instance has events %v", eventIDs(got))
	}
}

// TestEventStream reads GET /v1/events: replay with Last-Event-ID, type
// filters, per-token scope, and the live tail.
func TestEventStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	_, _ = e.create("ev1", map[string]any{"connect": true})
	tok2, _ := e.create("ev2", map[string]any{"connect": true})
	ev1 := e.events("ev1", adminKey, "?after=0")
	ev2 := e.events("ev2", adminKey, "?after=0")
	all := append(append([]apiEvent(nil), ev1...), ev2...)
	sort.Slice(all, func(i, j int) bool { return idLess(all[i].ID, all[j].ID) })
	last := all[len(all)-1].ID

	t.Run("replay", func(t *testing.T) {
		s := e.openSSE("/v1/events", adminKey, map[string]string{"Last-Event-ID": "0"})
		if ct := s.resp.Header.Get("Cache-Control"); ct != "no-store" {
			t.Errorf("Cache-Control %q", ct)
		}
		got := s.until(last)
		if !slices.Equal(eventIDs(got), eventIDs(all)) {
			t.Fatalf("replay %v, want %v", eventIDs(got), eventIDs(all))
		}
		for i, ev := range got {
			if ev.Type != all[i].Type || ev.Instance != all[i].Instance || string(ev.Data) != string(all[i].Data) {
				t.Fatalf("stream event %+v, log has %+v", ev, all[i])
			}
		}
		select {
		case r := <-s.retry:
			if r != "2000" {
				t.Errorf("retry: %s", r)
			}
		default:
			t.Error("no retry: line")
		}
	})
	t.Run("resume", func(t *testing.T) {
		s := e.openSSE("/v1/events", adminKey, map[string]string{"Last-Event-ID": all[1].ID})
		if got := s.until(last); !slices.Equal(eventIDs(got), eventIDs(all[2:])) {
			t.Fatalf("resume after %s: %v, want %v", all[1].ID, eventIDs(got), eventIDs(all[2:]))
		}
		// ?after= works where a header cannot be set.
		s = e.openSSE("/v1/events?after="+all[1].ID, adminKey, nil)
		if got := s.until(last); !slices.Equal(eventIDs(got), eventIDs(all[2:])) {
			t.Fatalf("?after=%s: %v", all[1].ID, eventIDs(got))
		}
	})
	t.Run("types", func(t *testing.T) {
		var want []apiEvent
		for _, ev := range all {
			if ev.Type == event.TypeQR {
				want = append(want, ev)
			}
		}
		s := e.openSSE("/v1/events?types=instance.qr", adminKey, map[string]string{"Last-Event-ID": "0"})
		if got := s.until(want[len(want)-1].ID); !slices.Equal(eventIDs(got), eventIDs(want)) {
			t.Fatalf("types=instance.qr: %v, want %v", eventIDs(got), eventIDs(want))
		}
	})
	t.Run("instance filter", func(t *testing.T) {
		s := e.openSSE("/v1/events?instance=ev1", adminKey, map[string]string{"Last-Event-ID": "0"})
		if got := s.until(ev1[len(ev1)-1].ID); !slices.Equal(eventIDs(got), eventIDs(ev1)) {
			t.Fatalf("instance=ev1: %v, want %v", eventIDs(got), eventIDs(ev1))
		}
		wantErr(t, e.call("GET", "/v1/events?instance=nope", adminKey, nil), http.StatusNotFound, "not_found")
	})
	t.Run("token scope", func(t *testing.T) {
		s := e.openSSE("/v1/events", tok2, map[string]string{"Last-Event-ID": "0"})
		got := s.until(ev2[len(ev2)-1].ID)
		if !slices.Equal(eventIDs(got), eventIDs(ev2)) {
			t.Fatalf("token of ev2 sees %v, want %v", eventIDs(got), eventIDs(ev2))
		}
		for _, ev := range got {
			if ev.Instance != "ev2" {
				t.Fatalf("token of ev2 sees an event of %s", ev.Instance)
			}
		}
		// Asking for another instance looks like asking for a missing one.
		wantErr(t, e.call("GET", "/v1/events?instance=ev1", tok2, nil), http.StatusNotFound, "not_found")
	})
	t.Run("bad resume point", func(t *testing.T) {
		r := e.send(t, req{method: "GET", path: "/v1/events", key: adminKey, header: map[string]string{"Last-Event-ID": "abc"}})
		wantFields(t, r, "after")
		wantFields(t, e.call("GET", "/v1/events?after=-2", adminKey, nil), "after")
	})
	t.Run("head", func(t *testing.T) {
		// HEAD answers the headers and ends, so the connection serves the
		// next request. A server of its own, closed without waiting: a HEAD
		// stream that never ends must not hang the test.
		hs := httptest.NewServer(api.New(e.opts))
		t.Cleanup(func() { hs.Config.Close() })
		conn, err := net.Dial("tcp", hs.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = io.WriteString(conn, "HEAD /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+adminKey+"\r\n\r\n"+
			"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		head, err := http.ReadResponse(br, &http.Request{Method: "HEAD"})
		if err != nil || head.StatusCode != http.StatusOK || head.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("HEAD /v1/events: %v %+v", err, head)
		}
		next, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("the request after HEAD /v1/events got no answer: %v", err)
		}
		next.Body.Close()
		if next.StatusCode != http.StatusOK {
			t.Fatalf("the request after HEAD /v1/events: %d", next.StatusCode)
		}
	})
	t.Run("live", func(t *testing.T) {
		// Without a resume point the stream starts at the tail; a scan then
		// shows up live, ending in the state connected.
		s := e.openSSE("/v1/events?types=instance.state", adminKey, nil)
		s2 := e.openSSE("/v1/events", tok2, nil)
		logins := e.presences("+4915100000050")
		wantStatus(t, e.call("POST", "/v1/sandbox/instances/ev1/scan", adminKey, map[string]string{"phone": "+4915100000050"}), http.StatusOK)
		for {
			_, ev := s.next()
			if !idLess(last, ev.ID) {
				t.Fatalf("live stream replayed old event %s", ev.ID)
			}
			if ev.Type != event.TypeState || ev.Instance != "ev1" {
				t.Fatalf("live stream sent %+v", ev)
			}
			var d struct{ State string }
			_ = json.Unmarshal(ev.Data, &d)
			if d.State == event.StateConnected {
				break
			}
		}
		e.waitLogin("ev1", "+4915100000050", logins)
		// The token of ev2 saw none of it: its next event is ev2's own.
		wantStatus(t, e.call("POST", "/v1/instances/ev2/disconnect", tok2, nil), http.StatusOK)
		_, ev := s2.next()
		if ev.Instance != "ev2" || ev.Type != event.TypeState {
			t.Fatalf("token of ev2 got %+v", ev)
		}
	})
}

// TestEventStreamWhileUpdating renders events on a stream while the
// instance's own goroutine rewrites its row (PATCH, connect, disconnect):
// under -race this catches a stream reading instance state unsafely.
func TestEventStreamWhileUpdating(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	token, _ := e.create("busy", nil)
	s := e.openSSE("/v1/events", token, nil)
	for i := range 10 {
		wantStatus(t, e.call("POST", "/v1/instances/busy/connect", token, nil), http.StatusAccepted)
		wantStatus(t, e.call("PATCH", "/v1/instances/busy", token, map[string]any{"device_name": "d" + strconv.Itoa(i)}), http.StatusOK)
		wantStatus(t, e.call("POST", "/v1/instances/busy/disconnect", token, nil), http.StatusOK)
		wantStatus(t, e.call("PATCH", "/v1/instances/busy/settings", token, map[string]any{"send_delay_ms": i}), http.StatusOK)
	}
	// Every event on the stream names the instance, the last one is the
	// final disconnect.
	evs := e.events("busy", token, "?limit=1000")
	for _, ev := range s.until(evs[len(evs)-1].ID) {
		if ev.Instance != "busy" {
			t.Fatalf("event %s names %q", ev.ID, ev.Instance)
		}
	}
}
