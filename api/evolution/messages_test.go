package evolution_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/meowgate/meowgate/instance"
)

func TestSettingsWebhookMessagesContract(t *testing.T) {
	e := newEnv(t, true, "")
	o := e.want(e.call("POST", "/instance/create", adminKey, map[string]any{"instanceName": "m", "qrcode": true}), http.StatusCreated, map[string]any{"hash": "string"})
	hash := o["hash"].(string)
	e.link("m", "+4915100000601")

	// Settings: all six switches required; nothing changes without them.
	e.wantErr(e.call("POST", "/settings/set/m", hash, map[string]any{"rejectCall": true}), http.StatusBadRequest)
	if s, _ := e.m.Settings("m"); s.RejectCalls {
		t.Fatal("a refused settings/set changed a setting")
	}
	e.want(e.call("POST", "/settings/set/m", hash, map[string]any{"rejectCall": true, "msgCall": "no", "groupsIgnore": false,
		"alwaysOnline": false, "readMessages": true, "readStatus": false, "syncFullHistory": false, "extra": "ok"}),
		http.StatusCreated, map[string]any{"settings": map[string]any{"instanceName": "string", "settings": map[string]any{"rejectCall": "boolean", "msgCall": "string"}}})
	f := e.want(e.call("GET", "/settings/find/m", hash, nil), http.StatusOK, map[string]any{"rejectCall": "boolean", "msgCall": "string",
		"groupsIgnore": "boolean", "alwaysOnline": "boolean", "readMessages": "boolean", "readStatus": "boolean", "syncFullHistory": "boolean"})
	if f["rejectCall"] != true || f["readMessages"] != true || f["msgCall"] != "no" {
		t.Fatalf("settings/find %v", f)
	}

	// Webhook: none yet is null; nested v2 body and the webhook* spelling.
	if r := e.call("GET", "/webhook/find/m", hash, nil); r.status != 200 || string(r.body) != "null\n" {
		t.Fatalf("webhook/find without one: %d %s", r.status, r.body)
	}
	e.wantErr(e.call("POST", "/webhook/set/m", hash, map[string]any{"webhook": map[string]any{"url": "http://127.0.0.1:1/h"}}), http.StatusBadRequest)
	e.wantErr(e.call("POST", "/webhook/set/m", hash, map[string]any{"webhook": map[string]any{"enabled": true, "url": "http://127.0.0.1:1/h", "events": []string{"NOPE"}}}), http.StatusBadRequest)
	if info, _ := e.m.Get("m"); info.Webhook.URL != "" {
		t.Fatal("a refused webhook/set stored a webhook")
	}
	rowShape := map[string]any{"id": "string", "url": "string", "headers": "object|null", "enabled": "boolean", "events": "array",
		"webhookByEvents": "boolean", "webhookBase64": "boolean", "createdAt": "string", "updatedAt": "string", "instanceId": "string"}
	e.want(e.call("POST", "/webhook/set/m", hash, map[string]any{"webhook": map[string]any{"enabled": true, "url": "http://127.0.0.1:1/h",
		"webhookByEvents": true, "webhookBase64": false, "events": []string{"SEND_MESSAGE", "MESSAGES_UPDATE"}}}), http.StatusCreated, rowShape)
	info, _ := e.m.Get("m")
	if w := info.Webhook; w.Format != instance.FormatEvolution || !w.ByEvents || w.IncludeMedia || len(w.Events) != 2 {
		t.Fatalf("stored webhook %+v", w)
	}
	got := e.want(e.call("GET", "/webhook/find/m", hash, nil), http.StatusOK, rowShape)
	if ev := got["events"].([]any); len(ev) != 2 || ev[0] != "MESSAGES_UPDATE" || ev[1] != "SEND_MESSAGE" {
		t.Fatalf("events %v", ev)
	}
	// Enabled without events: all of them.
	got = e.want(e.call("POST", "/webhook/set/m", hash, map[string]any{"webhook": map[string]any{"enabled": true, "url": "http://127.0.0.1:1/h", "byEvents": false, "base64": true}}), http.StatusCreated, rowShape)
	if len(got["events"].([]any)) < 20 || got["webhookBase64"] != true {
		t.Fatalf("all events: %v", got)
	}

	// Sends: through the queue, answered PENDING in Baileys' shape.
	to := "4915100000602"
	s := e.want(e.call("POST", "/message/sendText/m", hash, map[string]any{"number": to, "text": "hi from n8n", "delay": 300, "linkPreview": false}), http.StatusCreated, sendShape)
	if s["status"] != "PENDING" || s["messageType"] != "conversation" || s["message"].(map[string]any)["conversation"] != "hi from n8n" {
		t.Fatalf("sendText %v", s)
	}
	id := s["key"].(map[string]any)["id"].(string)
	e.want(e.call("POST", "/message/sendLocation/m", hash, map[string]any{"number": to, "latitude": 52.5, "longitude": 13.4, "name": "B", "address": "X"}),
		http.StatusCreated, map[string]any{"message": map[string]any{"locationMessage": map[string]any{"degreesLatitude": "number"}}})
	e.want(e.call("POST", "/message/sendContact/m", hash, map[string]any{"number": to, "contact": []map[string]any{{"fullName": "Ann", "phoneNumber": "+4915100000603"}}}),
		http.StatusCreated, map[string]any{"message": map[string]any{"contactMessage": map[string]any{"displayName": "string", "vcard": "string"}}})
	e.want(e.call("POST", "/message/sendPoll/m", hash, map[string]any{"number": to, "name": "Lunch?", "selectableCount": 1, "values": []string{"yes", "no"}}),
		http.StatusCreated, map[string]any{"messageType": "string", "message": map[string]any{"pollCreationMessage": "object"}})
	e.want(e.call("POST", "/message/sendReaction/m", hash, map[string]any{"key": map[string]any{"id": id, "remoteJid": to + "@s.whatsapp.net", "fromMe": true}, "reaction": "👍"}),
		http.StatusCreated, map[string]any{"message": map[string]any{"reactionMessage": map[string]any{"text": "string"}}})
	png := "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
	e.want(e.call("POST", "/message/sendMedia/m", hash, map[string]any{"number": to, "mediatype": "image", "mimetype": "image/png", "media": png, "caption": "pic", "fileName": "a.png"}),
		http.StatusCreated, map[string]any{"messageType": "string", "message": map[string]any{"imageMessage": map[string]any{"caption": "string", "mimetype": "string"}}})
	// Bad sends: 400, nothing queued.
	before, _ := e.m.Messages(t.Context(), "m", storeFilter())
	e.wantErr(e.call("POST", "/message/sendText/m", hash, map[string]any{"number": to}), http.StatusBadRequest)
	e.wantErr(e.call("POST", "/message/sendText/m", hash, map[string]any{"number": to, "text": "x", "delay": "soon"}), http.StatusBadRequest)
	e.wantErr(e.call("POST", "/message/sendMedia/m", hash, map[string]any{"number": to, "mediatype": "gif", "media": png}), http.StatusBadRequest)
	e.wantErr(e.call("POST", "/message/sendPoll/m", hash, map[string]any{"number": to, "name": "q"}), http.StatusBadRequest)
	e.wantErr(e.call("POST", "/message/sendText/nothere", adminKey, map[string]any{"number": to, "text": "x"}), http.StatusNotFound)
	after, _ := e.m.Messages(t.Context(), "m", storeFilter())
	if len(after) != len(before) {
		t.Fatalf("a refused send was queued: %d → %d", len(before), len(after))
	}
	// The text arrives, after the typing its delay asked for.
	deadline := time.Now().Add(20 * time.Second)
	for {
		in, _ := e.sim.Inbox("+" + to)
		found := false
		for _, m := range in {
			found = found || m.Text == "hi from n8n"
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("inbox %v", in)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if cs := e.sim.ChatStates("+4915100000601"); len(cs) == 0 || cs[0].State != "composing" {
		t.Fatalf("no typing before the text: %+v", cs)
	}

	// whatsappNumbers.
	r := e.call("POST", "/chat/whatsappNumbers/m", hash, map[string]any{"numbers": []string{to, "9995550001"}})
	if r.status != http.StatusOK {
		t.Fatalf("whatsappNumbers: %d %s", r.status, r.body)
	}
	nums := r.json(t).([]any)
	if len(nums) != 2 {
		t.Fatalf("numbers %v", nums)
	}
	checkShape(t, r.req, "[0]", nums[0], map[string]any{"exists": "boolean", "jid": "string", "number": "string"})
	if nums[0].(map[string]any)["exists"] != true || nums[1].(map[string]any)["exists"] != false {
		t.Fatalf("numbers %v", nums)
	}
	e.wantErr(e.call("POST", "/chat/whatsappNumbers/m", hash, map[string]any{}), http.StatusBadRequest)

	// Groups: create, list, info, participants, subject, invite, leave.
	g := e.want(e.call("POST", "/group/create/m", hash, map[string]any{"subject": "Team", "participants": []string{to}}), http.StatusCreated,
		map[string]any{"id": "string", "subject": "string", "size": "number", "participants": "array"})
	gj := g["id"].(string)
	r = e.call("GET", "/group/fetchAllGroups/m?getParticipants=false", hash, nil)
	if r.status != http.StatusOK || len(r.json(t).([]any)) != 1 {
		t.Fatalf("fetchAllGroups: %d %s", r.status, r.body)
	}
	e.wantErr(e.call("GET", "/group/fetchAllGroups/m", hash, nil), http.StatusBadRequest)
	e.want(e.call("GET", "/group/findGroupInfos/m?groupJid="+gj, hash, nil), http.StatusOK, map[string]any{"id": "string", "subject": "string"})
	e.wantErr(e.call("GET", "/group/findGroupInfos/m", hash, nil), http.StatusBadRequest)
	e.want(e.call("GET", "/group/participants/m?groupJid="+gj, hash, nil), http.StatusOK, map[string]any{"participants": "array"})
	e.want(e.call("POST", "/group/updateGroupSubject/m?groupJid="+gj, hash, map[string]any{"subject": "Team 2"}), http.StatusCreated, map[string]any{"update": "string"})
	e.want(e.call("POST", "/group/updateGroupDescription/m?groupJid="+gj, hash, map[string]any{"description": "our team"}), http.StatusCreated, map[string]any{"update": "string"})
	e.wantErr(e.call("POST", "/group/updateGroupDescription/m?groupJid="+gj, hash, map[string]any{}), http.StatusBadRequest)
	e.want(e.call("POST", "/group/updateSetting/m?groupJid="+gj, hash, map[string]any{"action": "locked"}), http.StatusCreated, map[string]any{"update": "string"})
	e.wantErr(e.call("POST", "/group/updateSetting/m?groupJid="+gj, hash, map[string]any{"action": "sideways"}), http.StatusBadRequest)
	up := e.want(e.call("POST", "/group/updateParticipant/m?groupJid="+gj, hash, map[string]any{"action": "promote", "participants": []string{to}}),
		http.StatusCreated, map[string]any{"updateParticipants": "array"})
	if list := up["updateParticipants"].([]any); len(list) != 1 {
		t.Fatalf("updateParticipants %v", up)
	} else {
		checkShape(t, "POST /group/updateParticipant", "updateParticipants[0]", list[0], map[string]any{"status": "string", "jid": "string"})
	}
	e.wantErr(e.call("POST", "/group/updateParticipant/m?groupJid="+gj, hash, map[string]any{"action": "kick", "participants": []string{to}}), http.StatusBadRequest)
	inv := e.want(e.call("GET", "/group/inviteCode/m?groupJid="+gj, hash, nil), http.StatusOK, map[string]any{"inviteUrl": "string", "inviteCode": "string"})
	rev := e.want(e.call("POST", "/group/revokeInviteCode/m?groupJid="+gj, hash, nil), http.StatusCreated, map[string]any{"revoked": "boolean", "inviteCode": "string"})
	if rev["inviteCode"] == inv["inviteCode"] {
		t.Errorf("revokeInviteCode kept the code %v", inv["inviteCode"])
	}
	e.wantErr(e.call("GET", "/group/acceptInviteCode/m", hash, nil), http.StatusBadRequest)
	e.want(e.call("DELETE", "/group/leaveGroup/m?groupJid="+gj, hash, nil), http.StatusOK, map[string]any{"groupJid": "string", "leave": "boolean"})
	// Back in by the new link.
	e.want(e.call("GET", "/group/acceptInviteCode/m?inviteCode="+rev["inviteCode"].(string), hash, nil), http.StatusOK,
		map[string]any{"accepted": "boolean", "groupJid": "string"})
}
