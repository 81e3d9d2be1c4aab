package api_test

import (
	"net/http"
	"testing"
)

// The group and contact routes against a linked sandbox instance: every
// answer is checked against the OpenAPI document by the test client.
func TestGroupsLive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const phone = "+4915100000080"
	e.create("gl", map[string]any{"connect": true})
	e.link("gl", phone)
	base := "/v1/instances/gl"

	r := e.call("POST", base+"/groups", adminKey, map[string]any{"subject": "Family",
		"participants": []string{"+4915100000081", "+4915100000082", "+9995550000080"}})
	wantStatus(t, r, http.StatusCreated)
	body := r.obj(t)
	jid := body["group"].(map[string]any)["jid"].(string)
	results := body["participants"].([]any)
	if len(results) != 3 || results[2].(map[string]any)["result"] != "not_on_whatsapp" {
		t.Fatalf("create: %s", r.body)
	}
	wantStatus(t, e.call("GET", base+"/groups", adminKey, nil), http.StatusOK)
	r = e.call("GET", base+"/groups/"+jid, adminKey, nil)
	wantStatus(t, r, http.StatusOK)
	if n := len(r.obj(t)["group"].(map[string]any)["participants"].([]any)); n != 3 {
		t.Errorf("%d participants, want 3 (the instance and two contacts)", n)
	}
	wantStatus(t, e.call("PATCH", base+"/groups/"+jid, adminKey, map[string]any{"subject": "Family 2", "locked": true}), http.StatusOK)
	wantStatus(t, e.call("POST", base+"/groups/"+jid+"/participants", adminKey, map[string]any{"action": "promote", "participants": []string{"+4915100000081"}}), http.StatusOK)
	wantStatus(t, e.call("GET", base+"/groups/"+jid+"/invite", adminKey, nil), http.StatusOK)
	wantStatus(t, e.call("DELETE", base+"/groups/"+jid+"/invite", adminKey, nil), http.StatusOK)
	r = e.call("POST", base+"/messages", adminKey, map[string]any{"to": jid, "text": "hello family"})
	wantStatus(t, r, http.StatusAccepted)
	wantErr(t, e.call("GET", base+"/groups/120363000000000077@g.us", adminKey, nil), http.StatusNotFound, "group_not_found")

	r = e.call("POST", base+"/contacts/check", adminKey, map[string]any{"phones": []string{"+4915100000081", "+9995550000081"}})
	wantStatus(t, r, http.StatusOK)
	res := r.obj(t)["results"].([]any)
	if res[0].(map[string]any)["on_whatsapp"] != true || res[0].(map[string]any)["lid"] == "" || res[1].(map[string]any)["on_whatsapp"] != false {
		t.Errorf("check: %s", r.body)
	}
	wantStatus(t, e.call("GET", base+"/contacts/+4915100000081", adminKey, nil), http.StatusOK)
	wantStatus(t, e.call("POST", base+"/contacts/+4915100000081/presence", adminKey, nil), http.StatusOK)
	wantStatus(t, e.call("POST", base+"/presence", adminKey, map[string]any{"state": "available"}), http.StatusOK)
	wantStatus(t, e.call("POST", base+"/presence", adminKey, map[string]any{"chat": "+4915100000081", "state": "composing"}), http.StatusOK)
	wantStatus(t, e.call("POST", base+"/contacts/+4915100000082/block", adminKey, nil), http.StatusOK)
	wantStatus(t, e.call("POST", base+"/contacts/+4915100000082/unblock", adminKey, nil), http.StatusOK)
	wantStatus(t, e.call("POST", base+"/groups/"+jid+"/leave", adminKey, nil), http.StatusOK)
}
