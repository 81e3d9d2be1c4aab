package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// MaxContactCheck is how many numbers one check may ask about.
const MaxContactCheck = 50

// ContactCheck is whether a number is on WhatsApp, with its ids.
type ContactCheck struct {
	Phone      string `json:"phone"`
	OnWhatsApp bool   `json:"on_whatsapp"`
	JID        string `json:"jid,omitempty"`
	LID        string `json:"lid,omitempty"`
}

// Contact is what WhatsApp tells about a person.
type Contact struct {
	event.Person
	PushName   string           `json:"push_name,omitempty"`
	About      string           `json:"about,omitempty"`
	Business   *BusinessProfile `json:"business,omitempty"` // nil: not a business account
	PictureURL string           `json:"picture_url,omitempty"`
	Blocked    bool             `json:"blocked"`
}

// BusinessProfile is a business account's public profile.
type BusinessProfile struct {
	Name       string   `json:"name,omitempty"` // the verified name
	Address    string   `json:"address,omitempty"`
	Email      string   `json:"email,omitempty"`
	Website    string   `json:"website,omitempty"`
	Categories []string `json:"categories,omitempty"`
}

// CheckContacts asks WhatsApp which numbers are on it.
func (m *Manager) CheckContacts(ctx context.Context, idOrName string, phones []string) ([]ContactCheck, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	if len(phones) == 0 || len(phones) > MaxContactCheck {
		return nil, invalid("phones", fmt.Sprintf("must list 1 to %d numbers", MaxContactCheck))
	}
	fields := map[string]string{}
	for k, p := range phones {
		if !ValidPhone(strings.TrimSpace(p)) {
			fields[fmt.Sprintf("phones[%d]", k)] = "must be an E.164 number such as +4915123456789"
		}
	}
	if len(fields) > 0 {
		return nil, &ValidationError{Fields: fields}
	}
	cli, err := inst.liveClient(ctx)
	if err != nil {
		return nil, err
	}
	res, err := cli.IsOnWhatsApp(ctx, phones)
	if err != nil {
		return nil, fmt.Errorf("instance: check contacts: %w", err)
	}
	byDigits := map[string]types.IsOnWhatsAppResponse{}
	var on []types.JID
	for _, r := range res {
		byDigits[strings.TrimPrefix(r.Query, "+")] = r
		if r.IsIn {
			on = append(on, r.JID)
		}
	}
	// usync with <lid/> teaches whatsmeow (and its map) the LIDs.
	if len(on) > 0 {
		if _, err := cli.GetUserInfo(ctx, on); err != nil {
			inst.log.Debug("cannot look up LIDs", "err", err)
		}
	}
	out := make([]ContactCheck, 0, len(phones))
	for _, p := range phones {
		p = strings.TrimSpace(p)
		c := ContactCheck{Phone: p}
		if r, ok := byDigits[p[1:]]; ok && r.IsIn {
			per := m.person(ctx, r.JID, types.EmptyJID)
			c.OnWhatsApp, c.JID, c.LID = true, per.JID, per.LID
		}
		out = append(out, c)
	}
	return out, nil
}

// parsePerson accepts +E164, a phone JID or a LID.
func parsePerson(s string) (types.JID, error) {
	jid, err := parseRecipient(strings.TrimSpace(s))
	if err != nil || jid.Server == types.GroupServer {
		return types.EmptyJID, invalid("contact", "must be an E.164 number, a phone JID or a LID")
	}
	return jid, nil
}

// Contact returns what WhatsApp tells about a person; a LID is resolved to
// the phone number when the mapping is known.
func (m *Manager) Contact(ctx context.Context, idOrName, who string) (*Contact, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	jid, err := parsePerson(who)
	if err != nil {
		return nil, err
	}
	c := &Contact{Person: m.person(ctx, jid, types.EmptyJID)}
	cli, err := inst.liveClient(ctx)
	if err != nil {
		return c, nil // what the store knows: the ids
	}
	infos, err := cli.GetUserInfo(ctx, []types.JID{jid})
	if err != nil {
		return nil, fmt.Errorf("instance: contact info: %w", err)
	}
	c.Person = m.person(ctx, jid, types.EmptyJID) // GetUserInfo may have taught the LID
	for _, info := range infos {
		c.About = info.Status
		if info.VerifiedName != nil && info.VerifiedName.Details != nil {
			c.Business = &BusinessProfile{Name: info.VerifiedName.Details.GetVerifiedName()}
		}
	}
	if ct, err := cli.Store.Contacts.GetContact(ctx, jid); err == nil {
		c.PushName = ct.PushName
	}
	if pic, err := cli.GetProfilePictureInfo(ctx, jid, &whatsmeow.GetProfilePictureParams{}); err == nil && pic != nil {
		c.PictureURL = pic.URL
	}
	// Only business accounts have a business profile (others get 404).
	if bp, err := cli.GetBusinessProfile(ctx, jid); err == nil && bp != nil {
		if c.Business == nil {
			c.Business = &BusinessProfile{}
		}
		c.Business.Address, c.Business.Email = bp.Address, bp.Email
		c.Business.Website = bp.ProfileOptions["website"]
		for _, cat := range bp.Categories {
			c.Business.Categories = append(c.Business.Categories, cat.Name)
		}
		if c.Business.Name == "" && c.Phone != "" {
			// The verified name comes with the number check.
			if res, err := cli.IsOnWhatsApp(ctx, []string{c.Phone}); err == nil && len(res) == 1 && res[0].VerifiedName != nil {
				c.Business.Name = res[0].VerifiedName.Details.GetVerifiedName()
			}
		}
	}
	if bl, err := cli.GetBlocklist(ctx); err == nil && bl != nil {
		for _, b := range bl.JIDs {
			if b.ToNonAD() == jid {
				c.Blocked = true
			}
		}
	}
	return c, nil
}

// Block blocks (or with block false, unblocks) a person.
func (m *Manager) Block(ctx context.Context, idOrName, who string, block bool) (*Contact, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	jid, err := parsePerson(who)
	if err != nil {
		return nil, err
	}
	cli, err := inst.liveClient(ctx)
	if err != nil {
		return nil, err
	}
	action := events.BlocklistChangeActionBlock
	if !block {
		action = events.BlocklistChangeActionUnblock
	}
	if _, err := cli.UpdateBlocklist(ctx, jid, action); err != nil {
		return nil, fmt.Errorf("instance: blocklist: %w", err)
	}
	return &Contact{Person: m.person(ctx, jid, types.EmptyJID), Blocked: block}, nil
}

// Presence states the API takes and events carry.
const (
	PresenceAvailable   = "available"
	PresenceUnavailable = "unavailable"
	PresenceComposing   = "composing"
	PresenceRecording   = "recording"
	PresencePaused      = "paused"
)

// SetPresence sets the instance's presence, or with chat, its typing state
// in that chat.
func (m *Manager) SetPresence(ctx context.Context, idOrName, chat, state string) error {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return err
	}
	var to types.JID
	if chat != "" {
		if to, err = parseRecipient(strings.TrimSpace(chat)); err != nil {
			return invalid("chat", err.Error())
		}
		if state != PresenceComposing && state != PresenceRecording && state != PresencePaused {
			return invalid("state", "with chat, must be composing, recording or paused")
		}
	} else if state != PresenceAvailable && state != PresenceUnavailable {
		return invalid("state", "must be available or unavailable (or give chat for composing, recording, paused)")
	}
	cli, err := inst.liveClient(ctx)
	if err != nil {
		return err
	}
	switch state {
	case PresenceAvailable, PresenceUnavailable:
		err = cli.SendPresence(ctx, types.Presence(state))
	case PresenceRecording:
		err = cli.SendChatPresence(ctx, to, types.ChatPresenceComposing, types.ChatPresenceMediaAudio)
	case PresenceComposing:
		err = cli.SendChatPresence(ctx, to, types.ChatPresenceComposing, types.ChatPresenceMediaText)
	default:
		err = cli.SendChatPresence(ctx, to, types.ChatPresencePaused, types.ChatPresenceMediaText)
	}
	if err != nil {
		return fmt.Errorf("instance: presence: %w", err)
	}
	return nil
}

// SubscribePresence asks WhatsApp for a person's presence: presence events
// follow while the instance stays connected (WhatsApp forgets the
// subscription at a reconnect; subscribe again then).
func (m *Manager) SubscribePresence(ctx context.Context, idOrName, who string) error {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return err
	}
	jid, err := parsePerson(who)
	if err != nil {
		return err
	}
	cli, err := inst.liveClient(ctx)
	if err != nil {
		return err
	}
	if err := cli.SubscribePresence(ctx, jid); err != nil {
		if errors.Is(err, whatsmeow.ErrNoPrivacyToken) {
			return nil // sent without a token; WhatsApp may still answer
		}
		return fmt.Errorf("instance: subscribe presence: %w", err)
	}
	return nil
}

// onPresence publishes a contact's presence or typing state.
func (i *instance) onPresence(from, alt types.JID, chat, state string, lastSeen time.Time) {
	ctx, cancel := context.WithTimeout(i.m.ctx, 10*time.Second)
	defer cancel()
	p := event.Presence{From: i.m.person(ctx, from, alt), Chat: chat, State: state, At: time.Now().UTC()}
	if !lastSeen.IsZero() {
		t := lastSeen.UTC()
		p.LastSeen = &t
	}
	data, _ := json.Marshal(p)
	if _, err := i.m.store.AppendEvent(ctx, store.Event{InstanceID: i.id, Type: event.TypePresence, Data: data}); err != nil {
		i.log.Error("cannot record presence", "err", err)
	}
}
