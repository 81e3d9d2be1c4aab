package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/types"
)

// A sandbox contact creates a group with the instance in it; a contact
// writes into it, and bad input names the field.
func TestSandboxGroups(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const phone = "+4915100000070"
	e.create("grp", map[string]any{"connect": true})
	e.link("grp", phone)

	wantFields(t, e.call("POST", "/v1/sandbox/groups", adminKey, map[string]any{"owner": "0151", "participants": []string{}}), "owner", "subject", "participants")
	wantFields(t, e.call("POST", "/v1/sandbox/groups", adminKey, map[string]any{"owner": "+4915100000071", "subject": "T",
		"participants": []string{"+9991234567"}}), "participants[0]")
	r := e.call("POST", "/v1/sandbox/groups", adminKey, map[string]any{"owner": "+4915100000071", "subject": "Team",
		"participants": []string{phone, "+4915100000072"}})
	wantStatus(t, r, http.StatusCreated)
	jid, _ := r.obj(t)["jid"].(string)
	gid, err := types.ParseJID(jid)
	if err != nil || gid.Server != types.GroupServer {
		t.Fatalf("group jid %q: %v", jid, err)
	}
	g, err := e.sim.Group(gid)
	if err != nil || g.Subject != "Team" || len(g.Participants) != 3 || g.Participants[0].Phone != "+4915100000071" {
		t.Fatalf("group %+v, %v", g, err)
	}
	r = e.call("POST", "/v1/sandbox/instances/grp/incoming", adminKey, map[string]string{"from": "+4915100000072", "text": "hi all", "group": jid})
	wantStatus(t, r, http.StatusAccepted)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.sim.Wait(ctx, e.sim.Idle); err != nil {
		t.Fatal(err)
	}
}
