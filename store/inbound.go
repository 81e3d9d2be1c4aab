package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	wastore "go.mau.fi/whatsmeow/store"
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

// BufferedEvent is whatsmeow's GetBufferedEvent (the pinned version's query
// and units) answered from the read pool: whatsmeow asks before every
// decryption, and on the write connection the question waited for the
// inbox's commits. Reading committed rows is enough: whatsmeow writes the
// row in its decryption transaction and meowgate clears it in a commit.
func (s *Store) BufferedEvent(ctx context.Context, ourJID string, hash [32]byte) (*wastore.BufferedEvent, error) {
	var serverS, insertMS int64
	var buf wastore.BufferedEvent
	err := s.read.QueryRowContext(ctx, `SELECT plaintext, server_timestamp, insert_timestamp FROM whatsmeow_event_buffer WHERE our_jid = ? AND ciphertext_hash = ?`,
		ourJID, hash[:]).Scan(&buf.Plaintext, &serverS, &insertMS)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("store: buffered event: %w", err)
	}
	buf.ServerTime, buf.InsertTime = time.Unix(serverS, 0), time.UnixMilli(insertMS)
	return &buf, nil
}

// BufferedHashes lists the ciphertext hashes in whatsmeow's
// decrypted-event buffer of device ourJID (for the instance's filter).
func (s *Store) BufferedHashes(ctx context.Context, ourJID string, each func(hash []byte)) error {
	rows, err := s.read.QueryContext(ctx, `SELECT ciphertext_hash FROM whatsmeow_event_buffer WHERE our_jid = ?`, ourJID)
	if err != nil {
		return fmt.Errorf("store: buffered hashes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return fmt.Errorf("store: buffered hashes: %w", err)
		}
		each(h)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: buffered hashes: %w", err)
	}
	return nil
}
