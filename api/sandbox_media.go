package api

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/wasim"
)

// sandboxIncomingBody is what a simulated contact sends: text, media,
// location, contact card, reaction, poll, and for tests edits, revokes,
// poll votes and replies.
type sandboxIncomingBody struct {
	From     string `json:"from"`
	PushName string `json:"push_name"`
	Type     string `json:"type"`
	Text     string `json:"text"`
	Base64   string `json:"base64"`
	Mimetype string `json:"mimetype"`
	Caption  string `json:"caption"`
	FileName string `json:"file_name"`
	PTT      bool   `json:"ptt"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
		Address   string  `json:"address"`
	} `json:"location"`
	VCard    string `json:"vcard"`
	Reaction *struct {
		MessageID string `json:"message_id"`
		Emoji     string `json:"emoji"`
	} `json:"reaction"`
	Poll *struct {
		Question   string   `json:"question"`
		Options    []string `json:"options"`
		Selectable int      `json:"selectable"`
	} `json:"poll"`
	Edit *struct {
		MessageID string `json:"message_id"`
		Text      string `json:"text"`
	} `json:"edit"`
	Revoke *struct {
		MessageID string `json:"message_id"`
	} `json:"revoke"`
	PollVote *struct {
		MessageID string   `json:"message_id"`
		Options   []string `json:"options"`
	} `json:"poll_vote"`
	QuotedID string `json:"quoted_id"`
	Group    string `json:"group"`
}

// spec turns the body into the simulator's message, or names the fields
// that are wrong. specField maps the simulator's field names back.
func (p *sandboxIncomingBody) spec() (wasim.IncomingSpec, map[string]string, map[string]string) {
	fields := map[string]string{}
	s := wasim.IncomingSpec{From: p.From, PushName: p.PushName, Type: p.Type, Text: p.Text, Mimetype: p.Mimetype,
		Caption: p.Caption, FileName: p.FileName, PTT: p.PTT, QuotedID: p.QuotedID, Group: p.Group}
	back := map[string]string{"data": "base64"}
	if s.Type == "" {
		s.Type = "text"
	}
	if !instance.ValidPhone(p.From) {
		fields["from"] = "must be an E.164 number"
	}
	need := func(ok bool, field string) {
		if !ok {
			fields[field] = "is required for type " + s.Type
		}
	}
	switch s.Type {
	case "text":
		need(p.Text != "", "text")
	case "image", "video", "audio", "document", "sticker":
		need(p.Base64 != "", "base64")
		if p.Base64 != "" {
			data, err := base64.StdEncoding.DecodeString(p.Base64)
			if err != nil {
				fields["base64"] = "is not valid base64"
			}
			s.Data = data
		}
	case "location":
		need(p.Location != nil, "location")
		if l := p.Location; l != nil {
			s.Latitude, s.Longitude, s.Name, s.Address = l.Latitude, l.Longitude, l.Name, l.Address
			back["latitude"], back["longitude"] = "location.latitude", "location.longitude"
		}
	case "contact":
		need(p.VCard != "", "vcard")
		s.VCard, s.ContactName = p.VCard, p.Text
	case "reaction":
		need(p.Reaction != nil && p.Reaction.MessageID != "", "reaction.message_id")
		if p.Reaction != nil {
			s.TargetID, s.Emoji = p.Reaction.MessageID, p.Reaction.Emoji
			back["target_id"] = "reaction.message_id"
		}
	case "poll":
		need(p.Poll != nil, "poll")
		if p.Poll != nil {
			s.Text, s.Options, s.Selectable = p.Poll.Question, p.Poll.Options, p.Poll.Selectable
			back["text"], back["options"], back["selectable"] = "poll.question", "poll.options", "poll.selectable"
		}
	case "edit":
		need(p.Edit != nil && p.Edit.MessageID != "", "edit.message_id")
		if p.Edit != nil {
			s.TargetID, s.Text = p.Edit.MessageID, p.Edit.Text
			back["target_id"], back["text"] = "edit.message_id", "edit.text"
		}
	case "revoke":
		need(p.Revoke != nil && p.Revoke.MessageID != "", "revoke.message_id")
		if p.Revoke != nil {
			s.TargetID = p.Revoke.MessageID
			back["target_id"] = "revoke.message_id"
		}
	case "poll_vote":
		need(p.PollVote != nil && p.PollVote.MessageID != "", "poll_vote.message_id")
		if p.PollVote != nil {
			s.TargetID, s.Options = p.PollVote.MessageID, p.PollVote.Options
			back["target_id"], back["options"] = "poll_vote.message_id", "poll_vote.options"
		}
	default:
		fields["type"] = "must be one of text, image, video, audio, document, sticker, location, contact, reaction, poll, edit, revoke, poll_vote"
	}
	return s, fields, back
}

func (h *handler) sandboxIncoming(w http.ResponseWriter, r *http.Request, c *caller) error {
	var p sandboxIncomingBody
	if err := h.decode(w, r, &p, false); err != nil {
		return err
	}
	spec, fields, back := p.spec()
	if len(fields) > 0 {
		return invalidFields("some fields are invalid", fields)
	}
	info, _, err := h.linkedDevice(c.target)
	if err != nil {
		return err
	}
	spec.To = info.Phone
	ctx, cancel := withTimeout(r, 60*time.Second)
	defer cancel()
	id, err := h.opts.Sandbox.Send(ctx, spec)
	var se *wasim.SpecError
	switch {
	case errors.As(err, &se):
		field := se.Field
		if b, ok := back[field]; ok {
			field = b
		}
		return invalidFields(se.Error(), map[string]string{field: se.Msg})
	case errors.Is(err, wasim.ErrUnknownMessage):
		field := "message_id"
		if b, ok := back["target_id"]; ok {
			field = b
		}
		return invalidFields(err.Error(), map[string]string{field: "no such message"})
	case err != nil:
		return simError(err)
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id})
	return nil
}

// sandboxExpireMedia drops the simulated CDN copy of a message's media.
func (h *handler) sandboxExpireMedia(w http.ResponseWriter, r *http.Request, _ *caller) error {
	var p struct {
		Instance  string `json:"instance"`
		MessageID string `json:"message_id"`
	}
	if err := h.decode(w, r, &p, false); err != nil {
		return err
	}
	fields := map[string]string{}
	if p.Instance == "" {
		fields["instance"] = "is required"
	}
	if strings.TrimSpace(p.MessageID) == "" {
		fields["message_id"] = "is required"
	}
	if len(fields) > 0 {
		return invalidFields("some fields are invalid", fields)
	}
	if _, err := h.m.Get(p.Instance); err != nil {
		return err
	}
	err := h.opts.Sandbox.ExpireMedia(r.Context(), p.MessageID)
	if errors.Is(err, wasim.ErrUnknownMessage) {
		return errorf(http.StatusNotFound, codeNotFound, "no media known for message %q", p.MessageID)
	} else if err != nil {
		return simError(err)
	}
	writeRaw(w, http.StatusOK, []byte(`{}`))
	return nil
}
