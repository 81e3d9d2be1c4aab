package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/meowgate/meowgate/store"
)

// cancelOnHeader ends the request's context once the response starts, so
// an accepted SSE stream returns right after its headers.
type cancelOnHeader struct {
	*httptest.ResponseRecorder
	cancel context.CancelFunc
}

func (c *cancelOnHeader) WriteHeader(code int) {
	c.ResponseRecorder.WriteHeader(code)
	c.cancel()
}

// validAfter is what parseAfter promises to accept: a non-negative decimal
// event id.
func validAfter(s string) bool {
	n, err := strconv.ParseInt(s, 10, 64)
	return err == nil && n >= 0
}

// FuzzEventQuery fuzzes the SSE resume point (Last-Event-ID, else ?after=)
// and ?types= of GET /v1/events, and ?after= and ?limit= of GET
// …/events: never a 5xx, and a malformed id or limit is a 4xx. An unknown
// type is 200 today and may become 422; both pass.
func FuzzEventQuery(f *testing.F) {
	e := newFuzzEnv(f)
	for _, s := range [][4]string{
		{"", "", "", ""}, {"5", "", "", ""}, {"", "0", "message.received,instance.state", "10"},
		{"-1", "", "", ""}, {"zzz", "7", "", "0"}, {"", "9223372036854775808", "bogus", "501"},
		{"", "+3", "", "-1"}, {"1e3", "", " , ", "abc"}, {"", "0x10", "message.sent", "1"},
		{"", " 5", "", " 10"}, {"", "", "", "1000000000000000000000"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, lastID, after, types, limit string) {
		lastID = strings.Trim(lastID, " \t") // as the server parses headers
		if !validHeaderValue(lastID) {
			return
		}
		q := url.Values{}
		for k, v := range map[string]string{"after": after, "types": types, "limit": limit} {
			if v != "" {
				q.Set(k, v)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r := httptest.NewRequestWithContext(ctx, "GET", "/v1/events?"+q.Encode(), nil)
		r.Header.Set("Authorization", "Bearer "+adminKey)
		if lastID != "" {
			r.Header.Set("Last-Event-ID", lastID)
		}
		w := &cancelOnHeader{httptest.NewRecorder(), cancel}
		e.h.ServeHTTP(w, r)
		checkReply(t, "stream", w.ResponseRecorder)
		resume := lastID
		if resume == "" {
			resume = after
		}
		switch {
		case resume != "" && !validAfter(resume):
			if w.Code != http.StatusUnprocessableEntity && w.Code != http.StatusBadRequest {
				t.Fatalf("stream resuming at %q: %d, want a 4xx", resume, w.Code)
			}
		case types == "" && w.Code != http.StatusOK:
			t.Fatalf("stream resuming at %q: %d %s", resume, w.Code, w.Body)
		case w.Code != http.StatusOK && w.Code != http.StatusUnprocessableEntity:
			t.Fatalf("stream with types %q: %d %s", types, w.Code, w.Body)
		}

		list := e.serve("GET", "/v1/instances/victim/events?"+q.Encode(), "", nil)
		checkReply(t, "events", list)
		n, err := strconv.Atoi(limit)
		limitOK := limit == "" || (err == nil && n >= 1 && n <= store.MaxEventLimit)
		if ok := (after == "" || validAfter(after)) && limitOK; ok != (list.Code == http.StatusOK) {
			t.Fatalf("events after %q limit %q: %d %s", after, limit, list.Code, list.Body)
		}
	})
}

// FuzzMessageQuery fuzzes the history filters of GET …/messages: never a
// 5xx; a bad direction, limit or chat is a 4xx. A malformed before is 200
// today and may become 422; both pass.
func FuzzMessageQuery(f *testing.F) {
	e := newFuzzEnv(f)
	for _, s := range [][4]string{
		{"", "", "", ""}, {"in", "10", "+4915123456789", ""}, {"out", "500", "4915123456789@s.whatsapp.net", e.sentID},
		{"sideways", "0", "0151", "zzz"}, {"", "501", "a@b", "2026-01-01T00:00:00Z"}, {"", "-1", "@g.us", "%"},
		{"IN", "1e2", " +4915123456789 ", "3EB0"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, direction, limit, chat, before string) {
		q := url.Values{}
		for k, v := range map[string]string{"direction": direction, "limit": limit, "chat": chat, "before": before} {
			if v != "" {
				q.Set(k, v)
			}
		}
		w := e.serve("GET", "/v1/instances/victim/messages?"+q.Encode(), "", nil)
		checkReply(t, "messages", w)
		n, err := strconv.Atoi(limit)
		bad := (direction != "" && direction != "in" && direction != "out") ||
			(limit != "" && (err != nil || n < 1 || n > 500))
		if bad && w.Code < 400 {
			t.Fatalf("messages direction %q limit %q: %d, want a 4xx", direction, limit, w.Code)
		}
	})
}
