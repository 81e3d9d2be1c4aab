package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
)

// until shows in the instance object and GET …/state only while a ban or
// restriction has one.
func TestUntilInViews(t *testing.T) {
	until := time.Date(2026, 5, 1, 12, 0, 0, 0, time.FixedZone("x", 3600))
	info := &instance.Info{Name: "a", State: event.StateFailed, Reason: event.ReasonTempBanned, Until: until}
	for _, v := range []any{viewInstance(info), viewState(info)} {
		b, _ := json.Marshal(v)
		if !strings.Contains(string(b), `"until":"2026-05-01T11:00:00Z"`) {
			t.Fatalf("no until in %s", b)
		}
	}
	info.Until = time.Time{}
	for _, v := range []any{viewInstance(info), viewState(info)} {
		b, _ := json.Marshal(v)
		if strings.Contains(string(b), `"until"`) {
			t.Fatalf("until without a ban in %s", b)
		}
	}
}
