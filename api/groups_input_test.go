package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestGroupBadInput sends malformed and invalid input to the group, contact
// and presence routes of an instance that never connected: each is refused
// with the documented status, code and field before WhatsApp is asked (so
// the answer is the same connected or not), and nothing is stored.
func TestGroupBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.create("victim", nil)
	eventsBefore := e.call("GET", "/v1/instances/victim/events", adminKey, nil)
	wantStatus(t, eventsBefore, http.StatusOK)

	const base = "/v1/instances/victim"
	numbers := func(n int) string {
		ps := make([]string, n)
		for i := range ps {
			ps[i] = fmt.Sprintf("+49151%08d", i)
		}
		js, _ := json.Marshal(ps)
		return string(js)
	}
	cases := []struct {
		name, method, path string
		body               string
		status             int
		code               string
		fields             []string
	}{
		// Malformed group JIDs, on every route that takes one.
		{"group: letters", "GET", base + "/groups/abc", "", 422, "invalid", []string{"jid"}},
		{"group: a phone JID", "GET", base + "/groups/4915100000001@s.whatsapp.net", "", 422, "invalid", []string{"jid"}},
		{"group: a LID", "GET", base + "/groups/123456789012345@lid", "", 422, "invalid", []string{"jid"}},
		{"group: no user", "GET", base + "/groups/@g.us", "", 422, "invalid", []string{"jid"}},
		{"group: letters before @g.us", "GET", base + "/groups/12ab@g.us", "", 422, "invalid", []string{"jid"}},
		{"patch: bad jid", "PATCH", base + "/groups/abc", `{"subject":"x"}`, 422, "invalid", []string{"jid"}},
		{"participants: bad jid", "POST", base + "/groups/abc/participants", `{"action":"add","participants":["+4915100000001"]}`, 422, "invalid", []string{"jid"}},
		{"invite: bad jid", "GET", base + "/groups/abc/invite", "", 422, "invalid", []string{"jid"}},
		{"reset invite: bad jid", "DELETE", base + "/groups/4915100000001@s.whatsapp.net/invite", "", 422, "invalid", []string{"jid"}},
		{"leave: bad jid", "POST", base + "/groups/abc/leave", "", 422, "invalid", []string{"jid"}},

		// Create.
		{"create: no subject", "POST", base + "/groups", `{"participants":["+4915100000001"]}`, 422, "invalid", []string{"subject"}},
		{"create: blank subject", "POST", base + "/groups", `{"subject":"   ","participants":["+4915100000001"]}`, 422, "invalid", []string{"subject"}},
		{"create: 101-character subject", "POST", base + "/groups", `{"subject":"` + strings.Repeat("s", 101) + `","participants":["+4915100000001"]}`, 422, "invalid", []string{"subject"}},
		{"create: no participants", "POST", base + "/groups", `{"subject":"Team"}`, 422, "invalid", []string{"participants"}},
		{"create: empty participants", "POST", base + "/groups", `{"subject":"Team","participants":[]}`, 422, "invalid", []string{"participants"}},
		{"create: 1024 participants", "POST", base + "/groups", `{"subject":"Team","participants":` + numbers(1024) + `}`, 422, "invalid", []string{"participants"}},
		{"create: a bad number", "POST", base + "/groups", `{"subject":"Team","participants":["+4915100000001","0151 123"]}`, 422, "invalid", []string{"participants"}},
		{"create: a group as a participant", "POST", base + "/groups", `{"subject":"Team","participants":["120363000000000001@g.us"]}`, 422, "invalid", []string{"participants"}},
		{"create: participants a string", "POST", base + "/groups", `{"subject":"Team","participants":"+4915100000001"}`, 422, "invalid", []string{"participants"}},
		{"create: unknown field", "POST", base + "/groups", `{"subject":"Team","participants":["+4915100000001"],"colour":"red"}`, 400, "bad_request", []string{"colour"}},
		{"create: syntax error", "POST", base + "/groups", `{"subject":`, 400, "bad_request", nil},
		{"create: empty body", "POST", base + "/groups", ``, 400, "bad_request", nil},

		// Update.
		{"patch: nothing to change", "PATCH", base + "/groups/120363000000000001@g.us", `{}`, 422, "invalid", []string{"subject"}},
		{"patch: empty subject", "PATCH", base + "/groups/120363000000000001@g.us", `{"subject":""}`, 422, "invalid", []string{"subject"}},
		{"patch: 2049-character description", "PATCH", base + "/groups/120363000000000001@g.us", `{"description":"` + strings.Repeat("d", 2049) + `"}`, 422, "invalid", []string{"description"}},
		{"patch: announce a string", "PATCH", base + "/groups/120363000000000001@g.us", `{"announce":"yes"}`, 422, "invalid", []string{"announce"}},
		{"patch: unknown field", "PATCH", base + "/groups/120363000000000001@g.us", `{"name":"x"}`, 400, "bad_request", []string{"name"}},

		// Participants.
		{"participants: unknown action", "POST", base + "/groups/120363000000000001@g.us/participants", `{"action":"kick","participants":["+4915100000001"]}`, 422, "invalid", []string{"action"}},
		{"participants: no action", "POST", base + "/groups/120363000000000001@g.us/participants", `{"participants":["+4915100000001"]}`, 422, "invalid", []string{"action"}},
		{"participants: none", "POST", base + "/groups/120363000000000001@g.us/participants", `{"action":"remove","participants":[]}`, 422, "invalid", []string{"participants"}},
		{"participants: 51", "POST", base + "/groups/120363000000000001@g.us/participants", `{"action":"add","participants":` + numbers(51) + `}`, 422, "invalid", []string{"participants"}},
		{"participants: a bad number", "POST", base + "/groups/120363000000000001@g.us/participants", `{"action":"promote","participants":["abc"]}`, 422, "invalid", []string{"participants"}},
		{"participants: unknown field", "POST", base + "/groups/120363000000000001@g.us/participants", `{"action":"add","participants":["+4915100000001"],"admin":true}`, 400, "bad_request", []string{"admin"}},

		// Join.
		{"join: link and code", "POST", base + "/groups/join", `{"link":"https://chat.whatsapp.com/AbCdEf","code":"AbCdEf"}`, 422, "invalid", []string{"link"}},
		{"join: neither", "POST", base + "/groups/join", `{}`, 422, "invalid", []string{"link"}},
		{"join: another site", "POST", base + "/groups/join", `{"link":"https://example.com/AbCdEf"}`, 422, "invalid", []string{"link"}},
		{"join: code with a space", "POST", base + "/groups/join", `{"code":"AbC dEf"}`, 422, "invalid", []string{"link"}},
		{"join: unknown field", "POST", base + "/groups/join", `{"code":"AbCdEf","group":"x"}`, 400, "bad_request", []string{"group"}},

		// Contacts.
		{"check: no phones", "POST", base + "/contacts/check", `{"phones":[]}`, 422, "invalid", []string{"phones"}},
		{"check: missing phones", "POST", base + "/contacts/check", `{}`, 422, "invalid", []string{"phones"}},
		{"check: 51 numbers", "POST", base + "/contacts/check", `{"phones":` + numbers(51) + `}`, 422, "invalid", []string{"phones"}},
		{"check: a bad number", "POST", base + "/contacts/check", `{"phones":["+4915100000001","0151 123","+4915100000002","4915100000003"]}`, 422, "invalid", []string{"phones[1]", "phones[3]"}},
		{"check: a JID", "POST", base + "/contacts/check", `{"phones":["4915100000001@s.whatsapp.net"]}`, 422, "invalid", []string{"phones[0]"}},
		{"check: phones a string", "POST", base + "/contacts/check", `{"phones":"+4915100000001"}`, 422, "invalid", []string{"phones"}},
		{"check: unknown field", "POST", base + "/contacts/check", `{"phones":["+4915100000001"],"lids":true}`, 400, "bad_request", []string{"lids"}},
		{"contact: not a person", "GET", base + "/contacts/abc", "", 422, "invalid", []string{"contact"}},
		{"contact: a group", "GET", base + "/contacts/120363000000000001@g.us", "", 422, "invalid", []string{"contact"}},
		{"block: not a person", "POST", base + "/contacts/0151/block", "", 422, "invalid", []string{"contact"}},
		{"unblock: a group", "POST", base + "/contacts/120363000000000001@g.us/unblock", "", 422, "invalid", []string{"contact"}},
		{"subscribe: not a person", "POST", base + "/contacts/abc/presence", "", 422, "invalid", []string{"contact"}},

		// Presence.
		{"presence: bad state", "POST", base + "/presence", `{"state":"dancing"}`, 422, "invalid", []string{"state"}},
		{"presence: no state", "POST", base + "/presence", `{}`, 422, "invalid", []string{"state"}},
		{"presence: typing without a chat", "POST", base + "/presence", `{"state":"composing"}`, 422, "invalid", []string{"state"}},
		{"presence: online in a chat", "POST", base + "/presence", `{"chat":"+4915100000001","state":"available"}`, 422, "invalid", []string{"state"}},
		{"presence: bad chat", "POST", base + "/presence", `{"chat":"0151 123","state":"composing"}`, 422, "invalid", []string{"chat"}},
		{"presence: unknown field", "POST", base + "/presence", `{"state":"available","until":"1h"}`, 400, "bad_request", []string{"until"}},
		{"presence: syntax error", "POST", base + "/presence", `{"state":}`, 400, "bad_request", nil},
	}
	for _, c := range cases {
		var body any
		if c.body != "" {
			body = c.body
		}
		r := e.send(t, req{method: c.method, path: c.path, key: adminKey, body: body})
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d; body %s", c.name, r.status, c.status, r.body)
			continue
		}
		errObj := checkErrShape(t, r, c.code)
		fields, _ := errObj["fields"].(map[string]any)
		for _, f := range c.fields {
			if msg, _ := fields[f].(string); msg == "" {
				t.Errorf("%s: fields lack %q: %s", c.name, f, r.body)
			}
		}
	}

	// Nothing was stored: no group, no message, no event.
	if r := e.call("GET", base+"/groups", adminKey, nil); string(r.body) != "{\"groups\":[]}\n" {
		t.Errorf("GET …/groups after bad input: %s", r.body)
	}
	for _, p := range []string{base + "/messages", base + "/queue"} {
		if r := e.call("GET", p, adminKey, nil); string(r.body) != "{\"messages\":[]}\n" {
			t.Errorf("GET %s after bad input: %s", p, r.body)
		}
	}
	if r := e.call("GET", base+"/events", adminKey, nil); string(r.body) != string(eventsBefore.body) {
		t.Errorf("events after bad input:\nbefore %s\nafter  %s", eventsBefore.body, r.body)
	}
}
