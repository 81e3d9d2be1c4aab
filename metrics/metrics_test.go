package metrics

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/meowgate/meowgate/event"
)

func TestLostConnection(t *testing.T) {
	cases := []struct {
		prev, state, reason string
		want                bool
	}{
		{event.StateConnected, event.StateDisconnected, event.ReasonNetwork, true},
		{event.StateConnected, event.StateDisconnected, event.ReasonKeepaliveTimeout, true},
		{event.StateConnected, event.StateDisconnected, event.ReasonStreamReplaced, true},
		{event.StateConnected, event.StateFailed, event.ReasonTempBanned, true},
		{event.StateConnected, event.StateDisconnected, event.ReasonUserRequest, false},
		{event.StateConnected, event.StateDisconnected, event.ReasonShutdown, false},
		{event.StateConnected, event.StateStarting, event.ReasonRestart, false},
		{event.StateConnected, event.StateLoggedOut, event.ReasonRemoteLogout, false},
		{event.StateStarting, event.StateDisconnected, event.ReasonNetwork, false}, // never got there
		{event.StateStarting, event.StateConnected, event.ReasonLoggedIn, false},
	}
	for _, c := range cases {
		if got := lostConnection(event.State{Previous: c.prev, State: c.state, Reason: c.reason}); got != c.want {
			t.Errorf("%s → %s (%s): %v, want %v", c.prev, c.state, c.reason, got, c.want)
		}
	}
}

// annotate adds HELP and TYPE once per family, histograms included, and
// leaves lines of families it does not know alone.
func TestAnnotate(t *testing.T) {
	in := `meowgate_message_send_latency_seconds_bucket{name="a",le="0.1"} 0
meowgate_message_send_latency_seconds_bucket{name="a",le="+Inf"} 1
meowgate_message_send_latency_seconds_sum{name="a"} 2
meowgate_message_send_latency_seconds_count{name="a"} 1
meowgate_message_send_latency_seconds_bucket{name="b",le="+Inf"} 0
meowgate_messages_sent_total{name="a"} 1
meowgate_messages_sent_total{name="b"} 0
other_thing 3
`
	want := "# HELP meowgate_message_send_latency_seconds " + help["meowgate_message_send_latency_seconds"][1] + "\n" +
		"# TYPE meowgate_message_send_latency_seconds histogram\n" +
		`meowgate_message_send_latency_seconds_bucket{name="a",le="0.1"} 0
meowgate_message_send_latency_seconds_bucket{name="a",le="+Inf"} 1
meowgate_message_send_latency_seconds_sum{name="a"} 2
meowgate_message_send_latency_seconds_count{name="a"} 1
meowgate_message_send_latency_seconds_bucket{name="b",le="+Inf"} 0
` + "# HELP meowgate_messages_sent_total " + help["meowgate_messages_sent_total"][1] + "\n" +
		"# TYPE meowgate_messages_sent_total counter\n" +
		`meowgate_messages_sent_total{name="a"} 1
meowgate_messages_sent_total{name="b"} 0
other_thing 3
`
	var b bytes.Buffer
	annotate(&b, []byte(in))
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// The sent→delivered bookkeeping forgets messages never delivered: after
// sentTTL, and beyond maxSent at once.
func TestSentAtBounded(t *testing.T) {
	m := &Metrics{sentAt: map[msgKey]time.Time{}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		m.rememberSentLocked(msgKey{"a", fmt.Sprint(i)}, t0)
	}
	if len(m.sentAt) != 1000 {
		t.Fatalf("%d remembered, want 1000", len(m.sentAt))
	}
	later := t0.Add(sentTTL + time.Minute)
	m.rememberSentLocked(msgKey{"a", "new"}, later)
	if _, ok := m.sentAt[msgKey{"a", "new"}]; len(m.sentAt) != 1 || !ok {
		t.Fatalf("after sentTTL: %d remembered, want only the new one", len(m.sentAt))
	}
	for i := range maxSent + 10 {
		m.rememberSentLocked(msgKey{"b", fmt.Sprint(i)}, later)
	}
	if len(m.sentAt) > maxSent {
		t.Fatalf("%d remembered, more than maxSent %d", len(m.sentAt), maxSent)
	}
}

// The memory an instance's series take stays small (the README says "a
// few KB"); the figure is logged.
func TestSeriesMemory(t *testing.T) {
	const n = 500
	m := New(Options{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m.mu.Lock()
	for i := range n {
		m.seriesLocked(fmt.Sprintf("ins_%04d", i), fmt.Sprintf("instance-%04d", i))
	}
	m.mu.Unlock()
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	t.Logf("%.0f bytes of heap per instance", per)
	if per > 16<<10 {
		t.Errorf("%.0f bytes per instance", per)
	}
	runtime.KeepAlive(m)
	// Dropping them frees the names: a name can be registered again.
	m.mu.Lock()
	m.dropLocked("ins_0000")
	m.seriesLocked("ins_new", "instance-0000")
	m.seriesLocked("ins_newer", "instance-0001") // takes the name over
	m.mu.Unlock()
	if len(m.per) != n {
		t.Errorf("%d instances with series, want %d", len(m.per), n)
	}
}
