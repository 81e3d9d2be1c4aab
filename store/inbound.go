package store

import (
	"context"
	"encoding/json"
	"fmt"
)

// Inbound is one received message with its event, for StoreInbound.
type Inbound struct {
	Message   *Message
	EventType string
	Data      json.RawMessage
	// BufferHash is the ciphertext hash of whatsmeow's decrypted-event
	// buffer row holding this message's plaintext (nil: none).
	BufferHash []byte
}

// clearBufferQuery is whatsmeow's own ClearBufferedEventPlaintext
// (store/sqlstore/store.go of the pinned version): the row stays, so a
// redelivered copy is recognised as processed and only acked.
const clearBufferQuery = `UPDATE whatsmeow_event_buffer SET plaintext = NULL WHERE our_jid = ? AND ciphertext_hash = ?`

// StoreInbound stores a batch of received messages and their events in one
// transaction, each at most once by id, and clears their plaintext from
// whatsmeow's event buffer (device ourJID) in the same commit: either the
// message is ours, or whatsmeow still holds it for WhatsApp's redelivery.
// dup[k] reports that items[k] was already stored.
func (s *Store) StoreInbound(ctx context.Context, ourJID string, items []Inbound) (dup []bool, err error) {
	dup = make([]bool, len(items))
	err = s.inTx(ctx, func(tx *Tx) error {
		for k, it := range items {
			d, err := insertOnce(ctx, tx, it.Message)
			if err != nil {
				return fmt.Errorf("message %s: %w", it.Message.ID, err)
			}
			dup[k] = d
			if !d {
				if _, err := appendEventTx(ctx, tx, Event{InstanceID: it.Message.InstanceID, Type: it.EventType, Data: it.Data, CreatedAt: it.Message.UpdatedAt}); err != nil {
					return fmt.Errorf("message %s: %w", it.Message.ID, err)
				}
			}
			if it.BufferHash != nil {
				if _, err := tx.ExecContext(ctx, clearBufferQuery, ourJID, it.BufferHash); err != nil {
					return fmt.Errorf("clear event buffer: %w", err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: store %d incoming messages: %w", len(items), err)
	}
	return dup, nil
}
