package evolution

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
)

const (
	integration = "WHATSAPP-BAILEYS" // the only integration served
	lifeTimeout = 30 * time.Second
	qrWait      = 5 * time.Second // Evolution waits about this long for the first QR
)

// flatSettings are Evolution's instance settings (settings.schema.ts).
type flatSettings struct {
	RejectCall      *bool   `json:"rejectCall"`
	MsgCall         *string `json:"msgCall"`
	GroupsIgnore    *bool   `json:"groupsIgnore"`
	AlwaysOnline    *bool   `json:"alwaysOnline"`
	ReadMessages    *bool   `json:"readMessages"`
	ReadStatus      *bool   `json:"readStatus"`
	SyncFullHistory *bool   `json:"syncFullHistory"`
	WavoipToken     *string `json:"wavoipToken"`
}

// patch maps Evolution's settings onto meowgate's.
func (f *flatSettings) patch() *instance.SettingsPatch {
	return &instance.SettingsPatch{
		RejectCalls: f.RejectCall, RejectCallMessage: f.MsgCall, IgnoreGroups: f.GroupsIgnore,
		AlwaysOnline: f.AlwaysOnline, MarkRead: f.ReadMessages, ReadStatus: f.ReadStatus, SyncFullHistory: f.SyncFullHistory,
	}
}

// settingsView is meowgate's settings as Evolution's LocalSettings.
func settingsView(s instance.Settings) map[string]any {
	return map[string]any{
		"rejectCall": s.RejectCalls, "msgCall": s.RejectCallMessage, "groupsIgnore": s.IgnoreGroups,
		"alwaysOnline": s.AlwaysOnline, "readMessages": s.MarkRead, "readStatus": s.ReadStatus,
		"syncFullHistory": s.SyncFullHistory, "wavoipToken": "",
	}
}

type createBody struct {
	InstanceName string  `json:"instanceName"`
	Token        string  `json:"token"`
	Number       string  `json:"number"`
	QRCode       bool    `json:"qrcode"`
	Integration  string  `json:"integration"`
	Webhook      *hookIn `json:"webhook"`
	// The flat webhook fields the create schema also lists.
	WebhookURL      string   `json:"webhookUrl"`
	WebhookByEvents *bool    `json:"webhookByEvents"`
	WebhookBase64   *bool    `json:"webhookBase64"`
	WebhookEvents   []string `json:"webhookEvents"`
	ProxyHost       string   `json:"proxyHost"`
	ProxyPort       string   `json:"proxyPort"`
	ProxyProtocol   string   `json:"proxyProtocol"`
	ProxyUsername   string   `json:"proxyUsername"`
	ProxyPassword   string   `json:"proxyPassword"`
	flatSettings
}

var numberRE = regexp.MustCompile(`^\d+[.@\w-]+`)

func (h *handler) create(w http.ResponseWriter, r *http.Request, c *caller) error {
	var b createBody
	if err := decode(w, r, &b, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	if b.InstanceName == "" {
		return badRequest(`The "instanceName" cannot be empty`)
	}
	if b.Number != "" && !numberRE.MatchString(b.Number) {
		return badRequest(fmt.Sprintf("number does not match pattern %q", numberRE.String()))
	}
	if b.Integration != "" && b.Integration != integration {
		return badRequest("Invalid integration")
	}
	if b.Token != "" {
		// meowgate makes its tokens (and keeps only their hash): the one
		// returned as hash is the instance's token.
		h.log.Warn("Evolution create: a chosen token is not supported; use the returned hash", "instance", b.InstanceName)
	}
	hook := b.Webhook
	if hook == nil && b.WebhookURL != "" {
		hook = &hookIn{URL: &b.WebhookURL, ByEvents: b.WebhookByEvents, Base64: b.WebhookBase64, Events: b.WebhookEvents}
		on := true
		hook.Enabled = &on
	}
	p := instance.CreateParams{Name: b.InstanceName, Settings: b.flatSettings.patch(), Connect: b.QRCode || b.Number != ""}
	if hook != nil {
		if hook.Enabled == nil {
			on := true // Evolution turns a webhook given at create on
			hook.Enabled = &on
		}
		wp, err := hook.patch()
		if err != nil {
			return err
		}
		p.Webhook = wp
	}
	if b.ProxyHost != "" && b.ProxyPort != "" && b.ProxyProtocol != "" {
		u := &url.URL{Scheme: b.ProxyProtocol, Host: b.ProxyHost + ":" + b.ProxyPort}
		if b.ProxyUsername != "" {
			u.User = url.UserPassword(b.ProxyUsername, b.ProxyPassword)
		}
		s := u.String()
		p.ProxyURL = &s
	}
	ctx, cancel := withTimeout(r, lifeTimeout)
	defer cancel()
	info, token, qr, err := h.m.Create(ctx, p)
	if err != nil {
		return toAPIError(err, b.InstanceName)
	}
	var qrOut map[string]any
	if p.Connect {
		pairing := ""
		if b.Number != "" {
			if pairing, err = h.m.PairCode(ctx, info.ID, "+"+digits(b.Number)); err != nil {
				h.log.Warn("Evolution create: pairing code", "instance", info.Name, "err", err)
			}
		}
		if qr == nil {
			qr, _ = h.m.QR(info.ID)
		}
		qrOut = h.qrView(info.ID, qr, pairing)
		if info2, err := h.m.Get(info.ID); err == nil {
			info = info2
		}
	}
	hookOut := map[string]any{}
	if hook != nil {
		hookOut = map[string]any{"webhookUrl": info.Webhook.URL, "webhookHeaders": info.Webhook.Headers,
			"webhookByEvents": info.Webhook.ByEvents, "webhookBase64": info.Webhook.IncludeMedia}
	}
	out := map[string]any{
		"instance": map[string]any{
			"instanceName": info.Name, "instanceId": info.ID, "integration": integration,
			"webhookWaBusiness": nil, "accessTokenWaBusiness": "", "status": instance.Connection(info.State),
		},
		"hash":      token,
		"webhook":   hookOut,
		"websocket": map[string]any{}, "rabbitmq": map[string]any{}, "nats": map[string]any{}, "sqs": map[string]any{},
		"settings": settingsView(info.Settings),
	}
	if qrOut != nil {
		out["qrcode"] = qrOut
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// qrView is Evolution's wa.QrCode.
func (h *handler) qrView(id string, qr *instance.QR, pairing string) map[string]any {
	out := map[string]any{"pairingCode": nil, "code": nil, "base64": nil, "count": h.qrs.count(id, "")}
	if pairing != "" {
		out["pairingCode"] = pairing
	}
	if qr != nil && qr.Code != "" {
		out["code"] = qr.Code
		out["count"] = h.qrs.count(id, qr.Code)
		if png, err := qrcode.Encode(qr.Code, qrcode.Medium, 256); err == nil {
			out["base64"] = "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
		}
	}
	return out
}

// digits keeps the digits of a phone number as clients write it.
func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func stateView(info *instance.Info) map[string]any {
	return map[string]any{"instance": map[string]any{"instanceName": info.Name, "state": instance.Connection(info.State)}}
}

func (h *handler) connectionState(w http.ResponseWriter, r *http.Request, c *caller) error {
	writeJSON(w, http.StatusOK, stateView(c.target))
	return nil
}

func (h *handler) connect(w http.ResponseWriter, r *http.Request, c *caller) error {
	writeJSON(w, http.StatusOK, h.connectResult(r, c.target, r.URL.Query().Get("number")))
	return nil
}

// connectResult is what Evolution's connectToWhatsapp answers: the state
// when open, else the QR code (starting the instance if it was closed).
// Its failures are a 200 with {error:true, message}, as there.
func (h *handler) connectResult(r *http.Request, info *instance.Info, number string) any {
	ctx, cancel := withTimeout(r, lifeTimeout)
	defer cancel()
	switch instance.Connection(info.State) {
	case "open":
		return stateView(info)
	case "close":
		if _, err := h.m.Connect(ctx, info.ID); err != nil {
			return map[string]any{"error": true, "message": err.Error()}
		}
		wctx, wcancel := context.WithTimeout(ctx, qrWait)
		_, _ = h.m.WaitQR(wctx, info.ID)
		wcancel()
	}
	pairing := ""
	if number != "" {
		code, err := h.m.PairCode(ctx, info.ID, "+"+digits(number))
		if err != nil {
			return map[string]any{"error": true, "message": err.Error()}
		}
		pairing = code
	}
	if now, err := h.m.Get(info.ID); err == nil && instance.Connection(now.State) == "open" {
		return stateView(now)
	}
	qr, _ := h.m.QR(info.ID)
	return h.qrView(info.ID, qr, pairing)
}

func (h *handler) restart(w http.ResponseWriter, r *http.Request, c *caller) error {
	info := c.target
	if instance.Connection(info.State) == "close" {
		writeJSON(w, http.StatusOK, map[string]any{"error": true, "message": fmt.Sprintf("The %q instance is not connected", info.Name)})
		return nil
	}
	ctx, cancel := withTimeout(r, lifeTimeout)
	defer cancel()
	now, err := h.m.Restart(ctx, info.ID)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"error": true, "message": err.Error()})
		return nil
	}
	writeJSON(w, http.StatusOK, h.connectResult(r, now, ""))
	return nil
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request, c *caller) error {
	info := c.target
	if instance.Connection(info.State) == "close" {
		return errNotConnected(info.Name)
	}
	ctx, cancel := withTimeout(r, lifeTimeout)
	defer cancel()
	var err error
	if info.State == event.StateConnected || info.JID != "" {
		_, err = h.m.Logout(ctx, info.ID)
	} else {
		_, err = h.m.Disconnect(ctx, info.ID) // waiting for a scan: nothing to log out of
	}
	if err != nil {
		return toAPIError(err, info.Name)
	}
	h.qrs.forget(info.ID)
	writeJSON(w, http.StatusOK, map[string]any{"status": "SUCCESS", "error": false, "response": map[string]any{"message": "Instance logged out"}})
	return nil
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx, cancel := withTimeout(r, lifeTimeout)
	defer cancel()
	if err := h.m.Delete(ctx, c.target.ID); err != nil {
		return toAPIError(err, c.target.Name)
	}
	h.qrs.forget(c.target.ID)
	writeJSON(w, http.StatusOK, map[string]any{"status": "SUCCESS", "error": false, "response": map[string]any{"message": "Instance deleted"}})
	return nil
}

func (h *handler) setPresence(w http.ResponseWriter, r *http.Request, c *caller) error {
	var b struct {
		Presence *string `json:"presence"`
	}
	if err := decode(w, r, &b, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	if b.Presence == nil {
		return badRequest(required("presence"))
	}
	switch *b.Presence {
	case "available", "unavailable":
	case "composing", "recording", "paused":
		return badRequest("presence " + *b.Presence + " needs a chat; only available and unavailable are served here")
	default:
		return badRequest("presence is not one of enum values: unavailable,available,composing,recording,paused")
	}
	ctx, cancel := withTimeout(r, lifeTimeout)
	defer cancel()
	if err := h.m.SetPresence(ctx, c.target.ID, "", *b.Presence); err != nil {
		return toAPIError(err, c.target.Name)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"presence": *b.Presence})
	return nil
}

// fetchInstances lists instances as Evolution's Instance rows: all (or
// ?instanceName=) for the global key, only its own for a token.
func (h *handler) fetchInstances(w http.ResponseWriter, r *http.Request, c *caller) error {
	q := r.URL.Query()
	name, id := q.Get("instanceName"), q.Get("instanceId")
	var list []*instance.Info
	if !c.admin {
		if (name != "" && name != c.token.Name) || (id != "" && id != c.token.ID) {
			return errUnauthorized
		}
		list = []*instance.Info{c.token}
	} else if name != "" || id != "" {
		want := name
		if want == "" {
			want = id
		}
		info, err := h.m.Get(want)
		if err != nil || (name != "" && info.Name != name) || (id != "" && info.ID != id) {
			return &apiError{status: http.StatusNotFound, messages: []any{fmt.Sprintf("Instance %q not found", want)}}
		}
		list = []*instance.Info{info}
	} else {
		list = h.m.List()
	}
	out := make([]map[string]any, 0, len(list))
	for _, info := range list {
		out = append(out, instanceRow(info))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// instanceRow is Evolution's Instance row with its includes.
func instanceRow(info *instance.Info) map[string]any {
	s := settingsView(info.Settings)
	setting := map[string]any{"id": info.ID, "createdAt": info.CreatedAt, "updatedAt": info.UpdatedAt, "instanceId": info.ID}
	for k, v := range s {
		setting[k] = v
	}
	return map[string]any{
		"id": info.ID, "name": info.Name, "connectionStatus": instance.Connection(info.State),
		"ownerJid": orNil(userJID(info.JID)), "profileName": orNil(info.PushName), "profilePicUrl": nil,
		"integration": integration, "number": orNil(strings.TrimPrefix(info.Phone, "+")), "businessId": nil,
		"token": nil, "clientName": "meowgate", "disconnectionReasonCode": nil, "disconnectionObject": nil,
		"disconnectionAt": nil, "createdAt": info.CreatedAt, "updatedAt": info.UpdatedAt,
		"Chatwoot": nil, "Proxy": nil, "Rabbitmq": nil, "Nats": nil, "Sqs": nil, "Websocket": nil,
		"Setting": setting,
		"_count":  map[string]any{"Message": info.Counts.Messages, "Contact": info.Counts.Contacts, "Chat": info.Counts.Chats},
	}
}

// userJID drops the device part of a JID ("4915…:1@s.whatsapp.net" →
// "4915…@s.whatsapp.net"), as Evolution's ownerJid (its wuid) has none.
func userJID(jid string) string {
	user, server, ok := strings.Cut(jid, "@")
	if !ok {
		return jid
	}
	if u, _, found := strings.Cut(user, ":"); found {
		user = u
	}
	return user + "@" + server
}
