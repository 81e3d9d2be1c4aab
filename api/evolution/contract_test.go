package evolution_test

import (
	"net/http"
	"testing"

	"github.com/meowgate/meowgate/instance"
)

func TestOffByDefault(t *testing.T) {
	e := newEnv(t, false, "")
	for _, p := range []string{"/instance/create", "/instance/fetchInstances", "/message/sendText/x", "/webhook/set/x"} {
		r := e.call("POST", p, adminKey, map[string]any{"instanceName": "x"})
		if r.status != http.StatusNotFound || !contains(string(r.body), `"code":"not_found"`) {
			t.Fatalf("%s with compat off: %d %s", p, r.status, r.body)
		}
	}
	if len(e.m.List()) != 0 {
		t.Fatal("an instance was created with compat off")
	}
	// meowgate's own API is unchanged.
	if r := e.call("GET", "/v1/instances", adminKey, nil); r.status != http.StatusOK {
		t.Fatalf("GET /v1/instances: %d", r.status)
	}
}

func TestPrefix(t *testing.T) {
	e := newEnv(t, true, "/evolution")
	if r := e.call("GET", "/instance/fetchInstances", adminKey, nil); r.status != http.StatusNotFound {
		t.Fatalf("root path with a prefix: %d", r.status)
	}
	r := e.call("GET", "/evolution/instance/fetchInstances", adminKey, nil)
	if r.status != http.StatusOK || string(r.body) != "[]\n" {
		t.Fatalf("prefixed fetchInstances: %d %s", r.status, r.body)
	}
	e.wantErr(e.call("GET", "/evolution/instance/connectionState/nope", adminKey, nil), http.StatusNotFound)
}

func TestInstanceLifecycleContract(t *testing.T) {
	e := newEnv(t, true, "")
	// Auth: no key, a wrong key.
	e.wantErr(e.call("GET", "/instance/fetchInstances", "", nil), http.StatusUnauthorized)
	e.wantErr(e.call("POST", "/instance/create", "wrong", map[string]any{"instanceName": "a"}), http.StatusUnauthorized)
	// Bad input: 400 and nothing stored.
	e.wantErr(e.call("POST", "/instance/create", adminKey, map[string]any{"instanceName": ""}), http.StatusBadRequest)
	e.wantErr(e.call("POST", "/instance/create", adminKey, map[string]any{"instanceName": "a", "rejectCall": "yes"}), http.StatusBadRequest)
	e.wantErr(e.call("POST", "/instance/create", adminKey, map[string]any{"instanceName": "a",
		"webhook": map[string]any{"enabled": true, "url": "ftp://x"}}), http.StatusBadRequest)
	if len(e.m.List()) != 0 {
		t.Fatal("bad creates stored an instance")
	}

	// Create with a QR code, flat settings, a webhook and unknown fields.
	o := e.want(e.call("POST", "/instance/create", adminKey, map[string]any{
		"instanceName": "evo", "qrcode": true, "integration": "WHATSAPP-BAILEYS", "rejectCall": true, "msgCall": "busy",
		"groupsIgnore": true, "readMessages": true, "someFutureField": 1,
		"webhook": map[string]any{"url": "http://127.0.0.1:1/hook", "byEvents": true, "base64": true, "events": []string{"MESSAGES_UPSERT", "CONNECTION_UPDATE"}},
	}), http.StatusCreated, map[string]any{
		"instance": map[string]any{"instanceName": "string", "instanceId": "string", "integration": "string",
			"webhookWaBusiness": "null", "accessTokenWaBusiness": "string", "status": "string"},
		"hash":    "string",
		"webhook": map[string]any{"webhookUrl": "string", "webhookHeaders": "object|null", "webhookByEvents": "boolean", "webhookBase64": "boolean"},
		"settings": map[string]any{"rejectCall": "boolean", "msgCall": "string", "groupsIgnore": "boolean", "alwaysOnline": "boolean",
			"readMessages": "boolean", "readStatus": "boolean", "syncFullHistory": "boolean", "wavoipToken": "string"},
		"qrcode": qrShape,
	})
	hash := o["hash"].(string)
	info, err := e.m.Get("evo")
	if err != nil {
		t.Fatal(err)
	}
	if !info.Settings.RejectCalls || info.Settings.RejectCallMessage != "busy" || !info.Settings.IgnoreGroups || !info.Settings.MarkRead {
		t.Fatalf("settings not mapped: %+v", info.Settings)
	}
	wh := info.Webhook
	if wh.Format != instance.FormatEvolution || !wh.ByEvents || !wh.IncludeMedia || !wh.Enabled ||
		len(wh.Events) != 4 { // received, echo, reaction, state
		t.Fatalf("webhook %+v", wh)
	}
	// Duplicate name: 403.
	e.wantErr(e.call("POST", "/instance/create", adminKey, map[string]any{"instanceName": "evo"}), http.StatusForbidden)
	// The hash is the instance's token; it cannot create nor see others.
	e.wantErr(e.call("POST", "/instance/create", hash, map[string]any{"instanceName": "b"}), http.StatusUnauthorized)
	e.want(e.call("POST", "/instance/create", adminKey, map[string]any{"instanceName": "other"}), http.StatusCreated, map[string]any{"hash": "string"})
	e.wantErr(e.call("GET", "/instance/connectionState/other", hash, nil), http.StatusUnauthorized)
	e.wantErr(e.call("GET", "/instance/connectionState/nothere", hash, nil), http.StatusUnauthorized)
	e.wantErr(e.call("GET", "/instance/connectionState/nothere", adminKey, nil), http.StatusNotFound)
	var list []any
	if r := e.call("GET", "/instance/fetchInstances", hash, nil); r.status != 200 {
		t.Fatalf("fetchInstances by token: %d %s", r.status, r.body)
	} else if list = r.json(t).([]any); len(list) != 1 {
		t.Fatalf("a token sees %d instances", len(list))
	}

	// Connect while waiting for a scan: the QR code.
	e.want(e.call("GET", "/instance/connect/evo", hash, nil), http.StatusOK, qrShape)
	e.want(e.call("GET", "/instance/connectionState/evo", hash, nil), http.StatusOK,
		map[string]any{"instance": map[string]any{"instanceName": "string", "state": "string"}})
	e.link("evo", "+4915100000501")
	st := e.want(e.call("GET", "/instance/connectionState/evo", hash, nil), http.StatusOK,
		map[string]any{"instance": map[string]any{"instanceName": "string", "state": "string"}})
	if st["instance"].(map[string]any)["state"] != "open" {
		t.Fatalf("state %v", st)
	}
	e.want(e.call("POST", "/instance/connect/evo", hash, nil), http.StatusOK, map[string]any{"instance": map[string]any{"state": "string"}})

	r := e.call("GET", "/instance/fetchInstances?instanceName=evo", adminKey, nil)
	if r.status != http.StatusOK {
		t.Fatalf("fetchInstances: %d %s", r.status, r.body)
	}
	rows := r.json(t).([]any)
	if len(rows) != 1 {
		t.Fatalf("rows %v", rows)
	}
	checkShape(t, r.req, "[0]", rows[0], map[string]any{"id": "string", "name": "string", "connectionStatus": "string",
		"ownerJid": "string", "profileName": "string|null", "integration": "string", "number": "string|null", "token": "null",
		"createdAt": "string", "updatedAt": "string", "Setting": map[string]any{"rejectCall": "boolean", "instanceId": "string"},
		"_count": map[string]any{"Message": "number", "Contact": "number", "Chat": "number"}})
	e.wantErr(e.call("GET", "/instance/fetchInstances?instanceName=nothere", adminKey, nil), http.StatusNotFound)

	e.want(e.call("POST", "/instance/setPresence/evo", hash, map[string]any{"presence": "available"}), http.StatusCreated, map[string]any{"presence": "string"})
	e.wantErr(e.call("POST", "/instance/setPresence/evo", hash, map[string]any{}), http.StatusBadRequest)

	// Logout, then again: 400; delete.
	e.want(e.call("DELETE", "/instance/logout/evo", hash, nil), http.StatusOK,
		map[string]any{"status": "string", "error": "boolean", "response": map[string]any{"message": "string"}})
	e.wantErr(e.call("DELETE", "/instance/logout/evo", hash, nil), http.StatusBadRequest)
	e.want(e.call("POST", "/instance/restart/evo", hash, nil), http.StatusOK, map[string]any{"error": "boolean", "message": "string"})
	e.want(e.call("DELETE", "/instance/delete/evo", adminKey, nil), http.StatusOK,
		map[string]any{"status": "string", "error": "boolean", "response": map[string]any{"message": "string"}})
	e.wantErr(e.call("DELETE", "/instance/delete/evo", adminKey, nil), http.StatusNotFound)
}

func contains(s, sub string) bool {
	return len(s) >= len(sub) && (s == sub || len(sub) == 0 || indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
