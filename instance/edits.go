package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// Edits and revokes go to WhatsApp at once, ahead of the queue: a
// correction must not wait behind the messages it corrects. The API
// answers once WhatsApp has accepted them, so nothing is "accepted" that
// could still be lost.

func notEditable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotEditable, fmt.Sprintf(format, args...))
}

// liveClient returns the logged-in client of a connected instance.
func (i *instance) liveClient(ctx context.Context) (*whatsmeow.Client, error) {
	var cli *whatsmeow.Client
	err := i.do(ctx, func() error {
		if i.row.State != event.StateConnected || i.cli == nil || !i.cli.IsLoggedIn() {
			return &StateError{Err: ErrNotConnected, State: i.row.State}
		}
		cli = i.cli
		return nil
	})
	return cli, err
}

// storedMessage returns an instance's message with its content.
func (m *Manager) storedMessage(ctx context.Context, idOrName, id string) (*instance, *store.Message, content, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, nil, content{}, err
	}
	msg, err := m.store.GetMessage(ctx, inst.id, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, content{}, ErrMessageNotFound
	} else if err != nil {
		return nil, nil, content{}, err
	}
	c, err := decodeContent(msg)
	return inst, msg, c, err
}

func decodeContent(m *store.Message) (content, error) {
	var c content
	if len(m.Content) == 0 {
		return c, nil
	}
	err := json.Unmarshal(m.Content, &c)
	return c, err
}

// EditMessage edits a text message: a queued one in place, a sent one on
// WhatsApp within its edit window.
func (m *Manager) EditMessage(ctx context.Context, idOrName, id, text string) (*event.Message, error) {
	if strings.TrimSpace(text) == "" {
		return nil, invalid("text", "is required")
	} else if utf8.RuneCountInString(text) > MaxTextLength {
		return nil, invalid("text", fmt.Sprintf("must be at most %d characters", MaxTextLength))
	}
	inst, msg, c, err := m.storedMessage(ctx, idOrName, id)
	if err != nil {
		return nil, err
	}
	switch {
	case msg.Direction != "out":
		return nil, notEditable("a received message cannot be edited")
	case msg.Type != event.MsgText:
		return nil, notEditable("only text messages can be edited (this one is %s)", msg.Type)
	case c.Revoked:
		return nil, notEditable("the message was revoked")
	case msg.Status == event.StatusQueued:
		return m.editQueued(ctx, inst, id, text)
	case msg.Status == event.StatusSending:
		return nil, notEditable("the message is being sent right now; edit it once it is sent")
	case msg.SentAt.IsZero():
		return nil, notEditable("the message was never sent (%s)", msg.Status)
	case time.Since(msg.SentAt) > whatsmeow.EditWindow:
		return nil, notEditable("WhatsApp allows edits for %v after sending", whatsmeow.EditWindow)
	}
	cli, err := inst.liveClient(ctx)
	if err != nil {
		return nil, err
	}
	chat, err := types.ParseJID(msg.Chat)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	edit := cli.BuildEdit(chat, id, &waE2E.Message{Conversation: proto.String(text)})
	resp, err := cli.SendMessage(wctx, chat, edit)
	if err != nil {
		return nil, fmt.Errorf("instance: send the edit: %w", err)
	}
	return m.changed(ctx, inst, id, func(t *store.Message, c *content) []store.Event {
		t.Text, c.Edited = text, true
		data, _ := json.Marshal(event.Edited{MessageID: id, Chat: t.Chat, From: ownPerson(cli), FromMe: true, Text: text, At: resp.Timestamp.UTC()})
		return []store.Event{{Type: event.TypeEdited, Data: data}}
	})
}

func (m *Manager) editQueued(ctx context.Context, inst *instance, id, text string) (*event.Message, error) {
	var late bool
	v, err := m.changed(ctx, inst, id, func(t *store.Message, _ *content) []store.Event {
		if t.Status != event.StatusQueued {
			late = true
			return nil
		}
		t.Text = text
		return nil
	})
	if late {
		return nil, notEditable("the message is being sent right now; edit it once it is sent")
	}
	return v, err
}

// RevokeMessage deletes a message: a queued one is canceled; a sent one
// is revoked for everyone on WhatsApp (forEveryone must say so).
func (m *Manager) RevokeMessage(ctx context.Context, idOrName, id string, forEveryone bool) (*event.Message, error) {
	inst, msg, c, err := m.storedMessage(ctx, idOrName, id)
	if err != nil {
		return nil, err
	}
	switch {
	case msg.Direction != "out":
		return nil, notEditable("only messages this instance sent can be revoked")
	case msg.Status == event.StatusQueued:
		return m.cancelQueued(ctx, inst, msg)
	case msg.Status == event.StatusSending:
		return nil, notEditable("the message is being sent right now; revoke it once it is sent")
	case msg.SentAt.IsZero():
		return nil, notEditable("the message was never sent (%s)", msg.Status)
	case !forEveryone:
		return nil, notEditable("a sent message can only be revoked for everyone: add for_everyone=true")
	case c.Revoked:
		return m.viewMessage(inst.name(), msg), nil
	}
	cli, err := inst.liveClient(ctx)
	if err != nil {
		return nil, err
	}
	chat, err := types.ParseJID(msg.Chat)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	resp, err := cli.SendMessage(wctx, chat, cli.BuildRevoke(chat, types.EmptyJID, id))
	if err != nil {
		return nil, fmt.Errorf("instance: send the revoke: %w", err)
	}
	return m.changed(ctx, inst, id, func(t *store.Message, c *content) []store.Event {
		c.Revoked = true
		data, _ := json.Marshal(event.Revoked{MessageID: id, Chat: t.Chat, From: ownPerson(cli), FromMe: true, At: resp.Timestamp.UTC()})
		return []store.Event{{Type: event.TypeRevoked, Data: data}}
	})
}

func (m *Manager) cancelQueued(ctx context.Context, inst *instance, msg *store.Message) (*event.Message, error) {
	var late bool
	v, err := m.changed(ctx, inst, msg.ID, func(t *store.Message, _ *content) []store.Event {
		if t.Status != event.StatusQueued {
			late = true
			return nil
		}
		t.Status, t.Error = event.StatusCanceled, ""
		data, _ := json.Marshal(event.MessageStatus{ID: t.ID, Chat: t.Chat, Status: event.StatusCanceled, At: time.Now().UTC()})
		return []store.Event{{Type: event.TypeMessageStatus, Data: data}}
	})
	if late {
		return nil, notEditable("the message is being sent right now; revoke it once it is sent")
	}
	if err == nil {
		if event.IsMedia(msg.Type) {
			m.removeMedia(m.mediaPath(inst.id, msg.ID))
		}
		inst.post(func() { inst.queueChanged() })
	}
	return v, err
}

// changed applies fn to a stored message and its content in one
// transaction and returns the new view.
func (m *Manager) changed(ctx context.Context, inst *instance, id string, fn func(*store.Message, *content) []store.Event) (*event.Message, error) {
	out, err := m.store.ChangeMessage(ctx, inst.id, id, func(t *store.Message) ([]store.Event, error) {
		if t == nil {
			return nil, ErrMessageNotFound
		}
		c, err := decodeContent(t)
		if err != nil {
			return nil, err
		}
		evs := fn(t, &c)
		t.Content = marshalOrNil(c)
		return evs, nil
	})
	if errors.Is(err, ErrMessageNotFound) {
		return nil, ErrMessageNotFound
	} else if err != nil {
		return nil, err
	}
	if err := m.store.LoadHistory(ctx, out); err != nil {
		return nil, err
	}
	return m.viewMessage(inst.name(), out), nil
}

// ownPerson is the instance's own number and LID as events name people.
func ownPerson(cli *whatsmeow.Client) event.Person {
	var p event.Person
	if own := cli.Store.GetJID(); !own.IsEmpty() {
		p.Phone, p.JID = "+"+own.User, own.ToNonAD().String()
	}
	if lid := cli.Store.GetLID(); !lid.IsEmpty() {
		p.LID = lid.ToNonAD().String()
	}
	return p
}
