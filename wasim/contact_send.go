package wasim

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/gcmutil"
)

// IncomingSpec is a message a simulated contact sends to an account.
type IncomingSpec struct {
	From     string `json:"from"` // the contact's phone
	To       string `json:"to"`   // the account's phone
	PushName string `json:"push_name,omitempty"`
	// Type is text (default), image, video, audio, document, sticker,
	// location, contact, reaction, poll, poll_vote, edit or revoke.
	Type string `json:"type,omitempty"`
	Text string `json:"text,omitempty"` // text; edit: the new text
	// Media: the plain file, which the phone encrypts and uploads.
	Data     []byte `json:"data,omitempty"`
	Mimetype string `json:"mimetype,omitempty"`
	Caption  string `json:"caption,omitempty"`
	FileName string `json:"file_name,omitempty"`
	PTT      bool   `json:"ptt,omitempty"`
	Seconds  uint32 `json:"seconds,omitempty"`
	Width    uint32 `json:"width,omitempty"`
	Height   uint32 `json:"height,omitempty"`
	// Location.
	Latitude  float64 `json:"latitude,omitempty"`
	Longitude float64 `json:"longitude,omitempty"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
	// Contact card.
	VCard       string `json:"vcard,omitempty"`
	ContactName string `json:"contact_name,omitempty"`
	// TargetID is the message a reaction, edit, revoke or poll_vote acts on.
	TargetID string `json:"target_id,omitempty"`
	Emoji    string `json:"emoji,omitempty"` // reaction; "" removes it
	// Options: a poll's options, or a poll_vote's chosen options.
	Options    []string `json:"options,omitempty"`
	Selectable int      `json:"selectable,omitempty"`
	QuotedID   string   `json:"quoted_id,omitempty"` // a reply to that message
	Group      string   `json:"group,omitempty"`     // a group JID: the contact writes there
	// FromLID: the contact writes from a LID-addressed chat, so the message
	// arrives from its LID with sender_pn (whatsmeow: Sender=LID, SenderAlt=PN).
	FromLID bool `json:"from_lid,omitempty"`
}

// ErrInvalidSpec is an IncomingSpec the simulator cannot act out; the
// error is a *SpecError naming the field.
var ErrInvalidSpec = errors.New("wasim: invalid message")

// SpecError names the IncomingSpec field that is wrong.
type SpecError struct {
	Field, Msg string
}

func (e *SpecError) Error() string     { return fmt.Sprintf("wasim: %s: %s", e.Field, e.Msg) }
func (e *SpecError) Is(err error) bool { return err == ErrInvalidSpec }

func specErr(field, format string, args ...any) error {
	return &SpecError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// wireAttrs are the node attributes WhatsApp sets from a message's kind.
type wireAttrs struct {
	msgType   string // text, media, reaction, poll
	mediaType string // enc mediatype: image, ptt, …
	edit      string // 1 = edit, 7 = revoke (of one's own message)
	fromLID   bool   // a DM from the sender's LID (sender_pn) instead of its PN
}

var defaultMimetypes = map[string]string{
	"image": "image/jpeg", "video": "video/mp4", "audio": "audio/ogg; codecs=opus",
	"document": "application/octet-stream", "sticker": "image/webp",
}

// Send is a contact sending any kind of message to an account: media is
// encrypted and uploaded to the simulated CDN first, as a phone does. It
// returns the message id.
func (s *Server) Send(ctx context.Context, spec IncomingSpec) (string, error) {
	if spec.Type == "" {
		spec.Type = "text"
	}
	sender, err := s.userFor(ctx, spec.From)
	if err != nil {
		return "", err
	}
	rcpt, err := s.specRecipient(ctx, sender, spec)
	if err != nil {
		return "", err
	}
	chat := types.EmptyJID
	if spec.Group != "" {
		if chat, err = types.ParseJID(spec.Group); err != nil || chat.Server != types.GroupServer {
			return "", specErr("group", "not a group JID: %q", spec.Group)
		}
	}
	id := "3EB0" + randomID(8)
	m, wire, after, err := s.buildMessage(ctx, sender, rcpt, id, spec)
	if err != nil {
		return "", err
	}
	if spec.QuotedID != "" {
		if err := s.setQuote(ctx, sender, rcpt, m, spec.QuotedID); err != nil {
			return "", err
		}
	}
	wire.fromLID = spec.FromLID
	if spec.Group == "" {
		s.noteWrote(spec.From, spec.To)
	}
	if err := s.phoneDeliver(ctx, sender, rcpt, id, chat, m, spec.PushName, &wire); err != nil {
		return "", err
	}
	if after != nil {
		after()
	}
	return id, nil
}

// buildMessage makes the proto of a spec; after, if set, runs once it is
// delivered (the phone remembers what it sent).
func (s *Server) buildMessage(ctx context.Context, sender, rcpt *user, id string, spec IncomingSpec) (*waE2E.Message, wireAttrs, func(), error) {
	wire := wireAttrs{msgType: "text"}
	switch spec.Type {
	case "text":
		if spec.Text == "" {
			return nil, wire, nil, specErr("text", "is required")
		}
		return &waE2E.Message{Conversation: proto.String(spec.Text)}, wire, nil, nil
	case "image", "video", "audio", "document", "sticker":
		return s.buildMedia(ctx, id, spec)
	case "location":
		if spec.Latitude < -90 || spec.Latitude > 90 {
			return nil, wire, nil, specErr("latitude", "must be within -90..90")
		}
		if spec.Longitude < -180 || spec.Longitude > 180 {
			return nil, wire, nil, specErr("longitude", "must be within -180..180")
		}
		return &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
			DegreesLatitude: proto.Float64(spec.Latitude), DegreesLongitude: proto.Float64(spec.Longitude),
			Name: optString(spec.Name), Address: optString(spec.Address),
		}}, wire, nil, nil
	case "contact":
		if spec.VCard == "" {
			return nil, wire, nil, specErr("vcard", "is required")
		}
		return &waE2E.Message{ContactMessage: &waE2E.ContactMessage{
			DisplayName: proto.String(spec.ContactName), Vcard: proto.String(spec.VCard),
		}}, wire, nil, nil
	case "reaction":
		key, err := s.targetKey(ctx, sender, rcpt, spec.TargetID, false)
		if err != nil {
			return nil, wire, nil, err
		}
		wire.msgType = "reaction"
		return &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{
			Key: key, Text: proto.String(spec.Emoji), SenderTimestampMS: proto.Int64(time.Now().UnixMilli()),
		}}, wire, nil, nil
	case "edit", "revoke":
		key, err := s.targetKey(ctx, sender, rcpt, spec.TargetID, true)
		if err != nil {
			return nil, wire, nil, err
		}
		if spec.Type == "revoke" {
			wire.edit = "7"
			return &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum(), Key: key}}, wire, nil, nil
		}
		if spec.Text == "" {
			return nil, wire, nil, specErr("text", "is required")
		}
		wire.edit = "1"
		return &waE2E.Message{EditedMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{
			ProtocolMessage: &waE2E.ProtocolMessage{
				Key: key, Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(),
				EditedMessage: &waE2E.Message{Conversation: proto.String(spec.Text)},
				TimestampMS:   proto.Int64(time.Now().UnixMilli()),
			},
		}}}, wire, nil, nil
	case "poll":
		return s.buildPoll(ctx, sender, id, spec)
	case "poll_vote":
		return s.buildVote(ctx, sender, rcpt, spec)
	}
	return nil, wire, nil, specErr("type", "unknown message type %q", spec.Type)
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return proto.String(s)
}

func (s *Server) buildMedia(ctx context.Context, id string, spec IncomingSpec) (*waE2E.Message, wireAttrs, func(), error) {
	kind := mediaKinds[spec.Type]
	wire := wireAttrs{msgType: "media", mediaType: spec.Type}
	if len(spec.Data) == 0 {
		return nil, wire, nil, specErr("data", "is required for %s", spec.Type)
	}
	if spec.PTT && spec.Type != "audio" {
		return nil, wire, nil, specErr("ptt", "only for audio")
	}
	if spec.PTT {
		wire.mediaType = "ptt"
	}
	mime := spec.Mimetype
	if mime == "" {
		mime = defaultMimetypes[spec.Type]
	}
	enc, err := encryptMedia(spec.Data, kind.info)
	if err != nil {
		return nil, wire, nil, err
	}
	direct, err := s.storeBlob(ctx, enc.blob, enc.fileEncSHA, kind.mms)
	if err != nil {
		return nil, wire, nil, err
	}
	url, n, ts := mediaURL(direct), uint64(len(spec.Data)), time.Now().Unix()
	m := &waE2E.Message{}
	switch spec.Type {
	case "image":
		m.ImageMessage = &waE2E.ImageMessage{URL: &url, DirectPath: &direct, MediaKey: enc.mediaKey, FileEncSHA256: enc.fileEncSHA,
			FileSHA256: enc.fileSHA, FileLength: &n, MediaKeyTimestamp: &ts, Mimetype: &mime, Caption: optString(spec.Caption),
			Width: optUint(spec.Width), Height: optUint(spec.Height)}
	case "video":
		m.VideoMessage = &waE2E.VideoMessage{URL: &url, DirectPath: &direct, MediaKey: enc.mediaKey, FileEncSHA256: enc.fileEncSHA,
			FileSHA256: enc.fileSHA, FileLength: &n, MediaKeyTimestamp: &ts, Mimetype: &mime, Caption: optString(spec.Caption),
			Seconds: optUint(spec.Seconds), Width: optUint(spec.Width), Height: optUint(spec.Height)}
	case "audio":
		m.AudioMessage = &waE2E.AudioMessage{URL: &url, DirectPath: &direct, MediaKey: enc.mediaKey, FileEncSHA256: enc.fileEncSHA,
			FileSHA256: enc.fileSHA, FileLength: &n, MediaKeyTimestamp: &ts, Mimetype: &mime, Seconds: optUint(spec.Seconds),
			PTT: proto.Bool(spec.PTT)}
	case "document":
		name := spec.FileName
		if name == "" {
			name = "file"
		}
		m.DocumentMessage = &waE2E.DocumentMessage{URL: &url, DirectPath: &direct, MediaKey: enc.mediaKey, FileEncSHA256: enc.fileEncSHA,
			FileSHA256: enc.fileSHA, FileLength: &n, MediaKeyTimestamp: &ts, Mimetype: &mime, Caption: optString(spec.Caption),
			FileName: &name, Title: &name}
	case "sticker":
		m.StickerMessage = &waE2E.StickerMessage{URL: &url, DirectPath: &direct, MediaKey: enc.mediaKey, FileEncSHA256: enc.fileEncSHA,
			FileSHA256: enc.fileSHA, FileLength: &n, MediaKeyTimestamp: &ts, Mimetype: &mime,
			Width: optUint(spec.Width), Height: optUint(spec.Height)}
	}
	after := func() {
		s.rememberMedia(ctx, id, mediaMsg{key: blobKey(direct), mediaKey: enc.mediaKey, info: kind.info})
	}
	return m, wire, after, nil
}

func optUint(v uint32) *uint32 {
	if v == 0 {
		return nil
	}
	return &v
}

func (s *Server) buildPoll(ctx context.Context, sender *user, id string, spec IncomingSpec) (*waE2E.Message, wireAttrs, func(), error) {
	wire := wireAttrs{msgType: "poll"}
	if spec.Text == "" {
		return nil, wire, nil, specErr("text", "is required (the question)")
	}
	if len(spec.Options) < 2 {
		return nil, wire, nil, specErr("options", "a poll needs at least 2 options")
	}
	if spec.Selectable < 0 || spec.Selectable > len(spec.Options) {
		return nil, wire, nil, specErr("selectable", "must be within 0..%d", len(spec.Options))
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, wire, nil, err
	}
	opts := make([]*waE2E.PollCreationMessage_Option, len(spec.Options))
	for i, o := range spec.Options {
		opts[i] = &waE2E.PollCreationMessage_Option{OptionName: proto.String(o)}
	}
	m := &waE2E.Message{
		PollCreationMessage: &waE2E.PollCreationMessage{Name: proto.String(spec.Text), Options: opts,
			SelectableOptionsCount: proto.Uint32(uint32(spec.Selectable))},
		MessageContextInfo: &waE2E.MessageContextInfo{MessageSecret: secret},
	}
	after := func() { s.rememberPoll(ctx, sender.phone, id, sender.jid(), secret, spec.Options) }
	return m, wire, after, nil
}

// buildVote is the contact voting on a poll its phone knows (one it sent
// or received), encrypted as whatsmeow's EncryptPollVote does.
func (s *Server) buildVote(ctx context.Context, sender, rcpt *user, spec IncomingSpec) (*waE2E.Message, wireAttrs, func(), error) {
	wire := wireAttrs{msgType: "poll"}
	p, err := s.poll(ctx, sender.phone, spec.TargetID)
	if err != nil {
		return nil, wire, nil, err
	}
	hashes := make([][]byte, 0, len(spec.Options))
	for _, o := range spec.Options {
		if !slices.Contains(p.options, o) {
			return nil, wire, nil, specErr("options", "%q is not an option of the poll", o)
		}
		sum := sha256Sum([]byte(o))
		hashes = append(hashes, sum)
	}
	plain, err := proto.Marshal(&waE2E.PollVoteMessage{SelectedOptions: hashes})
	if err != nil {
		return nil, wire, nil, err
	}
	key, aad := pollVoteKey(p.secret, spec.TargetID, p.creator, sender.jid())
	iv := make([]byte, 12)
	if _, err := rand.Read(iv); err != nil {
		return nil, wire, nil, err
	}
	ct, err := gcmutil.Encrypt(key, iv, plain, aad)
	if err != nil {
		return nil, wire, nil, err
	}
	m := &waE2E.Message{PollUpdateMessage: &waE2E.PollUpdateMessage{
		PollCreationMessageKey: &waCommon.MessageKey{
			RemoteJID: proto.String(rcpt.jid().String()),
			FromMe:    proto.Bool(p.creator.User == sender.phone),
			ID:        proto.String(spec.TargetID),
		},
		Vote:              &waE2E.PollEncValue{EncPayload: ct, EncIV: iv},
		SenderTimestampMS: proto.Int64(time.Now().UnixMilli()),
	}}
	return m, wire, nil, nil
}

// targetKey is the key of a message in the chat between the contact and
// the account: one the account sent the contact (in the contact's inbox),
// or else one the contact sent. ownOnly allows only the latter (edit,
// revoke).
func (s *Server) targetKey(ctx context.Context, sender, rcpt *user, id string, ownOnly bool) (*waCommon.MessageKey, error) {
	if id == "" {
		return nil, specErr("target_id", "is required")
	}
	fromMe := true
	if !ownOnly {
		fromMe = !s.inInbox(ctx, sender.phone, "+"+rcpt.phone, id)
	}
	return &waCommon.MessageKey{RemoteJID: proto.String(rcpt.jid().String()), FromMe: proto.Bool(fromMe), ID: proto.String(id)}, nil
}

func (s *Server) inInbox(ctx context.Context, phone, from, id string) bool {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM wasim_inbox WHERE phone = ? AND sender = ? AND id = ?`, phone, from, id).Scan(&one)
	return !errors.Is(err, sql.ErrNoRows) && err == nil
}

// setQuote makes m a reply to quoted (a message of either side).
func (s *Server) setQuote(ctx context.Context, sender, rcpt *user, m *waE2E.Message, quoted string) error {
	participant := sender.jid()
	if s.inInbox(ctx, sender.phone, "+"+rcpt.phone, quoted) {
		participant = rcpt.jid()
	}
	ci := &waE2E.ContextInfo{StanzaID: proto.String(quoted), Participant: proto.String(participant.String())}
	switch {
	case m.Conversation != nil:
		m.ExtendedTextMessage = &waE2E.ExtendedTextMessage{Text: m.Conversation, ContextInfo: ci}
		m.Conversation = nil
	case m.ImageMessage != nil:
		m.ImageMessage.ContextInfo = ci
	case m.VideoMessage != nil:
		m.VideoMessage.ContextInfo = ci
	case m.AudioMessage != nil:
		m.AudioMessage.ContextInfo = ci
	case m.DocumentMessage != nil:
		m.DocumentMessage.ContextInfo = ci
	case m.StickerMessage != nil:
		m.StickerMessage.ContextInfo = ci
	case m.LocationMessage != nil:
		m.LocationMessage.ContextInfo = ci
	case m.ContactMessage != nil:
		m.ContactMessage.ContextInfo = ci
	case m.PollCreationMessage != nil:
		m.PollCreationMessage.ContextInfo = ci
	default:
		return specErr("quoted_id", "a %s cannot be a reply", "message of this type")
	}
	return nil
}
