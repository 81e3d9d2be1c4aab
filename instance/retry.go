package instance

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// retryWindow is how old a sent message can be and still be sent again
// when a recipient's device could not decrypt it.
const retryWindow = 7 * 24 * time.Hour

// messageForRetry answers whatsmeow's GetMessageForRetry from the store:
// whatsmeow keeps the messages it sent only in memory, so a retry receipt
// that arrives after a restart (or after 256 later sends) would otherwise
// find nothing, and the recipient would never see the message. The
// message is rebuilt from its row as the sender built it: same content,
// the poll's secret, the uploaded file's keys.
func (i *instance) messageForRetry(cli *whatsmeow.Client) func(requester, to types.JID, id types.MessageID) *waE2E.Message {
	return func(requester, to types.JID, id types.MessageID) *waE2E.Message {
		ctx, cancel := context.WithTimeout(i.m.ctx, 10*time.Second)
		defer cancel()
		msg, err := i.m.store.GetMessage(ctx, i.id, id)
		if err != nil {
			i.log.Debug("retry receipt for an unknown message", "id", id, "from", requester, "err", err)
			return nil
		}
		// Only the message's own chat may have it again; a receipt naming
		// the LID finds the chat stored under the phone JID (chatKey).
		if msg.Direction != "out" || !resendable(msg) || i.m.chatKey(ctx, to, types.EmptyJID) != msg.Chat {
			i.log.Warn("retry receipt for a message we cannot send again", "id", id, "from", requester, "chat", to, "status", msg.Status)
			return nil
		}
		s := &sender{inst: i, cli: cli, ctx: ctx}
		var wa *waE2E.Message
		if mediaTypes[msg.Type] != "" {
			wa, err = s.sentMedia(msg)
		} else {
			wa, err = s.build(msg, to.ToNonAD())
		}
		if err != nil {
			i.log.Warn("cannot rebuild a message for a retry receipt", "id", id, "err", err)
			return nil
		}
		i.log.Info("sending a message again: the recipient could not decrypt it", "id", id, "to", requester)
		return wa
	}
}

// resendable reports whether a stored outgoing message may be sent again:
// it reached WhatsApp (or may have, for "sending") recently.
func resendable(m *store.Message) bool {
	switch m.Status {
	case event.StatusQueued, event.StatusFailed, event.StatusCanceled, event.StatusExpired:
		return false
	}
	at := m.SentAt
	if at.IsZero() {
		at = m.CreatedAt
	}
	return time.Since(at) < retryWindow
}

// sentMedia rebuilds a sent file's message from the upload kept in its row.
func (s *sender) sentMedia(msg *store.Message) (*waE2E.Message, error) {
	var c content
	var ref mediaRef
	if err := json.Unmarshal(msg.Content, &c); err != nil || c.Media == nil {
		return nil, fmt.Errorf("stored content: %v", err)
	}
	if err := json.Unmarshal(msg.MediaRef, &ref); err != nil || ref.DirectPath == "" {
		return nil, fmt.Errorf("no upload recorded (%v)", err)
	}
	return mediaMessage(msg.Type, c.Media, &ref, s.inst.m.mediaPath(s.inst.id, msg.ID), s.contextInfo(msg, &c)), nil
}

// keepSentMedia records an upload in the message's row before the send,
// so that the file can be sent again without uploading it again.
func (i *instance) keepSentMedia(ctx context.Context, id string, ref *mediaRef) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := i.m.store.ChangeMessage(wctx, i.id, id, func(t *store.Message) ([]store.Event, error) {
		if t != nil {
			t.MediaRef = marshalOrNil(*ref)
		}
		return nil, nil
	})
	if err != nil {
		i.log.Warn("cannot record the upload of a sent file", "id", id, "err", err)
	}
}
