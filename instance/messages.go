package instance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"go.mau.fi/whatsmeow/types"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// sendAtSkew is how far in the past a send_at may be (clock skew between
// client and gateway); it then means "now".
const sendAtSkew = 30 * time.Second

// MaxTextLength bounds a text message (WhatsApp's own limit is 65,536).
const MaxTextLength = 65536

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// viewMessage builds the API view of m, also the data of its message.* events.
func (mg *Manager) viewMessage(name string, m *store.Message) *event.Message {
	v := viewMessage(name, m)
	if v.Media != nil {
		v.Media.URL = MediaPath(name, m.ID)
		v.Media.Downloaded = mg.hasMedia(m.InstanceID, m.ID)
	}
	return v
}

// MediaPath is the API path that streams a message's file.
func MediaPath(instance, id string) string {
	return "/v1/instances/" + url.PathEscape(instance) + "/messages/" + url.PathEscape(id) + "/media"
}

// viewMessage builds a message's view without looking at the media
// directory (Media.Downloaded false): the data of events written before
// the file is there.
func viewMessage(name string, m *store.Message) *event.Message {
	v := &event.Message{
		ID: m.ID, Instance: name, Direction: m.Direction, Chat: m.Chat, Type: m.Type, Text: m.Text,
		ReplyTo: m.ReplyTo, SendAt: optTime(m.SendAt), Status: m.Status, Error: m.Error,
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt, SentAt: optTime(m.SentAt), StatusHistory: m.History,
	}
	if len(m.Summary) > 0 && string(m.Summary) != "{}" {
		v.Summary = m.Summary
	}
	if m.Status == event.StatusQueued {
		v.HeldUntil = optTime(m.HeldUntil)
	}
	if len(m.Content) > 0 {
		_ = json.Unmarshal(m.Content, v) // written by compose and receive; only content keys
		if v.Media != nil {
			v.Media.URL = MediaPath(name, m.ID)
		}
	}
	if m.Direction == "out" {
		v.To = m.Recipient
	} else {
		v.From = m.Sender
	}
	return v
}

// SendParams describe a message to send (design.md "Messages").
type SendParams struct {
	To       string // +E164 or a JID
	Type     string // event.Msg*; "text" (the default)
	Text     string
	ReplyTo  string   // a message id of this instance
	SendAt   string   // RFC 3339; empty means now
	Mentions []string // +E164 or JIDs
	// TypingMS, when positive, shows "typing…" for that long before this
	// message, whatever the instance's typing_simulation says.
	TypingMS int64

	// Media (image, video, audio, document, sticker): exactly one of URL,
	// Base64 and File. File is a multipart upload, read once while Send
	// stages it; FileName names it.
	URL      string
	Base64   string
	File     io.Reader
	Mimetype string
	Caption  string
	FileName string
	PTT      bool
	ViewOnce bool

	// Location.
	Latitude  *float64
	Longitude *float64
	Name      string
	Address   string

	// Contact: cards, or one raw vCard.
	Contacts []event.Contact
	VCard    string

	// Reaction: the message reacted to; a nil Emoji is missing, "" removes.
	MessageID string
	Emoji     *string

	// Poll.
	Question   string
	Options    []string
	Selectable int
}

// parseRecipient accepts +E164 or a user, group or LID JID and returns the
// chat JID.
func parseRecipient(to string) (types.JID, error) {
	if strings.HasPrefix(to, "+") {
		if !ValidPhone(to) {
			return types.EmptyJID, errors.New("must be an E.164 number such as +4915123456789, or a JID")
		}
		return types.NewJID(to[1:], types.DefaultUserServer), nil
	}
	jid, err := types.ParseJID(to)
	if err != nil || jid.User == "" || !strings.Contains(to, "@") {
		return types.EmptyJID, errors.New("must be an E.164 number such as +4915123456789, or a JID")
	}
	switch jid.Server {
	case types.DefaultUserServer, types.HiddenUserServer:
		if jid.Device != 0 {
			return types.EmptyJID, errors.New("must be a user, not a device JID")
		}
		if jid.Server == types.DefaultUserServer && !ValidPhone("+"+jid.User) {
			return types.EmptyJID, errors.New("the JID's user must be a phone number")
		}
	case types.GroupServer:
	default:
		return types.EmptyJID, fmt.Errorf("JIDs on %s are not supported", jid.Server)
	}
	return jid.ToNonAD(), nil
}

func newMessageID() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return "3EB0" + strings.ToUpper(hex.EncodeToString(b))
}

// Send commits a message to the instance's queue and returns it queued (or,
// for a repeated idempotency key, the first message and existing=true).
// The WhatsApp id is fixed here, so a resend after a crash reuses it.
func (m *Manager) Send(ctx context.Context, idOrName string, p SendParams, idemKey string) (*event.Message, bool, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, false, err
	}
	fields := map[string]string{}
	jid, err := parseRecipient(strings.TrimSpace(p.To))
	if p.To == "" {
		fields["to"] = "is required"
	} else if err != nil {
		fields["to"] = err.Error()
	}
	if p.Type == "" {
		p.Type = event.MsgText
	}
	text, c := compose(&p, fields)
	var sendAt time.Time
	if p.SendAt != "" {
		if sendAt, err = time.Parse(time.RFC3339, p.SendAt); err != nil {
			fields["send_at"] = "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"
		} else if sendAt.After(time.Now().Add(365 * 24 * time.Hour)) {
			fields["send_at"] = "must be within a year"
		} else if sendAt.Before(time.Now().Add(-sendAtSkew)) {
			fields["send_at"] = "is in the past; leave it out to send now"
		}
	}
	if len(idemKey) > 200 {
		fields[FieldIdempotencyKey] = "must be at most 200 characters"
	}
	if len(fields) > 0 {
		return nil, false, &ValidationError{Fields: fields}
	}
	if err := m.store.CheckRoom(); err != nil {
		return nil, false, err // below the free-space watermark: refused, not accepted
	}
	snap := inst.snapshot()
	if p.ReplyTo != "" {
		if _, err := m.store.GetMessage(ctx, inst.id, p.ReplyTo); err != nil {
			return nil, false, invalid("reply_to", "no message with that id in this instance")
		}
	}
	if c.Reaction != nil {
		target, err := m.store.GetMessage(ctx, inst.id, c.Reaction.MessageID)
		if err != nil {
			return nil, false, invalid("message_id", "no message with that id in this instance")
		}
		if target.Chat != jid.String() {
			return nil, false, invalid("message_id", "that message is in another chat ("+target.Chat+")")
		}
	}
	id := newMessageID()
	var ref mediaRef
	if c.Poll != nil {
		ref.Secret = newSecret()
	}
	staged := ""
	if c.Media != nil {
		if staged, err = m.stageMedia(ctx, inst.id, id, &p, c.Media, &ref); err != nil {
			return nil, false, err
		}
	}
	// A staged file whose message was not committed goes at once (a crash
	// here leaves it to the media sweep).
	keep := false
	defer func() {
		if staged != "" && !keep {
			m.removeMedia(staged)
		}
	}()
	ttl := snap.info.Settings.QueueTTLDuration()
	start := time.Now()
	if sendAt.After(start) {
		start = sendAt
	}
	msg := &store.Message{
		InstanceID: inst.id, ID: id, Chat: m.chatKey(ctx, jid, types.EmptyJID), Recipient: p.To, Type: p.Type, Text: text,
		ReplyTo: p.ReplyTo, IdempotencyKey: idemKey, SendAt: sendAt, Content: marshalOrNil(c), MediaRef: marshalOrNil(ref),
	}
	if ttl > 0 {
		msg.ExpiresAt = start.Add(ttl)
	}
	want := *msg
	existing, err := m.store.EnqueueMessage(ctx, msg)
	if err != nil {
		return nil, false, err
	}
	if existing && !sameRequest(msg, &want) {
		return nil, false, ErrIdempotencyMismatch
	}
	if !existing {
		keep = true
		inst.post(func() { inst.queueChanged() })
	}
	return m.viewMessage(snap.info.Name, msg), existing, nil
}

// FieldIdempotencyKey names the idempotency key in a ValidationError.
const FieldIdempotencyKey = "idempotency_key"

// ErrIdempotencyMismatch is returned when an idempotency key comes back
// with a different message: answering with the first one would tell the
// client its second message was queued.
var ErrIdempotencyMismatch = errors.New("the idempotency key was used for a different message")

// sameRequest reports whether two enqueued messages ask for the same send
// (the recipient compared as the chat it resolves to).
func sameRequest(a, b *store.Message) bool {
	return a.Chat == b.Chat && a.Type == b.Type && a.Text == b.Text && a.ReplyTo == b.ReplyTo &&
		a.SendAt.UnixMilli() == b.SendAt.UnixMilli() && string(a.Content) == string(b.Content)
}

// ErrMessageNotFound is returned for an unknown message id.
var ErrMessageNotFound = errors.New("message not found")

// Message returns one message with its status history.
func (m *Manager) Message(ctx context.Context, idOrName, id string) (*event.Message, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	msg, err := m.store.GetMessage(ctx, inst.id, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrMessageNotFound
	} else if err != nil {
		return nil, err
	}
	return m.viewMessage(inst.name(), msg), nil
}

// Messages lists history, newest first.
func (m *Manager) Messages(ctx context.Context, idOrName string, f store.MessageFilter) ([]*event.Message, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	if f.Before != "" {
		// An unknown cursor would silently list from the start again.
		if _, err := m.store.GetMessage(ctx, inst.id, f.Before); errors.Is(err, store.ErrNotFound) {
			return nil, invalid("before", "no message with that id in this instance")
		} else if err != nil {
			return nil, err
		}
	}
	if jid, err := types.ParseJID(f.Chat); err == nil && jid.Server == types.HiddenUserServer {
		f.Chat = m.chatKey(ctx, jid, types.EmptyJID) // one person, one chat
	}
	msgs, err := m.store.ListMessages(ctx, inst.id, f)
	if err != nil {
		return nil, err
	}
	return m.views(inst.name(), msgs), nil
}

// Queue lists the pending outgoing messages in send order.
func (m *Manager) Queue(ctx context.Context, idOrName string) ([]*event.Message, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	msgs, err := m.store.QueuedMessages(ctx, inst.id)
	if err != nil {
		return nil, err
	}
	return m.views(inst.name(), msgs), nil
}

// CancelQueue cancels every queued message; one being sent right now
// finishes.
func (m *Manager) CancelQueue(ctx context.Context, idOrName string) (int, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return 0, err
	}
	n, err := m.store.CancelQueue(ctx, inst.id)
	if err == nil {
		inst.post(func() { inst.queueChanged() })
	}
	return n, err
}

func (m *Manager) views(name string, msgs []*store.Message) []*event.Message {
	out := make([]*event.Message, len(msgs))
	for i, msg := range msgs {
		out[i] = m.viewMessage(name, msg)
	}
	return out
}

// ChatJID normalises a chat given as +E164 or JID for history queries.
func ChatJID(s string) (string, error) {
	jid, err := parseRecipient(strings.TrimSpace(s))
	if err != nil {
		return "", err
	}
	return jid.String(), nil
}
