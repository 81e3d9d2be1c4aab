package webhook

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"

	"github.com/skip2/go-qrcode"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/store"
)

// Deliveries to a webhook with Format instance.FormatEvolution take the
// shape Evolution API v2 (2.3.x) posts, so receivers written for it (n8n,
// Typebot, Chatwoot bridges) work unchanged: the body is Evolution's
// {event, instance, data, destination, date_time, sender, server_url,
// apikey}, data is what Evolution builds from Baileys for that event, and
// with ByEvents the POST goes to URL/<event name with dots as dashes>.
// Everything else — the event log, order, retries, dead letters, the
// X-Meowgate-* headers and signature — is the same as for meowgate's own
// envelope. Events Evolution has no counterpart for are not queued for
// such a webhook, exactly like events its filter leaves out.

// Evolution's event names (its Events enum).
const (
	evoMessagesUpsert   = "messages.upsert"
	evoMessagesUpdate   = "messages.update"
	evoSendMessage      = "send.message"
	evoConnectionUpdate = "connection.update"
	evoQRCodeUpdated    = "qrcode.updated"
)

// Message statuses as Evolution names Baileys' (its renderStatus table).
const (
	evoError       = "ERROR"
	evoServerAck   = "SERVER_ACK"
	evoDeliveryAck = "DELIVERY_ACK"
	evoRead        = "READ"
	evoPlayed      = "PLAYED"
)

// EvolutionTypes returns the meowgate event types delivered as an Evolution
// event, named as Evolution's webhook settings do (MESSAGES_UPSERT) or as
// its bodies do (messages.upsert); nil for an event meowgate never
// delivers. The compatibility routes turn Evolution's event lists into a
// webhook's events filter with it.
func EvolutionTypes(name string) []string {
	switch strings.ToLower(strings.ReplaceAll(name, "_", ".")) {
	case evoMessagesUpsert:
		return []string{event.TypeMessageReceived, event.TypeMessageEcho, event.TypeReaction}
	case evoMessagesUpdate:
		return []string{event.TypeMessageStatus}
	case evoSendMessage:
		return []string{event.TypeMessageSent}
	case evoConnectionUpdate:
		return []string{event.TypeState}
	case evoQRCodeUpdated:
		return []string{event.TypeQR}
	}
	return nil
}

// evolutionEvent names the Evolution event an event is delivered as; ""
// means it has none and is not delivered to an Evolution-format webhook.
func evolutionEvent(ev store.Event) string {
	switch ev.Type {
	case event.TypeMessageReceived, event.TypeMessageEcho, event.TypeReaction:
		return evoMessagesUpsert
	case event.TypeMessageSent:
		return evoSendMessage
	case event.TypeMessageStatus:
		var s event.MessageStatus
		if json.Unmarshal(ev.Data, &s) != nil || evoStatus(s.Status) == "" {
			return "" // expired, canceled: Evolution has no queue to report on
		}
		return evoMessagesUpdate
	case event.TypeState:
		var s event.State
		if json.Unmarshal(ev.Data, &s) != nil {
			return ""
		}
		// Evolution reports changes of its three-valued state; moving
		// between two of ours that map to the same one (starting → scan_qr)
		// is not one.
		if s.Previous != "" && instance.Connection(s.Previous) == instance.Connection(s.State) {
			return ""
		}
		return evoConnectionUpdate
	case event.TypeQR:
		return evoQRCodeUpdated
	}
	return ""
}

// evoStatus maps a message.status status to Baileys' name; "" for none.
func evoStatus(s string) string {
	switch s {
	case event.StatusSent:
		return evoServerAck
	case event.StatusDelivered:
		return evoDeliveryAck
	case event.StatusRead:
		return evoRead
	case event.StatusPlayed:
		return evoPlayed
	case event.StatusFailed:
		return evoError
	}
	return ""
}

// evoURLPath is the path segment ByEvents appends: Evolution upper-cases
// the name with _ for . and -, then lower-cases it with - for _.
func evoURLPath(name string) string {
	return strings.ToLower(strings.NewReplacer(".", "-", "_", "-").Replace(name))
}

// evoTarget is where an Evolution event is POSTed: the URL, or with
// ByEvents the URL with the event's segment added to its path (Evolution
// appends it to the string; adding it to the path keeps a query intact).
func evoTarget(cfg instance.Webhook, name string) string {
	if !cfg.ByEvents {
		return cfg.URL
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return cfg.URL + "/" + evoURLPath(name) // the POST reports the bad URL
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + evoURLPath(name)
	u.RawPath = ""
	return u.String()
}

// evoBody is the body Evolution POSTs (webhook.controller.ts).
type evoBody struct {
	Event       string `json:"event"`
	Instance    string `json:"instance"`
	Data        any    `json:"data"`
	Destination string `json:"destination"`
	DateTime    string `json:"date_time"`
	Sender      string `json:"sender,omitempty"` // absent before the first link, as Evolution's
	ServerURL   string `json:"server_url"`
	// APIKey is always null: Evolution sends the instance's token only
	// when it exposes tokens, and meowgate keeps nothing but their hashes.
	APIKey *string `json:"apikey"`
}

// evolution builds an Evolution-format delivery of ev: where to POST it
// and the body; ok false when ev has no Evolution counterpart (the
// webhook's format changed after it was queued).
func (r *runner) evolution(ctx context.Context, cfg instance.Webhook, name string, ev store.Event) (target string, body []byte, ok bool) {
	evName := evolutionEvent(ev)
	if evName == "" {
		return "", nil, false
	}
	var info instance.Info
	if _, in, err := r.w.m.Watch(r.id); err == nil && in != nil {
		info = *in
	}
	b := evoBody{
		Event: evName, Instance: name, Destination: cfg.URL,
		DateTime: ev.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z"),
		Sender:   bareJID(info.JID), ServerURL: r.w.opts.ServerURL,
	}
	var err error
	switch ev.Type {
	case event.TypeMessageReceived, event.TypeMessageEcho, event.TypeMessageSent:
		var m event.Message
		if err = json.Unmarshal(ev.Data, &m); err == nil {
			d := r.evoMessage(m, info)
			if cfg.IncludeMedia && m.Media != nil {
				if b64, ok := r.mediaBase64(ctx, m.ID, m.Media.Size); ok {
					d.Message["base64"] = b64 // where Evolution puts it with webhookBase64
				}
			}
			b.Data = d
		}
	case event.TypeReaction:
		var re event.ReactionEvent
		if err = json.Unmarshal(ev.Data, &re); err == nil {
			b.Data = r.evoReaction(ctx, re, info)
		}
	case event.TypeMessageStatus:
		var s event.MessageStatus
		if err = json.Unmarshal(ev.Data, &s); err == nil {
			// Only our outgoing messages get status events, hence fromMe.
			b.Data = evoUpdate{KeyID: s.ID, RemoteJid: s.Chat, FromMe: true, Status: evoStatus(s.Status), InstanceID: r.id}
		}
	case event.TypeState:
		var s event.State
		if err = json.Unmarshal(ev.Data, &s); err == nil {
			b.Data = evoConnection(name, s, info)
		}
	case event.TypeQR:
		var q event.QR
		if err = json.Unmarshal(ev.Data, &q); err == nil {
			b.Data = evoQR(name, q.Code)
		}
	}
	if err != nil || b.Data == nil {
		return "", nil, false // not written by us: nothing Evolution-shaped to say
	}
	body, err = json.Marshal(b)
	if err != nil {
		return "", nil, false
	}
	return evoTarget(cfg, evName), body, true
}

// bareJID drops the device from a JID (Evolution's wuid has none).
func bareJID(jid string) string {
	user, server, ok := strings.Cut(jid, "@")
	if !ok {
		return jid
	}
	user, _, _ = strings.Cut(user, ":")
	return user + "@" + server
}

// evoKey is Baileys' message key.
type evoKey struct {
	RemoteJid   string `json:"remoteJid"`
	FromMe      bool   `json:"fromMe"`
	ID          string `json:"id"`
	Participant string `json:"participant,omitempty"`
}

// evoMsg is the data of messages.upsert and send.message: what
// Evolution's prepareMessage makes of a Baileys message.
type evoMsg struct {
	Key              evoKey         `json:"key"`
	PushName         *string        `json:"pushName"`
	Status           string         `json:"status"`
	Message          map[string]any `json:"message"`
	ContextInfo      map[string]any `json:"contextInfo,omitempty"`
	MessageType      string         `json:"messageType"`
	MessageTimestamp int64          `json:"messageTimestamp"`
	InstanceID       string         `json:"instanceId"`
	Source           string         `json:"source"`
}

// evoUpdate is the data of messages.update.
type evoUpdate struct {
	KeyID       string `json:"keyId"`
	RemoteJid   string `json:"remoteJid"`
	FromMe      bool   `json:"fromMe"`
	Participant string `json:"participant,omitempty"`
	Status      string `json:"status"`
	InstanceID  string `json:"instanceId"`
}

func (r *runner) evoMessage(m event.Message, info instance.Info) evoMsg {
	var sum struct {
		PushName string `json:"push_name"`
		QuotedID string `json:"quoted_id"`
	}
	_ = json.Unmarshal(m.Summary, &sum) // absent on our own messages
	fromMe := m.Direction == "out"
	d := evoMsg{
		Key:        evoKey{RemoteJid: m.Chat, FromMe: fromMe, ID: m.ID},
		Status:     evoDeliveryAck, // what Evolution gives a received message
		InstanceID: r.id, Source: evoDevice(m.ID),
		MessageTimestamp: m.CreatedAt.Unix(),
	}
	if fromMe {
		// meowgate reports a send once the server took it: Baileys' SERVER_ACK.
		d.Status = evoServerAck
		if m.SentAt != nil {
			d.MessageTimestamp = m.SentAt.Unix()
		}
		if info.PushName != "" {
			d.PushName = &info.PushName
		}
	} else {
		if strings.HasSuffix(m.Chat, "@g.us") && m.From != "" {
			d.Key.Participant = m.From
		}
		if sum.PushName != "" {
			d.PushName = &sum.PushName
		}
	}
	d.MessageType, d.Message = r.evoContent(m)
	quoted := sum.QuotedID
	if quoted == "" {
		quoted = m.ReplyTo
	}
	if quoted != "" || len(m.Mentions) > 0 {
		d.ContextInfo = map[string]any{}
		if quoted != "" {
			d.ContextInfo["stanzaId"] = quoted
		}
		if len(m.Mentions) > 0 {
			d.ContextInfo["mentionedJid"] = m.Mentions
		}
	}
	return d
}

// evoContent is a message's content as a Baileys message object and its
// type (Evolution reports every text, quoted or not, as a conversation).
// Bytes and 64-bit numbers follow the protobuf JSON mapping (base64 and
// decimal strings); the media url is meowgate's route for the file.
func (r *runner) evoContent(m event.Message) (string, map[string]any) {
	media := func() map[string]any {
		md := m.Media
		o := map[string]any{"url": r.w.opts.ServerURL + md.URL, "mimetype": md.Mimetype,
			"fileLength": strconv.FormatInt(md.Size, 10)}
		if raw, err := hex.DecodeString(md.SHA256); err == nil && len(raw) > 0 {
			o["fileSha256"] = base64.StdEncoding.EncodeToString(raw)
		}
		if md.Caption != "" {
			o["caption"] = md.Caption
		}
		if md.Width > 0 && md.Height > 0 {
			o["width"], o["height"] = md.Width, md.Height
		}
		if md.Seconds > 0 {
			o["seconds"] = md.Seconds
		}
		if md.ViewOnce {
			o["viewOnce"] = true
		}
		return o
	}
	switch {
	case m.Type == event.MsgText:
		return "conversation", map[string]any{"conversation": m.Text}
	case event.IsMedia(m.Type) && m.Media != nil:
		o := media()
		switch m.Type {
		case event.MsgAudio:
			o["ptt"] = m.Media.PTT
		case event.MsgDocument:
			name := m.Media.FileName
			o["fileName"], o["title"] = name, name
		}
		t := m.Type + "Message"
		return t, map[string]any{t: o}
	case m.Type == event.MsgLocation && m.Location != nil:
		l := m.Location
		o := map[string]any{"degreesLatitude": l.Latitude, "degreesLongitude": l.Longitude}
		if l.Name != "" {
			o["name"] = l.Name
		}
		if l.Address != "" {
			o["address"] = l.Address
		}
		return "locationMessage", map[string]any{"locationMessage": o}
	case m.Type == event.MsgContact && len(m.Contacts) > 0:
		cards := make([]map[string]any, len(m.Contacts))
		for i, c := range m.Contacts {
			cards[i] = map[string]any{"displayName": c.Name, "vcard": vcardOf(c)}
		}
		if len(cards) == 1 {
			return "contactMessage", map[string]any{"contactMessage": cards[0]}
		}
		return "contactsArrayMessage", map[string]any{"contactsArrayMessage": map[string]any{
			"displayName": strconv.Itoa(len(cards)) + " contacts", "contacts": cards}}
	case m.Type == event.MsgReaction && m.Reaction != nil:
		return "reactionMessage", map[string]any{"reactionMessage": map[string]any{
			"key":  evoKey{RemoteJid: m.Chat, ID: m.Reaction.MessageID},
			"text": m.Reaction.Emoji, "senderTimestampMs": strconv.FormatInt(m.CreatedAt.UnixMilli(), 10)}}
	case m.Type == event.MsgPoll && m.Poll != nil:
		opts := make([]map[string]any, len(m.Poll.Options))
		for i, o := range m.Poll.Options {
			opts[i] = map[string]any{"optionName": o.Name}
		}
		// Baileys sends a single-choice poll as V3, others as the first version.
		t := "pollCreationMessage"
		if m.Poll.Selectable == 1 {
			t = "pollCreationMessageV3"
		}
		return t, map[string]any{t: map[string]any{"name": m.Poll.Question, "options": opts, "selectableOptionsCount": m.Poll.Selectable}}
	}
	return "unknown", map[string]any{}
}

// vcardOf is a contact card's vCard, made from its name and phone when
// the message carried none.
func vcardOf(c event.Contact) string {
	if c.VCard != "" {
		return c.VCard
	}
	v := "BEGIN:VCARD\nVERSION:3.0\nFN:" + c.Name + "\n"
	if c.Phone != "" {
		v += "TEL;type=CELL;waid=" + strings.TrimPrefix(c.Phone, "+") + ":" + c.Phone + "\n"
	}
	return v + "END:VCARD"
}

// evoReaction is a reaction as Baileys upserts it: a message of its own
// whose key is the reaction's and whose content points at its target.
func (r *runner) evoReaction(ctx context.Context, re event.ReactionEvent, info instance.Info) evoMsg {
	target := evoKey{RemoteJid: re.Chat, ID: re.MessageID}
	if m, err := r.w.store.GetMessage(ctx, r.id, re.MessageID); err == nil {
		target.FromMe = m.Direction == "out"
	}
	d := evoMsg{
		Key:         evoKey{RemoteJid: re.Chat, FromMe: re.FromMe, ID: re.ID},
		Status:      evoDeliveryAck,
		MessageType: "reactionMessage",
		Message: map[string]any{"reactionMessage": map[string]any{
			"key":  target,
			"text": re.Emoji, "senderTimestampMs": strconv.FormatInt(re.At.UnixMilli(), 10)}},
		MessageTimestamp: re.At.Unix(), InstanceID: r.id, Source: evoDevice(re.ID),
	}
	if re.FromMe {
		d.Status = evoServerAck
		if info.PushName != "" {
			d.PushName = &info.PushName
		}
	} else if strings.HasSuffix(re.Chat, "@g.us") {
		d.Key.Participant = re.From.JID
		if d.Key.Participant == "" {
			d.Key.Participant = re.From.LID
		}
	}
	return d
}

// evoDevice guesses the sending device from a message id's form, as
// Baileys' getDevice does.
func evoDevice(id string) string {
	switch n := len(id); {
	case n == 20 && strings.HasPrefix(id, "3A"):
		return "ios"
	case n == 22 && strings.HasPrefix(id, "3E"):
		return "web"
	case n == 21 || n == 32:
		return "android"
	case n == 18 || strings.HasPrefix(id, "3F"):
		return "desktop"
	}
	return "unknown"
}

// evoConnection is the data of connection.update. Evolution adds the
// account (wuid, profileName, profilePictureUrl) when the state is open.
func evoConnection(name string, s event.State, info instance.Info) map[string]any {
	state := instance.Connection(s.State)
	d := map[string]any{"instance": name, "state": state, "statusReason": evoReason(state, s.Reason)}
	if state == "open" {
		d["wuid"], d["profileName"], d["profilePictureUrl"] = bareJID(info.JID), info.PushName, nil
	}
	return d
}

// evoReason is the statusReason of a connection.update: Baileys' status
// code of the disconnect (its DisconnectReason), 200 when there was none.
func evoReason(state, reason string) int {
	if state != "close" {
		return 200
	}
	switch reason {
	case event.ReasonRemoteLogout:
		return 401 // loggedOut
	case event.ReasonTempBanned:
		return 403 // forbidden
	case event.ReasonClientOutdated:
		return 405
	case event.ReasonNetwork, event.ReasonKeepaliveTimeout, event.ReasonConnectFailure, event.ReasonQRTimeout:
		return 408 // connectionLost, timedOut
	case event.ReasonStreamReplaced:
		return 440 // connectionReplaced
	case event.ReasonRestart:
		return 515 // restartRequired
	}
	return 428 // connectionClosed
}

// evoQR is the data of qrcode.updated: the code and, as Evolution renders
// it, a PNG data URL of it. meowgate's QR events carry no pairing code
// (POST …/pair-code asks for one), hence null.
func evoQR(name, code string) map[string]any {
	q := map[string]any{"instance": name, "pairingCode": nil, "code": code, "base64": nil}
	if png, err := qrcode.Encode(code, qrcode.Medium, 256); err == nil {
		q["base64"] = "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
	}
	return map[string]any{"qrcode": q}
}
