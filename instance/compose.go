package instance

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"go.mau.fi/whatsmeow/types"

	"github.com/meowgate/meowgate/event"
)

// Limits of message content (WhatsApp's own where it has one).
const (
	maxCaption      = 1024 // characters; longer captions are cut by the apps
	maxFileName     = 255
	maxContacts     = 10
	maxVCard        = 16 << 10
	maxPollOptions  = 12
	maxPollQuestion = 255
	maxPollOption   = 100
	maxLocationText = 1000
	maxMentions     = 1024
	maxTypingMS     = 300_000 // five minutes of "typing…"
)

// content is what a message carries beyond its text, stored as the row's
// public JSON: its keys are those of event.Message, into which a view
// decodes it.
type content struct {
	Media     *event.Media        `json:"media,omitempty"`
	Location  *event.Location     `json:"location,omitempty"`
	Contacts  []event.Contact     `json:"contacts,omitempty"`
	Reaction  *event.Reaction     `json:"reaction,omitempty"`
	Poll      *event.Poll         `json:"poll,omitempty"`
	Reactions []event.ReactionBy  `json:"reactions,omitempty"`
	Sender    *event.Person       `json:"sender,omitempty"`   // a received message's author, by phone and LID
	Receipts  []event.Receipt     `json:"receipts,omitempty"` // a sent group message: per recipient
	Mentions  []string            `json:"mentions,omitempty"`
	Edited    bool                `json:"edited,omitempty"`
	Revoked   bool                `json:"revoked,omitempty"`
	Votes     map[string][]string `json:"votes,omitempty"`     // poll: voter → chosen option names
	TypingMS  int64               `json:"typing_ms,omitempty"` // typing shown before sending
}

// mediaRef is a message's private media record: how to send or fetch its
// file. The file itself is at mediaPath(instance, message id).
type mediaRef struct {
	Waveform []byte `json:"waveform,omitempty"` // voice note: 64 values 0–100
	Animated bool   `json:"animated,omitempty"` // sticker
	Secret   []byte `json:"secret,omitempty"`   // poll: the message secret, fixed at enqueue so a resend matches

	// A received file, for a download (whatsmeow's DownloadableMessage).
	URL           string `json:"url,omitempty"`
	DirectPath    string `json:"direct_path,omitempty"`
	MediaKey      []byte `json:"media_key,omitempty"`
	FileEncSHA256 []byte `json:"file_enc_sha256,omitempty"`
	FileSHA256    []byte `json:"file_sha256,omitempty"`
	FileLength    uint64 `json:"file_length,omitempty"`
	MediaKeyTS    int64  `json:"media_key_ts,omitempty"` // a sent file: when it was uploaded
}

func marshalOrNil(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	if string(b) == "{}" || string(b) == "null" {
		return nil
	}
	return b
}

// compose checks the type-specific fields of p (not the media file, which
// stageMedia reads) and returns the message's text and content.
func compose(p *SendParams, fields map[string]string) (text string, c content) {
	need := func(field string, ok bool) {
		if !ok {
			fields[field] = "is required for type " + p.Type
		}
	}
	// Fields that belong to other types are refused, so a typo in type
	// does not silently send something else.
	unused := func(field string, set bool, types ...string) {
		for _, t := range types {
			if p.Type == t {
				return
			}
		}
		if set {
			fields[field] = fmt.Sprintf("is not used by type %s (only %s)", p.Type, strings.Join(types, ", "))
		}
	}
	unused("text", p.Text != "", event.MsgText)
	unused("url", p.URL != "", event.MsgImage, event.MsgVideo, event.MsgAudio, event.MsgDocument, event.MsgSticker)
	unused("base64", p.Base64 != "", event.MsgImage, event.MsgVideo, event.MsgAudio, event.MsgDocument, event.MsgSticker)
	unused("file", p.File != nil, event.MsgImage, event.MsgVideo, event.MsgAudio, event.MsgDocument, event.MsgSticker)
	unused("mimetype", p.Mimetype != "", event.MsgImage, event.MsgVideo, event.MsgAudio, event.MsgDocument, event.MsgSticker)
	unused("caption", p.Caption != "", event.MsgImage, event.MsgVideo, event.MsgDocument)
	unused("file_name", p.FileName != "" && p.File == nil, event.MsgDocument)
	unused("ptt", p.PTT, event.MsgAudio)
	unused("view_once", p.ViewOnce, event.MsgImage, event.MsgVideo)
	unused("latitude", p.Latitude != nil, event.MsgLocation)
	unused("longitude", p.Longitude != nil, event.MsgLocation)
	unused("name", p.Name != "", event.MsgLocation)
	unused("address", p.Address != "", event.MsgLocation)
	unused("contacts", len(p.Contacts) > 0, event.MsgContact)
	unused("vcard", p.VCard != "", event.MsgContact)
	unused("message_id", p.MessageID != "", event.MsgReaction)
	unused("emoji", p.Emoji != nil, event.MsgReaction)
	unused("question", p.Question != "", event.MsgPoll)
	unused("options", len(p.Options) > 0, event.MsgPoll)
	unused("selectable", p.Selectable != 0, event.MsgPoll)
	if p.TypingMS < 0 || p.TypingMS > maxTypingMS {
		fields["typing_ms"] = fmt.Sprintf("must be between 0 and %d", maxTypingMS)
	}
	c.TypingMS = p.TypingMS
	if len(p.Mentions) > maxMentions {
		fields["mentions"] = fmt.Sprintf("must list at most %d people", maxMentions)
	}
	for _, m := range p.Mentions {
		if jid, err := parseRecipient(m); err != nil || jid.Server == types.GroupServer {
			fields["mentions"] = fmt.Sprintf("%q must be an E.164 number or a user JID", m)
			break
		} else {
			c.Mentions = append(c.Mentions, jid.String())
		}
	}

	switch p.Type {
	case event.MsgText:
		if strings.TrimSpace(p.Text) == "" {
			fields["text"] = "is required"
		} else if utf8.RuneCountInString(p.Text) > MaxTextLength {
			fields["text"] = fmt.Sprintf("must be at most %d characters", MaxTextLength)
		}
		return p.Text, c
	case event.MsgImage, event.MsgVideo, event.MsgAudio, event.MsgDocument, event.MsgSticker:
		n := 0
		for _, set := range []bool{p.URL != "", p.Base64 != "", p.File != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			fields["url"] = "give exactly one of url, base64 or a multipart file"
		}
		if utf8.RuneCountInString(p.Caption) > maxCaption {
			fields["caption"] = fmt.Sprintf("must be at most %d characters", maxCaption)
		}
		if len(p.FileName) > maxFileName || strings.ContainsAny(p.FileName, "/\\\x00") {
			fields["file_name"] = fmt.Sprintf("must be a file name (no path) of at most %d bytes", maxFileName)
		}
		c.Media = &event.Media{Caption: p.Caption, PTT: p.PTT, ViewOnce: p.ViewOnce}
		return p.Caption, c
	case event.MsgLocation:
		need("latitude", p.Latitude != nil)
		need("longitude", p.Longitude != nil)
		if p.Latitude != nil && (math.IsNaN(*p.Latitude) || *p.Latitude < -90 || *p.Latitude > 90) {
			fields["latitude"] = "must be between -90 and 90"
		}
		if p.Longitude != nil && (math.IsNaN(*p.Longitude) || *p.Longitude < -180 || *p.Longitude > 180) {
			fields["longitude"] = "must be between -180 and 180"
		}
		if len(p.Name) > maxLocationText || len(p.Address) > maxLocationText {
			fields["name"] = fmt.Sprintf("name and address must be at most %d bytes", maxLocationText)
		}
		if p.Latitude != nil && p.Longitude != nil {
			c.Location = &event.Location{Latitude: *p.Latitude, Longitude: *p.Longitude, Name: p.Name, Address: p.Address}
		}
		return p.Name, c
	case event.MsgContact:
		switch {
		case p.VCard != "" && len(p.Contacts) > 0:
			fields["contacts"] = "give contacts or vcard, not both"
		case p.VCard != "":
			if len(p.VCard) > maxVCard || !strings.HasPrefix(strings.TrimSpace(strings.ToUpper(p.VCard)), "BEGIN:VCARD") {
				fields["vcard"] = fmt.Sprintf("must be a vCard (BEGIN:VCARD …) of at most %d bytes", maxVCard)
				break
			}
			c.Contacts = []event.Contact{{Name: vcardName(p.VCard), VCard: p.VCard}}
		case len(p.Contacts) == 0:
			fields["contacts"] = "is required for type contact (or vcard)"
		case len(p.Contacts) > maxContacts:
			fields["contacts"] = fmt.Sprintf("must list 1 to %d contacts", maxContacts)
		default:
			for i, k := range p.Contacts {
				if strings.TrimSpace(k.Name) == "" || len(k.Name) > 256 {
					fields[fmt.Sprintf("contacts[%d].name", i)] = "is required (at most 256 bytes)"
				}
				if !ValidPhone(k.Phone) {
					fields[fmt.Sprintf("contacts[%d].phone", i)] = "must be an E.164 number"
				}
				c.Contacts = append(c.Contacts, event.Contact{Name: k.Name, Phone: k.Phone, VCard: makeVCard(k.Name, k.Phone)})
			}
		}
		if len(c.Contacts) > 0 {
			return c.Contacts[0].Name, c
		}
		return "", c
	case event.MsgReaction:
		need("message_id", p.MessageID != "")
		need("emoji", p.Emoji != nil)
		if p.Emoji != nil && (utf8.RuneCountInString(*p.Emoji) > 16 || strings.TrimSpace(*p.Emoji) != *p.Emoji) {
			fields["emoji"] = `must be one emoji, or "" to remove the reaction`
		}
		if p.Emoji != nil {
			c.Reaction = &event.Reaction{MessageID: p.MessageID, Emoji: *p.Emoji}
			return *p.Emoji, c
		}
		return "", c
	case event.MsgPoll:
		if q := strings.TrimSpace(p.Question); q == "" || utf8.RuneCountInString(p.Question) > maxPollQuestion {
			fields["question"] = fmt.Sprintf("is required (at most %d characters)", maxPollQuestion)
		}
		seen := map[string]bool{}
		for _, o := range p.Options {
			if strings.TrimSpace(o) == "" || utf8.RuneCountInString(o) > maxPollOption || seen[o] {
				fields["options"] = fmt.Sprintf("must be distinct, non-empty strings of at most %d characters", maxPollOption)
			}
			seen[o] = true
		}
		if len(p.Options) < 2 || len(p.Options) > maxPollOptions {
			fields["options"] = fmt.Sprintf("must list 2 to %d options", maxPollOptions)
		}
		sel := p.Selectable
		if sel == 0 {
			sel = 1
		}
		if sel < 1 || sel > max(len(p.Options), 1) {
			fields["selectable"] = "must be between 1 and the number of options"
		}
		poll := &event.Poll{Question: p.Question, Selectable: sel}
		for _, o := range p.Options {
			poll.Options = append(poll.Options, event.PollOption{Name: o})
		}
		c.Poll = poll
		return p.Question, c
	default:
		fields["type"] = "must be one of text, image, video, audio, document, sticker, location, contact, reaction, poll"
		return "", c
	}
}

// newSecret is a poll's message secret.
func newSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// makeVCard writes the minimal vCard WhatsApp shows as a contact card
// with a "message" button (the waid parameter).
func makeVCard(name, phone string) string {
	esc := strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\n", `\n`).Replace(name)
	return "BEGIN:VCARD\nVERSION:3.0\nFN:" + esc + "\nTEL;type=CELL;waid=" + strings.TrimPrefix(phone, "+") + ":" + phone + "\nEND:VCARD"
}

// vcardName returns the FN of a vCard, for the contact card's title.
func vcardName(v string) string {
	for _, line := range strings.Split(v, "\n") {
		line = strings.TrimRight(line, "\r")
		if k, val, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.SplitN(k, ";", 2)[0], "FN") {
			return val
		}
	}
	return "Contact"
}
