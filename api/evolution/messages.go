package evolution

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
)

type sendKind int

const (
	kindText sendKind = iota
	kindMedia
	kindAudio
	kindLocation
	kindContact
	kindReaction
	kindPoll
)

type keyIn struct {
	ID        string `json:"id"`
	RemoteJid string `json:"remoteJid"`
	FromMe    *bool  `json:"fromMe"`
}

// sendBody is the union of Evolution's send schemas (message.schema.ts).
type sendBody struct {
	Number string `json:"number"`
	Delay  *int64 `json:"delay"`
	Quoted *struct {
		Key *keyIn `json:"key"`
	} `json:"quoted"`
	Mentioned []string `json:"mentioned"`
	EveryOne  bool     `json:"everyOne"`
	// mentionsEveryOne is the n8n node's spelling.
	MentionsEveryOne bool `json:"mentionsEveryOne"`

	Text string `json:"text"`

	Mediatype string `json:"mediatype"`
	Mimetype  string `json:"mimetype"`
	Media     string `json:"media"`
	FileName  string `json:"fileName"`
	Caption   string `json:"caption"`
	Audio     string `json:"audio"`

	Latitude  *float64 `json:"latitude"`
	Longitude *float64 `json:"longitude"`
	Name      *string  `json:"name"`
	Address   *string  `json:"address"`

	Contact []struct {
		FullName    string `json:"fullName"`
		Wuid        string `json:"wuid"`
		PhoneNumber string `json:"phoneNumber"`
	} `json:"contact"`

	Key      *keyIn  `json:"key"`
	Reaction *string `json:"reaction"`

	SelectableCount *int     `json:"selectableCount"`
	Values          []string `json:"values"`
}

// recipient turns Evolution's number (digits, +digits, or a JID) into
// meowgate's (+E164 or a JID).
func recipient(n string) string {
	n = strings.TrimSpace(n)
	if strings.Contains(n, "@") {
		return n
	}
	return "+" + digits(n)
}

func (h *handler) send(kind sendKind) func(http.ResponseWriter, *http.Request, *caller) error {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		var b sendBody
		limit := h.opts.MaxBodyBytes
		if kind == kindMedia || kind == kindAudio {
			limit += h.opts.MaxUploadBytes/3*4 + 4 // base64 of the largest file
		}
		if err := decode(w, r, &b, limit); err != nil {
			return err
		}
		p, err := b.params(kind)
		if err != nil {
			return err
		}
		if (b.EveryOne || b.MentionsEveryOne) && strings.HasSuffix(p.To, "@g.us") {
			ctx, cancel := withTimeout(r, lifeTimeout)
			g, err := h.m.Group(ctx, c.target.ID, p.To)
			cancel()
			if err != nil {
				return toAPIError(err, c.target.Name)
			}
			for _, m := range g.Participants {
				if m.JID != "" {
					p.Mentions = append(p.Mentions, m.JID)
				} else if m.LID != "" {
					p.Mentions = append(p.Mentions, m.LID)
				}
			}
		}
		ctx, cancel := withTimeout(r, lifeTimeout)
		defer cancel()
		msg, _, err := h.m.Send(ctx, c.target.ID, p, "")
		if err != nil {
			return toAPIError(err, c.target.Name)
		}
		writeJSON(w, http.StatusCreated, messageView(c.target.ID, msg, p))
		return nil
	}
}

// params checks what Evolution's schema requires and maps the body onto
// SendParams; the domain checks the rest.
func (b *sendBody) params(kind sendKind) (instance.SendParams, error) {
	var msgs []any
	need := func(name string, ok bool) {
		if !ok {
			msgs = append(msgs, required(name))
		}
	}
	if kind != kindReaction {
		need("number", b.Number != "")
	}
	p := instance.SendParams{To: recipient(b.Number)}
	if b.Delay != nil {
		if *b.Delay < 0 {
			msgs = append(msgs, "delay must be at least 0 (milliseconds)")
		}
		p.TypingMS = *b.Delay
	}
	if b.Quoted != nil && b.Quoted.Key != nil {
		p.ReplyTo = b.Quoted.Key.ID
	}
	for _, m := range b.Mentioned {
		p.Mentions = append(p.Mentions, recipient(m))
	}
	switch kind {
	case kindText:
		need("text", b.Text != "")
		p.Type, p.Text = event.MsgText, b.Text
	case kindMedia:
		need("mediatype", b.Mediatype != "")
		switch b.Mediatype {
		case "", "image", "video", "audio", "document":
		default:
			msgs = append(msgs, "mediatype is not one of enum values: image,document,video,audio")
		}
		need("media", b.Media != "")
		p.Type, p.Mimetype = b.Mediatype, b.Mimetype
		setMedia(&p, b.Media)
		if b.Mediatype != "audio" {
			p.Caption = b.Caption
		}
		if b.Mediatype == "document" {
			p.FileName = b.FileName
		}
	case kindAudio:
		need("audio", b.Audio != "")
		p.Type, p.PTT = event.MsgAudio, true
		setMedia(&p, b.Audio)
	case kindLocation:
		need("latitude", b.Latitude != nil)
		need("longitude", b.Longitude != nil)
		need("name", b.Name != nil)
		need("address", b.Address != nil)
		p.Type, p.Latitude, p.Longitude = event.MsgLocation, b.Latitude, b.Longitude
		if b.Name != nil && b.Address != nil {
			p.Name, p.Address = *b.Name, *b.Address
		}
	case kindContact:
		need("contact", len(b.Contact) > 0)
		p.Type = event.MsgContact
		for _, k := range b.Contact {
			phone := k.PhoneNumber
			if phone == "" {
				phone = k.Wuid
			}
			p.Contacts = append(p.Contacts, event.Contact{Name: k.FullName, Phone: "+" + digits(phone)})
		}
	case kindReaction:
		need("key", b.Key != nil)
		need("reaction", b.Reaction != nil)
		if b.Key != nil {
			need("key.id", b.Key.ID != "")
			need("key.remoteJid", b.Key.RemoteJid != "")
			p.To, p.MessageID = recipient(b.Key.RemoteJid), b.Key.ID
		}
		p.Type, p.Emoji = event.MsgReaction, b.Reaction
	case kindPoll:
		need("name", b.Name != nil)
		need("selectableCount", b.SelectableCount != nil)
		need("values", b.Values != nil)
		p.Type, p.Options = event.MsgPoll, b.Values
		if b.Name != nil {
			p.Question = *b.Name
		}
		if b.SelectableCount != nil {
			p.Selectable = *b.SelectableCount
		}
	}
	if len(msgs) > 0 {
		return p, badRequest(msgs...)
	}
	return p, nil
}

// setMedia takes Evolution's media: a URL, or base64 (bare or a data URI).
func setMedia(p *instance.SendParams, media string) {
	switch {
	case strings.HasPrefix(media, "http://"), strings.HasPrefix(media, "https://"):
		p.URL = media
	case strings.HasPrefix(media, "data:"):
		if i := strings.Index(media, ";base64,"); i >= 0 {
			if p.Mimetype == "" {
				p.Mimetype = media[len("data:"):i]
			}
			p.Base64 = media[i+len(";base64,"):]
		} else {
			p.Base64 = media
		}
	default:
		p.Base64 = media
	}
}

// messageView is the answer of Evolution's send routes: the message as
// Baileys keeps it, here still PENDING in meowgate's queue.
func messageView(instanceID string, m *event.Message, p instance.SendParams) map[string]any {
	ts := m.CreatedAt
	if ts.IsZero() {
		ts = time.Now()
	}
	typ, content := waMessage(m, p)
	return map[string]any{
		"key":              map[string]any{"remoteJid": m.Chat, "fromMe": true, "id": m.ID},
		"pushName":         "",
		"status":           "PENDING",
		"message":          content,
		"contextInfo":      nil,
		"messageType":      typ,
		"messageTimestamp": ts.Unix(),
		"instanceId":       instanceID,
		"source":           "unknown",
	}
}

// waMessage is the WhatsApp message a send builds, in Baileys' JSON names.
func waMessage(m *event.Message, p instance.SendParams) (string, map[string]any) {
	media := func(extra map[string]any) map[string]any {
		v := map[string]any{"mimetype": p.Mimetype}
		if m.Media != nil && m.Media.Mimetype != "" {
			v["mimetype"] = m.Media.Mimetype
		}
		if p.URL != "" {
			v["url"] = p.URL
		}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	switch m.Type {
	case event.MsgImage:
		return "imageMessage", map[string]any{"imageMessage": media(map[string]any{"caption": p.Caption})}
	case event.MsgVideo:
		return "videoMessage", map[string]any{"videoMessage": media(map[string]any{"caption": p.Caption})}
	case event.MsgDocument:
		return "documentMessage", map[string]any{"documentMessage": media(map[string]any{"caption": p.Caption, "fileName": p.FileName})}
	case event.MsgAudio:
		return "audioMessage", map[string]any{"audioMessage": media(map[string]any{"ptt": p.PTT})}
	case event.MsgLocation:
		loc := map[string]any{}
		if m.Location != nil {
			loc = map[string]any{"degreesLatitude": m.Location.Latitude, "degreesLongitude": m.Location.Longitude,
				"name": m.Location.Name, "address": m.Location.Address}
		}
		return "locationMessage", map[string]any{"locationMessage": loc}
	case event.MsgContact:
		if len(m.Contacts) == 1 {
			return "contactMessage", map[string]any{"contactMessage": map[string]any{"displayName": m.Contacts[0].Name, "vcard": m.Contacts[0].VCard}}
		}
		cs := make([]map[string]any, len(m.Contacts))
		for i, k := range m.Contacts {
			cs[i] = map[string]any{"displayName": k.Name, "vcard": k.VCard}
		}
		return "contactsArrayMessage", map[string]any{"contactsArrayMessage": map[string]any{"displayName": strconv.Itoa(len(cs)) + " contacts", "contacts": cs}}
	case event.MsgReaction:
		text := ""
		if p.Emoji != nil {
			text = *p.Emoji
		}
		return "reactionMessage", map[string]any{"reactionMessage": map[string]any{
			"key": map[string]any{"remoteJid": m.Chat, "fromMe": true, "id": p.MessageID}, "text": text}}
	case event.MsgPoll:
		opts := make([]map[string]any, len(p.Options))
		for i, o := range p.Options {
			opts[i] = map[string]any{"optionName": o}
		}
		return "pollCreationMessage", map[string]any{"pollCreationMessage": map[string]any{
			"name": p.Question, "options": opts, "selectableOptionsCount": p.Selectable}}
	}
	return "conversation", map[string]any{"conversation": m.Text}
}
