package event

import (
	"encoding/json"
	"testing"
	"time"
)

// The state, call and webhook.disabled payloads were first encoded from
// maps: the structs must give the same bytes, so stored events and new
// ones read alike.
func TestPayloadsMatchTheirMaps(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	for _, c := range []struct {
		name string
		v    any
		m    map[string]any
	}{
		{"state", State{State: StateConnected, Previous: StateStarting, Reason: "logged_in", Connection: "open", Since: at},
			map[string]any{"state": StateConnected, "previous": StateStarting, "reason": "logged_in", "connection": "open", "since": at}},
		{"state empty", State{}, map[string]any{"state": "", "previous": "", "reason": "", "connection": "", "since": time.Time{}}},
		{"call", Call{CallID: "c1", From: "+4915", FromJID: "4915@s.whatsapp.net", Rejected: true, At: at},
			map[string]any{"call_id": "c1", "from": "+4915", "from_jid": "4915@s.whatsapp.net", "rejected": true, "at": at}},
		{"webhook.disabled", WebhookDisabled{URL: "https://h/x", Reason: "410 <Gone>", At: at},
			map[string]any{"url": "https://h/x", "reason": "410 <Gone>", "at": at}},
	} {
		got, _ := json.Marshal(c.v)
		want, _ := json.Marshal(c.m)
		if string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, want)
		}
	}
}
