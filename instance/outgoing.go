package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/media"
	"github.com/meowgate/meowgate/store"
)

// errPermanent marks a send that cannot succeed by trying again.
var errPermanent = errors.New("permanent")

// build turns a claimed message into WhatsApp's message: media is
// uploaded here, when its turn comes, streamed from the staged file.
func (s *sender) build(msg *store.Message, chat types.JID) (*waE2E.Message, error) {
	var c content
	var ref mediaRef
	if len(msg.Content) > 0 {
		if err := json.Unmarshal(msg.Content, &c); err != nil {
			return nil, fmt.Errorf("%w: stored content: %v", errPermanent, err)
		}
	}
	if len(msg.MediaRef) > 0 {
		if err := json.Unmarshal(msg.MediaRef, &ref); err != nil {
			return nil, fmt.Errorf("%w: stored media: %v", errPermanent, err)
		}
	}
	ci := s.contextInfo(msg, &c)
	switch msg.Type {
	case "", event.MsgText:
		if ci == nil {
			return &waE2E.Message{Conversation: proto.String(msg.Text)}, nil
		}
		return &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String(msg.Text), ContextInfo: ci}}, nil
	case event.MsgImage, event.MsgVideo, event.MsgAudio, event.MsgDocument, event.MsgSticker:
		return s.buildMedia(msg, &c, &ref, ci)
	case event.MsgLocation:
		l := c.Location
		if l == nil {
			return nil, fmt.Errorf("%w: location missing", errPermanent)
		}
		return &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
			DegreesLatitude: proto.Float64(l.Latitude), DegreesLongitude: proto.Float64(l.Longitude),
			Name: optString(l.Name), Address: optString(l.Address), ContextInfo: ci,
		}}, nil
	case event.MsgContact:
		if len(c.Contacts) == 1 {
			k := c.Contacts[0]
			return &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String(k.Name), Vcard: proto.String(k.VCard), ContextInfo: ci}}, nil
		}
		arr := &waE2E.ContactsArrayMessage{DisplayName: proto.String(fmt.Sprintf("%d contacts", len(c.Contacts))), ContextInfo: ci}
		for _, k := range c.Contacts {
			arr.Contacts = append(arr.Contacts, &waE2E.ContactMessage{DisplayName: proto.String(k.Name), Vcard: proto.String(k.VCard)})
		}
		return &waE2E.Message{ContactsArrayMessage: arr}, nil
	case event.MsgReaction:
		r := c.Reaction
		if r == nil {
			return nil, fmt.Errorf("%w: reaction missing", errPermanent)
		}
		target, err := s.inst.m.store.GetMessage(s.ctx, s.inst.id, r.MessageID)
		if err != nil {
			return nil, fmt.Errorf("%w: the message reacted to (%s) is gone", errPermanent, r.MessageID)
		}
		return s.cli.BuildReaction(chat, s.senderOf(target), target.ID, r.Emoji), nil
	case event.MsgPoll:
		p := c.Poll
		if p == nil || len(ref.Secret) != 32 {
			return nil, fmt.Errorf("%w: poll missing", errPermanent)
		}
		pm := &waE2E.PollCreationMessage{Name: proto.String(p.Question), SelectableOptionsCount: proto.Uint32(uint32(p.Selectable)), ContextInfo: ci}
		for _, o := range p.Options {
			pm.Options = append(pm.Options, &waE2E.PollCreationMessage_Option{OptionName: proto.String(o.Name)})
		}
		// The secret fixed at enqueue: a resend after a crash is the same
		// poll, so votes on the first copy still decrypt.
		return &waE2E.Message{PollCreationMessage: pm, MessageContextInfo: &waE2E.MessageContextInfo{MessageSecret: ref.Secret}}, nil
	}
	return nil, fmt.Errorf("%w: unknown message type %q", errPermanent, msg.Type)
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return proto.String(s)
}

// senderOf is the JID that wrote a stored message: ours for outgoing ones.
func (s *sender) senderOf(m *store.Message) types.JID {
	if m.Direction == "out" {
		if own := s.cli.Store.GetJID(); !own.IsEmpty() {
			return own.ToNonAD()
		}
	}
	jid, _ := types.ParseJID(m.Sender)
	return jid
}

// contextInfo quotes the message replied to and names the mentioned
// people; nil when there is neither.
func (s *sender) contextInfo(msg *store.Message, c *content) *waE2E.ContextInfo {
	if msg.ReplyTo == "" && len(c.Mentions) == 0 {
		return nil
	}
	ci := &waE2E.ContextInfo{MentionedJID: c.Mentions}
	if msg.ReplyTo != "" {
		quoted, err := s.inst.m.store.GetMessage(s.ctx, s.inst.id, msg.ReplyTo)
		if err == nil {
			ci.StanzaID = proto.String(quoted.ID)
			ci.Participant = proto.String(s.senderOf(quoted).String())
			ci.QuotedMessage = &waE2E.Message{Conversation: proto.String(quoted.Text)}
		}
	}
	return ci
}

var mediaTypes = map[string]whatsmeow.MediaType{
	event.MsgImage: whatsmeow.MediaImage, event.MsgSticker: whatsmeow.MediaImage, event.MsgVideo: whatsmeow.MediaVideo,
	event.MsgAudio: whatsmeow.MediaAudio, event.MsgDocument: whatsmeow.MediaDocument,
}

// buildMedia encrypts and uploads the staged file (whatsmeow streams it
// through a temporary file beside it: never whole in memory).
func (s *sender) buildMedia(msg *store.Message, c *content, ref *mediaRef, ci *waE2E.ContextInfo) (*waE2E.Message, error) {
	md := c.Media
	if md == nil {
		return nil, fmt.Errorf("%w: media missing", errPermanent)
	}
	m := s.inst.m
	path := m.mediaPath(s.inst.id, msg.ID)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: the staged file of this message is missing", errPermanent)
	} else if err != nil {
		return nil, fmt.Errorf("open staged file: %w", err)
	}
	defer f.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".upload-*")
	if err != nil {
		return nil, fmt.Errorf("upload temp file: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), uploadTimeout(md.Size))
	defer cancel()
	up, err := s.cli.UploadReader(wctx, f, tmp, mediaTypes[msg.Type])
	if err != nil {
		return nil, retryable(fmt.Errorf("upload: %w", err))
	}
	ref.URL, ref.DirectPath, ref.MediaKey = up.URL, up.DirectPath, up.MediaKey
	ref.FileEncSHA256, ref.FileSHA256, ref.FileLength = up.FileEncSHA256, up.FileSHA256, up.FileLength
	ref.MediaKeyTS = time.Now().Unix()
	s.inst.keepSentMedia(s.ctx, msg.ID, ref) // for a retry receipt after a restart (retry.go)
	return mediaMessage(msg.Type, md, ref, path, ci), nil
}

// mediaMessage is the message of an uploaded file, from its reference; the
// thumbnail comes from the staged file while it is there.
func mediaMessage(typ string, md *event.Media, ref *mediaRef, path string, ci *waE2E.ContextInfo) *waE2E.Message {
	url, dp, ts := proto.String(ref.URL), proto.String(ref.DirectPath), proto.Int64(ref.MediaKeyTS)
	n := proto.Uint64(ref.FileLength)
	switch typ {
	case event.MsgImage:
		thumb, _ := media.Thumbnail(path, md.Mimetype)
		return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
			URL: url, DirectPath: dp, MediaKey: ref.MediaKey, MediaKeyTimestamp: ts,
			FileEncSHA256: ref.FileEncSHA256, FileSHA256: ref.FileSHA256, FileLength: n,
			Mimetype: proto.String(md.Mimetype), Caption: optString(md.Caption), Width: optU32(md.Width), Height: optU32(md.Height),
			JPEGThumbnail: thumb, ViewOnce: optBool(md.ViewOnce), ContextInfo: ci,
		}}
	case event.MsgVideo:
		return &waE2E.Message{VideoMessage: &waE2E.VideoMessage{
			URL: url, DirectPath: dp, MediaKey: ref.MediaKey, MediaKeyTimestamp: ts,
			FileEncSHA256: ref.FileEncSHA256, FileSHA256: ref.FileSHA256, FileLength: n,
			Mimetype: proto.String(md.Mimetype), Caption: optString(md.Caption), Seconds: optU32(md.Seconds),
			Width: optU32(md.Width), Height: optU32(md.Height), ViewOnce: optBool(md.ViewOnce), ContextInfo: ci,
		}}
	case event.MsgAudio:
		mime := md.Mimetype
		if md.PTT {
			mime = "audio/ogg; codecs=opus" // what the phones send and iPhones expect for a voice note
		}
		return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
			URL: url, DirectPath: dp, MediaKey: ref.MediaKey, MediaKeyTimestamp: ts,
			FileEncSHA256: ref.FileEncSHA256, FileSHA256: ref.FileSHA256, FileLength: n,
			Mimetype: proto.String(mime), Seconds: optU32(md.Seconds), PTT: proto.Bool(md.PTT), Waveform: ref.Waveform, ContextInfo: ci,
		}}
	case event.MsgDocument:
		return &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
			URL: url, DirectPath: dp, MediaKey: ref.MediaKey, MediaKeyTimestamp: ts,
			FileEncSHA256: ref.FileEncSHA256, FileSHA256: ref.FileSHA256, FileLength: n,
			Mimetype: proto.String(md.Mimetype), FileName: proto.String(md.FileName), Title: proto.String(md.FileName),
			Caption: optString(md.Caption), ContextInfo: ci,
		}}
	default: // sticker
		return &waE2E.Message{StickerMessage: &waE2E.StickerMessage{
			URL: url, DirectPath: dp, MediaKey: ref.MediaKey, MediaKeyTimestamp: ts,
			FileEncSHA256: ref.FileEncSHA256, FileSHA256: ref.FileSHA256, FileLength: n,
			Mimetype: proto.String(md.Mimetype), Width: optU32(md.Width), Height: optU32(md.Height),
			IsAnimated: optBool(ref.Animated), ContextInfo: ci,
		}}
	}
}

// uploadTimeout allows a minute plus a slow 128 KiB/s for the file.
func uploadTimeout(size int64) time.Duration {
	return time.Minute + time.Duration(size/(128<<10))*time.Second
}

func optU32(v uint32) *uint32 {
	if v == 0 {
		return nil
	}
	return proto.Uint32(v)
}

func optBool(v bool) *bool {
	if !v {
		return nil
	}
	return proto.Bool(true)
}
