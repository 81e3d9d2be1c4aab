package evolution

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
)

// eventMap maps Evolution's event names onto the meowgate event types the
// Evolution-format deliveries render (webhook.EvolutionTypes); the other
// names are accepted but never delivered.
var eventMap = map[string][]string{
	"QRCODE_UPDATED":    {event.TypeQR},
	"CONNECTION_UPDATE": {event.TypeState},
	"MESSAGES_UPSERT":   {event.TypeMessageReceived, event.TypeMessageEcho, event.TypeReaction},
	"MESSAGES_UPDATE":   {event.TypeMessageStatus},
	"SEND_MESSAGE":      {event.TypeMessageSent},
}

// evolutionEvents is Evolution's list of webhook events (EventController.events).
var evolutionEvents = []string{
	"APPLICATION_STARTUP", "QRCODE_UPDATED", "MESSAGES_SET", "MESSAGES_UPSERT", "MESSAGES_EDITED",
	"MESSAGES_UPDATE", "MESSAGES_DELETE", "SEND_MESSAGE", "SEND_MESSAGE_UPDATE", "CONTACTS_SET",
	"CONTACTS_UPSERT", "CONTACTS_UPDATE", "PRESENCE_UPDATE", "CHATS_SET", "CHATS_UPSERT", "CHATS_UPDATE",
	"CHATS_DELETE", "GROUPS_UPSERT", "GROUP_UPDATE", "GROUP_PARTICIPANTS_UPDATE", "CONNECTION_UPDATE",
	"LABELS_EDIT", "LABELS_ASSOCIATION", "CALL", "TYPEBOT_START", "TYPEBOT_CHANGE_STATUS",
	"REMOVE_INSTANCE", "LOGOUT_INSTANCE", "INSTANCE_CREATE", "INSTANCE_DELETE", "STATUS_INSTANCE",
}

// hookIn is Evolution's webhook object, in either spelling real clients
// send: byEvents/base64 (v2's schema) or webhookByEvents/webhookBase64.
type hookIn struct {
	Enabled         *bool             `json:"enabled"`
	URL             *string           `json:"url"`
	Headers         map[string]string `json:"headers"`
	ByEvents        *bool             `json:"byEvents"`
	Base64          *bool             `json:"base64"`
	WebhookByEvents *bool             `json:"webhookByEvents"`
	WebhookBase64   *bool             `json:"webhookBase64"`
	Events          []string          `json:"events"`
}

// patch is the webhook as meowgate stores it: Evolution's format, its
// events mapped; all events when enabled without a list, as there.
func (in *hookIn) patch() (*instance.WebhookPatch, error) {
	if in.ByEvents == nil {
		in.ByEvents = in.WebhookByEvents
	}
	if in.Base64 == nil {
		in.Base64 = in.WebhookBase64
	}
	var msgs []any
	if in.Enabled == nil {
		msgs = append(msgs, `webhook requires property "enabled"`)
	}
	if in.URL == nil || *in.URL == "" {
		msgs = append(msgs, `The "url" cannot be empty`)
	}
	var events []string
	for _, e := range in.Events {
		if !slices.Contains(evolutionEvents, e) {
			msgs = append(msgs, fmt.Sprintf("webhook.events is not one of enum values: %s", strings.Join(evolutionEvents, ",")))
			break
		}
		for _, t := range eventMap[e] {
			if !slices.Contains(events, t) {
				events = append(events, t)
			}
		}
	}
	if len(msgs) > 0 {
		return nil, badRequest(msgs...)
	}
	format := instance.FormatEvolution
	f := false
	p := &instance.WebhookPatch{URL: in.URL, Enabled: in.Enabled, Headers: in.Headers, ClearHeaders: true,
		Events: &events, IncludeMedia: in.Base64, Format: &format, ByEvents: in.ByEvents}
	if p.IncludeMedia == nil {
		p.IncludeMedia = &f
	}
	if p.ByEvents == nil {
		p.ByEvents = &f
	}
	if len(in.Events) > 0 && len(events) == 0 {
		// Only events meowgate never has: nothing to deliver.
		p.Enabled = &f
	}
	return p, nil
}

// hookEvents lists the Evolution names of the stored meowgate events.
func hookEvents(w instance.Webhook) []string {
	if !w.Enabled {
		return []string{}
	}
	if len(w.Events) == 0 {
		return evolutionEvents
	}
	out := []string{}
	for _, name := range evolutionEvents {
		for _, t := range eventMap[name] {
			if slices.Contains(w.Events, t) {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

// webhookRow is Evolution's Webhook row.
func webhookRow(info *instance.Info) map[string]any {
	w := info.Webhook
	headers := any(nil)
	if len(w.Headers) > 0 {
		headers = w.Headers
	}
	return map[string]any{
		"id": info.ID, "url": w.URL, "headers": headers, "enabled": w.Enabled, "events": hookEvents(w),
		"webhookByEvents": w.ByEvents, "webhookBase64": w.IncludeMedia,
		"createdAt": info.CreatedAt, "updatedAt": info.UpdatedAt, "instanceId": info.ID,
	}
}

func (h *handler) setWebhook(w http.ResponseWriter, r *http.Request, c *caller) error {
	var b struct {
		Webhook *hookIn `json:"webhook"`
		hookIn          // v1's flat body
	}
	if err := decode(w, r, &b, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	in := b.Webhook
	if in == nil {
		if b.URL == nil {
			return badRequest(required("webhook"))
		}
		in = &b.hookIn
		if in.Enabled == nil {
			on := true
			in.Enabled = &on
		}
	}
	p, err := in.patch()
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(r, lifeTimeout)
	defer cancel()
	info, err := h.m.Update(ctx, c.target.ID, instance.UpdateParams{Webhook: p})
	if err != nil {
		return toAPIError(err, c.target.Name)
	}
	writeJSON(w, http.StatusCreated, webhookRow(info))
	return nil
}

func (h *handler) findWebhook(w http.ResponseWriter, r *http.Request, c *caller) error {
	if c.target.Webhook.URL == "" {
		writeJSON(w, http.StatusOK, nil)
		return nil
	}
	writeJSON(w, http.StatusOK, webhookRow(c.target))
	return nil
}

func (h *handler) setSettings(w http.ResponseWriter, r *http.Request, c *caller) error {
	var b flatSettings
	if err := decode(w, r, &b, h.opts.MaxBodyBytes); err != nil {
		return err
	}
	var msgs []any
	for _, f := range []struct {
		name string
		v    *bool
	}{{"rejectCall", b.RejectCall}, {"groupsIgnore", b.GroupsIgnore}, {"alwaysOnline", b.AlwaysOnline},
		{"readMessages", b.ReadMessages}, {"readStatus", b.ReadStatus}, {"syncFullHistory", b.SyncFullHistory}} {
		if f.v == nil {
			msgs = append(msgs, required(f.name))
		}
	}
	if len(msgs) > 0 {
		return badRequest(msgs...)
	}
	if b.MsgCall == nil {
		empty := "" // Evolution stores an absent msgCall as none
		b.MsgCall = &empty
	}
	ctx, cancel := withTimeout(r, lifeTimeout)
	defer cancel()
	s, err := h.m.UpdateSettings(ctx, c.target.ID, *b.patch())
	if err != nil {
		return toAPIError(err, c.target.Name)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"settings": map[string]any{"instanceName": c.target.Name, "settings": settingsView(s)}})
	return nil
}

func (h *handler) findSettings(w http.ResponseWriter, r *http.Request, c *caller) error {
	writeJSON(w, http.StatusOK, settingsView(c.target.Settings))
	return nil
}
