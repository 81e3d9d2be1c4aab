package api

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
)

// The request bodies of the instance routes, decoded into the typed
// patches the Manager takes. The settings, webhook and proxy parts are
// decoded one by one so that their problems are named by dotted path
// ("settings.colour").

// createBody is the body of POST /v1/instances.
type createBody struct {
	Name       string          `json:"name"`
	DeviceName string          `json:"device_name"`
	Phone      string          `json:"phone"`
	Settings   json.RawMessage `json:"settings"`
	Webhook    json.RawMessage `json:"webhook"`
	Proxy      json.RawMessage `json:"proxy"`
	Connect    bool            `json:"connect"`
}

// updateBody is the body of PATCH /v1/instances/{name}.
type updateBody struct {
	DeviceName *string         `json:"device_name"`
	Settings   json.RawMessage `json:"settings"`
	Webhook    json.RawMessage `json:"webhook"`
	Proxy      json.RawMessage `json:"proxy"`
}

// settingsPatchJSON is instance.SettingsPatch with its JSON names; the
// conversion between the two keeps their fields in step.
type settingsPatchJSON struct {
	RejectCalls       *bool   `json:"reject_calls"`
	RejectCallMessage *string `json:"reject_call_message"`
	IgnoreGroups      *bool   `json:"ignore_groups"`
	IgnoreBroadcasts  *bool   `json:"ignore_broadcasts"`
	AlwaysOnline      *bool   `json:"always_online"`
	MarkRead          *bool   `json:"mark_read"`
	MarkReadOnReply   *bool   `json:"mark_read_on_reply"`
	ReadStatus        *bool   `json:"read_status"`
	SyncFullHistory   *bool   `json:"sync_full_history"`
	SendDelayMS       *int64  `json:"send_delay_ms"`
	SendJitterMS      *int64  `json:"send_jitter_ms"`
	TypingSimulation  *bool   `json:"typing_simulation"`
	QueueTTL          *string `json:"queue_ttl"`
	AutoDownload      *bool   `json:"auto_download"`
	MaxDownloadMB     *int64  `json:"max_download_mb"`
	MaxFirstContacts  *int64  `json:"max_first_contacts_per_day"`
}

type webhookPatchJSON struct {
	URL          *string           `json:"url"`
	Enabled      *bool             `json:"enabled"`
	Secret       *string           `json:"secret"`
	Headers      map[string]string `json:"headers"`
	Events       []string          `json:"events"`
	IncludeMedia *bool             `json:"include_media"`
}

type proxyPatchJSON struct {
	URL *string `json:"url"`
}

// parts are the decoded settings, webhook and proxy parts of a body: nil
// when absent, null or undecodable (then problems names why).
type parts struct {
	settings *instance.SettingsPatch
	webhook  *instance.WebhookPatch
	proxyURL *string
	problems map[string]string
}

// decodeParts decodes the three parts. An unknown field in any of them is
// the error (400); a value of the wrong type or a part that is not an
// object is a problem (422), reported with the Manager's own.
func decodeParts(settings, webhook, proxy json.RawMessage) (parts, error) {
	var p parts
	var unknown error
	problem := func(err error) {
		var ae *Error
		if errors.As(err, &ae) && ae.Code == codeBadRequest {
			if unknown == nil {
				unknown = err
			}
			return
		}
		if p.problems == nil {
			p.problems = map[string]string{}
		}
		for k, v := range ae.Fields {
			p.problems[k] = v
		}
	}
	if given(settings) {
		var s settingsPatchJSON
		if err := decodePart("settings", settings, &s); err != nil {
			problem(err)
		} else {
			sp := instance.SettingsPatch(s)
			p.settings = &sp
		}
	}
	if given(webhook) {
		var w webhookPatchJSON
		if err := decodePart("webhook", webhook, &w); err != nil {
			problem(err)
		} else {
			p.webhook = webhookPatch(webhook, &w)
		}
	}
	if given(proxy) {
		var x proxyPatchJSON
		if err := decodePart("proxy", proxy, &x); err != nil {
			problem(err)
		} else {
			p.proxyURL = x.URL
		}
	}
	return p, unknown
}

// given reports whether a part is there: absent and null leave all as is.
func given(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// webhookPatch turns a decoded webhook part into the Manager's patch; raw
// tells null apart from absent for the headers and events.
func webhookPatch(raw json.RawMessage, w *webhookPatchJSON) *instance.WebhookPatch {
	p := &instance.WebhookPatch{URL: w.URL, Enabled: w.Enabled, Secret: w.Secret, Headers: w.Headers, IncludeMedia: w.IncludeMedia}
	// encoding/json matches keys regardless of case, so the probe does too.
	var probe map[string]json.RawMessage
	_ = json.Unmarshal(raw, &probe)
	named := func(key string) bool {
		for k := range probe {
			if strings.EqualFold(k, key) {
				return true
			}
		}
		return false
	}
	if w.Headers == nil && named("headers") {
		p.ClearHeaders = true // "headers": null
	}
	if w.Events != nil || named("events") {
		p.Events = &w.Events
	}
	return p
}

// decodePart decodes one part of a body into dst, rejecting unknown fields;
// problems are named prefix.field.
func decodePart(prefix string, raw json.RawMessage, dst any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return invalidFields("some fields are invalid", map[string]string{prefix + "." + te.Field: wrongType(te)})
	}
	if f, ok := unknownField(err); ok {
		return errUnknownField(prefix + "." + f)
	}
	return invalidFields("some fields are invalid", map[string]string{prefix: "must be a JSON object"})
}

// sendBody is the body of POST …/messages (design.md "Messages"): every
// field of every type; which ones a type needs is the Manager's to check.
type sendBody struct {
	To       string   `json:"to"`
	Type     string   `json:"type"`
	Text     string   `json:"text"`
	ReplyTo  string   `json:"reply_to"`
	SendAt   string   `json:"send_at"`
	Mentions []string `json:"mentions"`

	URL      string `json:"url"`
	Base64   string `json:"base64"`
	Mimetype string `json:"mimetype"`
	Caption  string `json:"caption"`
	FileName string `json:"file_name"`
	PTT      bool   `json:"ptt"`
	ViewOnce bool   `json:"view_once"`

	Latitude  *float64 `json:"latitude"`
	Longitude *float64 `json:"longitude"`
	Name      string   `json:"name"`
	Address   string   `json:"address"`

	Contacts []contactJSON `json:"contacts"`
	VCard    string        `json:"vcard"`

	MessageID string  `json:"message_id"`
	Emoji     *string `json:"emoji"` // nil: missing; "": removes the reaction

	Question   string   `json:"question"`
	Options    []string `json:"options"`
	Selectable int      `json:"selectable"`
}

// contactJSON is one card of a contact message as a client writes it.
type contactJSON struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// params is the body as the Manager takes it.
func (b *sendBody) params() instance.SendParams {
	p := instance.SendParams{
		To: b.To, Type: b.Type, Text: b.Text, ReplyTo: b.ReplyTo, SendAt: b.SendAt, Mentions: b.Mentions,
		URL: b.URL, Base64: b.Base64, Mimetype: b.Mimetype, Caption: b.Caption, FileName: b.FileName,
		PTT: b.PTT, ViewOnce: b.ViewOnce,
		Latitude: b.Latitude, Longitude: b.Longitude, Name: b.Name, Address: b.Address,
		VCard: b.VCard, MessageID: b.MessageID, Emoji: b.Emoji,
		Question: b.Question, Options: b.Options, Selectable: b.Selectable,
	}
	if b.Contacts != nil {
		p.Contacts = make([]event.Contact, len(b.Contacts))
		for i, c := range b.Contacts {
			p.Contacts[i] = event.Contact{Name: c.Name, Phone: c.Phone}
		}
	}
	return p
}

// editBody is the body of PATCH …/messages/{id}.
type editBody struct {
	Text *string `json:"text"`
}
