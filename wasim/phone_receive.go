package wasim

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/gcmutil"
	"go.mau.fi/whatsmeow/util/hkdfutil"
)

// phoneReceive is a contact's phone taking in a message a linked device
// sent it: edits and revokes change the entry they target, media is
// downloaded and verified, everything else becomes an inbox entry.
func (s *Server) phoneReceive(ctx context.Context, u *user, sender types.JID, id string, m *waE2E.Message) {
	s.phoneTake(ctx, u, sender, types.EmptyJID, id, m)
}

// phoneTake is phoneReceive of a message in a chat: a group, or a DM
// (group empty).
func (s *Server) phoneTake(ctx context.Context, u *user, sender, group types.JID, id string, m *waE2E.Message) {
	from := "+" + sender.User
	if dsm := m.GetDeviceSentMessage(); dsm != nil {
		// The account's own phone sees what its linked device sent; it
		// keeps the media key (for a media retry) without downloading.
		in := InboxMessage{ID: id, From: from, To: dsm.GetDestinationJID(), ReceivedAt: time.Now(), Echo: true}
		inner := unwrap(dsm.GetMessage())
		if s.applyChange(ctx, u, from, inner) {
			return
		}
		_ = s.describe(ctx, u, sender, id, inner, &in, false)
		in.Text = textOf(inner)
		s.recordInbox(ctx, u, in)
		return
	}
	m = unwrap(m)
	if s.applyChange(ctx, u, from, m) {
		return
	}
	if m.GetProtocolMessage() != nil || m.GetSenderKeyDistributionMessage() != nil && textOf(m) == "" {
		return
	}
	in := InboxMessage{ID: id, From: from, Text: textOf(m), ReceivedAt: time.Now()}
	if !group.IsEmpty() {
		in.Group = group.String()
	}
	if err := s.describe(ctx, u, sender, id, m, &in, true); err != nil {
		s.log.Warn("wasim: phone cannot take media", "phone", u.phone, "id", id, "err", err)
		s.record(func(o *observations) {
			o.decryptFailures++
			o.mediaFailures = append(o.mediaFailures, MediaFailure{Phone: u.phone, ID: id, Err: err.Error()})
		})
		return
	}
	if s.recordInbox(ctx, u, in) {
		if group.IsEmpty() {
			s.scheduleReceipts(u, sender.ToNonAD(), id)
		} else {
			s.scheduleGroupReceipts(u, group, sender.ToNonAD(), id)
		}
	}
}

// unwrap takes a message out of the containers WhatsApp wraps some in.
func unwrap(m *waE2E.Message) *waE2E.Message {
	for range 4 {
		switch {
		case m.GetEphemeralMessage().GetMessage() != nil:
			m = m.GetEphemeralMessage().GetMessage()
		case m.GetViewOnceMessage().GetMessage() != nil:
			m = m.GetViewOnceMessage().GetMessage()
		case m.GetViewOnceMessageV2().GetMessage() != nil:
			m = m.GetViewOnceMessageV2().GetMessage()
		case m.GetDocumentWithCaptionMessage().GetMessage() != nil:
			m = m.GetDocumentWithCaptionMessage().GetMessage()
		default:
			return m
		}
	}
	return m
}

// applyChange applies an edit or a revoke to the entry it targets and
// reports whether m was one.
func (s *Server) applyChange(ctx context.Context, u *user, from string, m *waE2E.Message) bool {
	pm := m.GetProtocolMessage()
	if e := m.GetEditedMessage().GetMessage().GetProtocolMessage(); e != nil {
		pm = e
	}
	if pm == nil {
		return false // GetType of nil is REVOKE (0)
	}
	switch pm.GetType() {
	case waE2E.ProtocolMessage_MESSAGE_EDIT:
		edited := unwrap(pm.GetEditedMessage())
		s.changeInbox(ctx, u, from, pm.GetKey().GetID(), func(text *string, r *InboxRich) {
			r.Edited = true
			if c := captionOf(edited); c != "" {
				r.Caption = c
				return
			}
			*text = textOf(edited)
		})
		return true
	case waE2E.ProtocolMessage_REVOKE:
		s.changeInbox(ctx, u, from, pm.GetKey().GetID(), func(_ *string, r *InboxRich) { r.Revoked = true })
		return true
	}
	return false
}

// changeInbox rewrites an inbox entry of the phone from a sender.
func (s *Server) changeInbox(ctx context.Context, u *user, from, id string, f func(text *string, r *InboxRich)) {
	var text, extra string
	err := s.db.QueryRowContext(ctx, `SELECT text, extra FROM wasim_inbox WHERE phone = ? AND sender = ? AND id = ?`, u.phone, from, id).Scan(&text, &extra)
	if errors.Is(err, sql.ErrNoRows) {
		s.log.Warn("wasim: change of an unknown message", "phone", u.phone, "from", from, "id", id)
		return
	} else if err != nil {
		s.log.Error("wasim: inbox", "err", err)
		return
	}
	var r InboxRich
	if extra != "" {
		_ = json.Unmarshal([]byte(extra), &r)
	}
	f(&text, &r)
	b, _ := json.Marshal(r)
	if _, err := s.db.ExecContext(ctx, `UPDATE wasim_inbox SET text = ?, extra = ? WHERE phone = ? AND sender = ? AND id = ?`,
		text, string(b), u.phone, from, id); err != nil {
		s.log.Error("wasim: inbox", "err", err)
	}
	s.mu.Lock()
	s.notify()
	s.mu.Unlock()
}

func captionOf(m *waE2E.Message) string {
	switch {
	case m.GetImageMessage() != nil:
		return m.GetImageMessage().GetCaption()
	case m.GetVideoMessage() != nil:
		return m.GetVideoMessage().GetCaption()
	case m.GetDocumentMessage() != nil:
		return m.GetDocumentMessage().GetCaption()
	}
	return ""
}

// mediaProto is the part of a media message the phone downloads with.
type mediaProto struct {
	url, directPath               string
	mediaKey, fileSHA, fileEncSHA []byte
	fileLength                    uint64
}

// describe fills the inbox entry's kind and fields from the message; for
// media with verify set, the phone downloads, checks and decrypts the file.
func (s *Server) describe(ctx context.Context, u *user, sender types.JID, id string, m *waE2E.Message, in *InboxMessage, verify bool) error {
	r := &in.InboxRich
	r.QuotedID = quotedID(m)
	var mp mediaProto
	var kind string
	switch {
	case m.GetConversation() != "" || m.GetExtendedTextMessage() != nil:
		r.Type = "text"
	case m.GetImageMessage() != nil:
		x := m.GetImageMessage()
		kind, r.Mimetype, r.Caption, r.Width, r.Height = "image", x.GetMimetype(), x.GetCaption(), x.GetWidth(), x.GetHeight()
		mp = mediaProto{x.GetURL(), x.GetDirectPath(), x.GetMediaKey(), x.GetFileSHA256(), x.GetFileEncSHA256(), x.GetFileLength()}
	case m.GetVideoMessage() != nil:
		x := m.GetVideoMessage()
		kind, r.Mimetype, r.Caption, r.Seconds, r.Width, r.Height = "video", x.GetMimetype(), x.GetCaption(), x.GetSeconds(), x.GetWidth(), x.GetHeight()
		mp = mediaProto{x.GetURL(), x.GetDirectPath(), x.GetMediaKey(), x.GetFileSHA256(), x.GetFileEncSHA256(), x.GetFileLength()}
	case m.GetAudioMessage() != nil:
		x := m.GetAudioMessage()
		kind, r.Mimetype, r.Seconds, r.PTT = "audio", x.GetMimetype(), x.GetSeconds(), x.GetPTT()
		mp = mediaProto{x.GetURL(), x.GetDirectPath(), x.GetMediaKey(), x.GetFileSHA256(), x.GetFileEncSHA256(), x.GetFileLength()}
	case m.GetDocumentMessage() != nil:
		x := m.GetDocumentMessage()
		kind, r.Mimetype, r.Caption, r.FileName = "document", x.GetMimetype(), x.GetCaption(), x.GetFileName()
		mp = mediaProto{x.GetURL(), x.GetDirectPath(), x.GetMediaKey(), x.GetFileSHA256(), x.GetFileEncSHA256(), x.GetFileLength()}
	case m.GetStickerMessage() != nil:
		x := m.GetStickerMessage()
		kind, r.Mimetype, r.Width, r.Height = "sticker", x.GetMimetype(), x.GetWidth(), x.GetHeight()
		mp = mediaProto{x.GetURL(), x.GetDirectPath(), x.GetMediaKey(), x.GetFileSHA256(), x.GetFileEncSHA256(), x.GetFileLength()}
	case m.GetLocationMessage() != nil:
		x := m.GetLocationMessage()
		r.Type = "location"
		r.Location = &InboxLocation{Latitude: x.GetDegreesLatitude(), Longitude: x.GetDegreesLongitude(), Name: x.GetName(), Address: x.GetAddress()}
	case m.GetContactMessage() != nil:
		x := m.GetContactMessage()
		r.Type = "contact"
		r.Contact = &InboxContact{DisplayName: x.GetDisplayName(), VCard: x.GetVcard()}
	case m.GetContactsArrayMessage() != nil:
		r.Type = "contact"
		for _, c := range m.GetContactsArrayMessage().GetContacts() {
			r.Contacts = append(r.Contacts, InboxContact{DisplayName: c.GetDisplayName(), VCard: c.GetVcard()})
		}
	case m.GetReactionMessage() != nil:
		x := m.GetReactionMessage()
		r.Type = "reaction"
		r.Reaction = &InboxReaction{MessageID: x.GetKey().GetID(), Emoji: x.GetText()}
	case pollOf(m) != nil:
		p := pollOf(m)
		r.Type = "poll"
		r.Poll = &InboxPoll{Question: p.GetName(), Selectable: int(p.GetSelectableOptionsCount())}
		for _, o := range p.GetOptions() {
			r.Poll.Options = append(r.Poll.Options, o.GetOptionName())
		}
		if secret := m.GetMessageContextInfo().GetMessageSecret(); len(secret) > 0 {
			s.rememberPoll(ctx, u.phone, id, sender.ToNonAD(), secret, r.Poll.Options)
		}
	case m.GetPollUpdateMessage() != nil:
		r.Type = "poll_vote"
		vote, err := s.decryptVote(ctx, u, sender, m.GetPollUpdateMessage())
		if err != nil {
			s.log.Warn("wasim: phone cannot decrypt a poll vote", "phone", u.phone, "id", id, "err", err)
		}
		r.PollVote = vote
	default:
		r.Type = "unknown"
	}
	if kind == "" {
		return nil
	}
	r.Type = kind
	mk := mediaKinds[kind]
	key := blobKey(mp.directPath)
	if mp.url != "" {
		key = blobKey(mp.url)
	}
	s.rememberMedia(ctx, id, mediaMsg{key: key, mediaKey: mp.mediaKey, info: mk.info})
	r.Size = int64(mp.fileLength)
	r.SHA256 = hexSum(mp.fileSHA)
	if !verify {
		return nil
	}
	b, err := s.blob(ctx, key)
	if errors.Is(err, sql.ErrNoRows) || err == nil && b.expired {
		return fmt.Errorf("download %s: 404", key)
	} else if err != nil {
		return err
	}
	sum, n, err := decryptMediaFile(filepath.Join(s.mediaDir, b.file), mediaExpect{
		mediaKey: mp.mediaKey, fileSHA: mp.fileSHA, fileEncSHA: mp.fileEncSHA, fileLength: mp.fileLength, info: mk.info,
	}, nil)
	if err != nil {
		return err
	}
	r.Size, r.SHA256 = n, hexSum(sum)
	return nil
}

func pollOf(m *waE2E.Message) *waE2E.PollCreationMessage {
	for _, p := range []*waE2E.PollCreationMessage{m.GetPollCreationMessage(), m.GetPollCreationMessageV2(), m.GetPollCreationMessageV3()} {
		if p != nil {
			return p
		}
	}
	return nil
}

// quotedID finds the ContextInfo of whatever kind m is and returns the id
// of the message it replies to.
func quotedID(m *waE2E.Message) (id string) {
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() {
			return true
		}
		sub := v.Message()
		ci := sub.Descriptor().Fields().ByName("contextInfo")
		if ci == nil || ci.Kind() != protoreflect.MessageKind || !sub.Has(ci) {
			return true
		}
		if c, ok := sub.Get(ci).Message().Interface().(*waE2E.ContextInfo); ok && c.GetStanzaID() != "" {
			id = c.GetStanzaID()
			return false
		}
		return true
	})
	return id
}

// rememberPoll keeps a poll's secret, so the phone can vote on it and
// read votes, as WhatsApp clients keep MessageContextInfo.messageSecret.
func (s *Server) rememberPoll(ctx context.Context, phone, id string, creator types.JID, secret []byte, options []string) {
	opts, _ := json.Marshal(options)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO wasim_polls (phone, id, creator, secret, options) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		phone, id, creator.String(), secret, string(opts)); err != nil {
		s.log.Error("wasim: remember poll", "err", err)
	}
}

type pollRow struct {
	creator types.JID
	secret  []byte
	options []string
}

func (s *Server) poll(ctx context.Context, phone, id string) (pollRow, error) {
	var p pollRow
	var creator, opts string
	err := s.db.QueryRowContext(ctx, `SELECT creator, secret, options FROM wasim_polls WHERE phone = ? AND id = ?`, phone, id).Scan(&creator, &p.secret, &opts)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("%w: no poll %s known to +%s", ErrUnknownMessage, id, phone)
	} else if err != nil {
		return p, err
	}
	if p.creator, err = types.ParseJID(creator); err != nil {
		return p, err
	}
	_ = json.Unmarshal([]byte(opts), &p.options)
	return p, nil
}

// pollVoteKey is whatsmeow's generateMsgSecretKey for "Poll Vote".
func pollVoteKey(secret []byte, id string, creator, voter types.JID) (key, aad []byte) {
	voterStr := voter.ToNonAD().String()
	info := []byte(id + creator.ToNonAD().String() + voterStr + "Poll Vote")
	return hkdfutil.SHA256(secret, nil, info, 32), fmt.Appendf(nil, "%s\x00%s", id, voterStr)
}

// decryptVote is the phone reading a vote on a poll it knows.
func (s *Server) decryptVote(ctx context.Context, u *user, voter types.JID, up *waE2E.PollUpdateMessage) (*InboxPollVote, error) {
	pid := up.GetPollCreationMessageKey().GetID()
	p, err := s.poll(ctx, u.phone, pid)
	if err != nil {
		return &InboxPollVote{MessageID: pid}, err
	}
	key, aad := pollVoteKey(p.secret, pid, p.creator, voter)
	plain, err := gcmutil.Decrypt(key, up.GetVote().GetEncIV(), up.GetVote().GetEncPayload(), aad)
	if err != nil {
		return &InboxPollVote{MessageID: pid}, fmt.Errorf("decrypt vote: %w", err)
	}
	var v waE2E.PollVoteMessage
	if err := proto.Unmarshal(plain, &v); err != nil {
		return &InboxPollVote{MessageID: pid}, err
	}
	out := &InboxPollVote{MessageID: pid, Options: []string{}}
	for _, h := range v.GetSelectedOptions() {
		for _, o := range p.options {
			if sum := sha256.Sum256([]byte(o)); string(sum[:]) == string(h) {
				out.Options = append(out.Options, o)
			}
		}
	}
	return out, nil
}
