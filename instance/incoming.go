package instance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// summary is the digest of a received message kept beside its content.
type summary struct {
	PushName  string `json:"push_name,omitempty"`
	IsGroup   bool   `json:"is_group,omitempty"`
	QuotedID  string `json:"quoted_id,omitempty"`
	Forwarded bool   `json:"forwarded,omitempty"`
}

// Types of the rows that record an incoming change to another message.
const (
	typeEdit     = "edit"
	typeRevoke   = "revoke"
	typePollVote = "poll_vote"
)

// digested is what receive needs of a WhatsApp message.
type digested struct {
	typ, text string
	sum       summary
	content   content
	ref       mediaRef
	target    string // the message a reaction, edit, revoke or vote acts on
	editText  string
}

// digest sorts a received message; typ "" means nothing a user would call
// a message (protocol traffic).
func digest(m *waE2E.Message) (d digested) {
	ctx := func(ci *waE2E.ContextInfo) {
		if ci != nil {
			d.sum.QuotedID = ci.GetStanzaID()
			d.sum.Forwarded = ci.GetIsForwarded()
			d.content.Mentions = ci.GetMentionedJID()
		}
	}
	media := func(typ string, mt mediaProto, ci *waE2E.ContextInfo, md *event.Media) digested {
		ctx(ci)
		md.Mimetype, md.Size, md.SHA256 = mt.GetMimetype(), int64(mt.GetFileLength()), hex.EncodeToString(mt.GetFileSHA256())
		d.typ, d.text, d.content.Media = typ, md.Caption, md
		d.ref = mediaRef{URL: mt.GetURL(), DirectPath: mt.GetDirectPath(), MediaKey: mt.GetMediaKey(),
			FileEncSHA256: mt.GetFileEncSHA256(), FileSHA256: mt.GetFileSHA256(), FileLength: mt.GetFileLength()}
		return d
	}
	switch {
	case m.GetConversation() != "":
		d.typ, d.text = event.MsgText, m.GetConversation()
	case m.GetExtendedTextMessage() != nil:
		ctx(m.GetExtendedTextMessage().GetContextInfo())
		d.typ, d.text = event.MsgText, m.GetExtendedTextMessage().GetText()
	case m.GetImageMessage() != nil:
		im := m.GetImageMessage()
		return media(event.MsgImage, im, im.GetContextInfo(), &event.Media{Caption: im.GetCaption(), Width: im.GetWidth(), Height: im.GetHeight(), ViewOnce: im.GetViewOnce()})
	case m.GetVideoMessage() != nil:
		v := m.GetVideoMessage()
		return media(event.MsgVideo, v, v.GetContextInfo(), &event.Media{Caption: v.GetCaption(), Seconds: v.GetSeconds(), Width: v.GetWidth(), Height: v.GetHeight(), ViewOnce: v.GetViewOnce()})
	case m.GetAudioMessage() != nil:
		a := m.GetAudioMessage()
		return media(event.MsgAudio, a, a.GetContextInfo(), &event.Media{Seconds: a.GetSeconds(), PTT: a.GetPTT()})
	case m.GetDocumentMessage() != nil:
		doc := m.GetDocumentMessage()
		return media(event.MsgDocument, doc, doc.GetContextInfo(), &event.Media{Caption: doc.GetCaption(), FileName: doc.GetFileName()})
	case m.GetStickerMessage() != nil:
		st := m.GetStickerMessage()
		return media(event.MsgSticker, st, st.GetContextInfo(), &event.Media{Width: st.GetWidth(), Height: st.GetHeight()})
	case m.GetLocationMessage() != nil:
		l := m.GetLocationMessage()
		ctx(l.GetContextInfo())
		d.typ, d.text = event.MsgLocation, l.GetName()
		d.content.Location = &event.Location{Latitude: l.GetDegreesLatitude(), Longitude: l.GetDegreesLongitude(), Name: l.GetName(), Address: l.GetAddress()}
	case m.GetLiveLocationMessage() != nil:
		l := m.GetLiveLocationMessage()
		d.typ, d.text = event.MsgLocation, l.GetCaption()
		d.content.Location = &event.Location{Latitude: l.GetDegreesLatitude(), Longitude: l.GetDegreesLongitude()}
	case m.GetContactMessage() != nil:
		k := m.GetContactMessage()
		ctx(k.GetContextInfo())
		d.typ, d.text = event.MsgContact, k.GetDisplayName()
		d.content.Contacts = []event.Contact{{Name: k.GetDisplayName(), VCard: k.GetVcard()}}
	case m.GetContactsArrayMessage() != nil:
		arr := m.GetContactsArrayMessage()
		d.typ, d.text = event.MsgContact, arr.GetDisplayName()
		for _, k := range arr.GetContacts() {
			d.content.Contacts = append(d.content.Contacts, event.Contact{Name: k.GetDisplayName(), VCard: k.GetVcard()})
		}
	case m.GetReactionMessage() != nil:
		r := m.GetReactionMessage()
		d.typ, d.text, d.target = event.MsgReaction, r.GetText(), r.GetKey().GetID()
		d.content.Reaction = &event.Reaction{MessageID: r.GetKey().GetID(), Emoji: r.GetText()}
	case m.GetPollCreationMessage() != nil || m.GetPollCreationMessageV3() != nil:
		p := m.GetPollCreationMessage()
		if p == nil {
			p = m.GetPollCreationMessageV3()
		}
		ctx(p.GetContextInfo())
		d.typ, d.text = event.MsgPoll, p.GetName()
		poll := &event.Poll{Question: p.GetName(), Selectable: int(p.GetSelectableOptionsCount())}
		for _, o := range p.GetOptions() {
			poll.Options = append(poll.Options, event.PollOption{Name: o.GetOptionName()})
		}
		d.content.Poll = poll
	case m.GetPollUpdateMessage() != nil:
		d.typ, d.target = typePollVote, m.GetPollUpdateMessage().GetPollCreationMessageKey().GetID()
	case m.GetProtocolMessage() != nil:
		pm := m.GetProtocolMessage()
		switch pm.GetType() {
		case waE2E.ProtocolMessage_REVOKE:
			d.typ, d.target = typeRevoke, pm.GetKey().GetID()
		case waE2E.ProtocolMessage_MESSAGE_EDIT:
			em := pm.GetEditedMessage()
			d.editText = em.GetConversation()
			if d.editText == "" {
				d.editText = em.GetExtendedTextMessage().GetText()
			}
			d.typ, d.text, d.target = typeEdit, d.editText, pm.GetKey().GetID()
		}
	}
	return d
}

// mediaProto is what every media message proto has.
type mediaProto interface {
	GetMimetype() string
	GetFileLength() uint64
	GetFileSHA256() []byte
	GetFileEncSHA256() []byte
	GetMediaKey() []byte
	GetDirectPath() string
	GetURL() string
}

// receiveRelated stores a message that acts on another (reaction, edit,
// revoke, poll vote) once, changes the target in the same transaction and
// publishes the change's own event.
func (i *instance) receiveRelated(gen int, cli *whatsmeow.Client, e *events.Message, m *store.Message, d digested) bool {
	info := e.Info
	from := i.m.person(i.m.ctx, info.Sender, info.SenderAlt)
	voter := from.Phone // the key of a vote in the poll's tally
	if voter == "" {
		voter = from.LID
	}
	if info.IsFromMe {
		voter = "me"
	}
	at := info.Timestamp.UTC()
	var vote []string // option names chosen, for a poll vote
	if d.typ == typePollVote {
		ctx, cancel := context.WithTimeout(i.m.ctx, 10*time.Second)
		pv, err := cli.DecryptPollVote(ctx, e)
		cancel()
		if err != nil {
			i.log.Warn("cannot decrypt a poll vote", "id", info.ID, "poll", d.target, "err", err)
			return true // no retry helps: the secret is not ours
		}
		for _, h := range pv.GetSelectedOptions() {
			vote = append(vote, hex.EncodeToString(h))
		}
	}
	ctx, cancel := context.WithTimeout(i.m.ctx, 10*time.Second)
	defer cancel()
	dup, err := i.m.store.StoreRelated(ctx, m, d.target, func(t *store.Message) ([]store.Event, error) {
		var c content
		if t != nil {
			c, _ = decodeContent(t)
		}
		var ev store.Event
		switch d.typ {
		case event.MsgReaction:
			data, _ := json.Marshal(event.ReactionEvent{ID: info.ID, MessageID: d.target, Chat: m.Chat, From: from, FromMe: info.IsFromMe, Emoji: d.content.Reaction.Emoji, At: at})
			ev = store.Event{Type: event.TypeReaction, Data: data}
			if t != nil {
				c.Reactions = setReaction(c.Reactions, event.ReactionBy{From: voter, Emoji: d.content.Reaction.Emoji, At: at})
			}
		case typeEdit:
			data, _ := json.Marshal(event.Edited{MessageID: d.target, Chat: m.Chat, From: from, FromMe: info.IsFromMe, Text: d.editText, At: at})
			ev = store.Event{Type: event.TypeEdited, Data: data}
			if t != nil && (t.Sender == m.Sender || info.IsFromMe && t.Direction == "out") { // only the author edits
				t.Text, c.Edited = d.editText, true
				if c.Media != nil {
					c.Media.Caption = d.editText
				}
			}
		case typeRevoke:
			data, _ := json.Marshal(event.Revoked{MessageID: d.target, Chat: m.Chat, From: from, FromMe: info.IsFromMe, At: at})
			ev = store.Event{Type: event.TypeRevoked, Data: data}
			if t != nil {
				c.Revoked = true
			}
		case typePollVote:
			names := []string{}
			if t != nil && c.Poll != nil {
				names = c.tally(voter, vote)
			}
			data, _ := json.Marshal(event.PollVote{PollID: d.target, Chat: m.Chat, Voter: from, Selected: names, At: at})
			ev = store.Event{Type: event.TypePollVote, Data: data}
		}
		if t != nil {
			t.Content = marshalOrNil(c)
		}
		return []store.Event{ev}, nil
	})
	if err != nil {
		i.log.Error("cannot store a change; not acking it, WhatsApp will deliver it again", "id", info.ID, "err", err)
		i.post(func() { i.unackedInbound(gen) })
		return false
	}
	if !dup {
		i.post(func() { i.countsChanged() })
	}
	return true
}

func setReaction(list []event.ReactionBy, r event.ReactionBy) []event.ReactionBy {
	out := list[:0:0]
	for _, x := range list {
		if x.From != r.From {
			out = append(out, x)
		}
	}
	if r.Emoji != "" {
		out = append(out, r)
	}
	return out
}

// tally records a voter's current choice (option hashes as hex) and
// recounts the poll; it returns the chosen option names.
func (c *content) tally(voter string, hashes []string) []string {
	byHash := map[string]string{}
	for _, o := range c.Poll.Options {
		h := sha256.Sum256([]byte(o.Name))
		byHash[hex.EncodeToString(h[:])] = o.Name
	}
	names := []string{}
	for _, h := range hashes {
		if n, ok := byHash[h]; ok {
			names = append(names, n)
		}
	}
	if c.Votes == nil {
		c.Votes = map[string][]string{}
	}
	if len(names) == 0 {
		delete(c.Votes, voter)
	} else {
		c.Votes[voter] = names
	}
	voters := make([]string, 0, len(c.Votes))
	for v := range c.Votes {
		voters = append(voters, v)
	}
	sort.Strings(voters)
	for k := range c.Poll.Options {
		o := &c.Poll.Options[k]
		o.Votes, o.Voters = 0, nil
		for _, v := range voters {
			for _, n := range c.Votes[v] {
				if n == o.Name {
					o.Votes++
					o.Voters = append(o.Voters, v)
				}
			}
		}
	}
	return names
}
