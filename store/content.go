package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// A Change edits a stored message inside the transaction that writes it
// back: its text, content, media reference and status (with its history)
// are written if fn changed them, and the events it returns are appended
// in the same commit. fn gets nil when the message is unknown (it may
// still return events, or an error to roll back).
type Change func(m *Message) ([]Event, error)

// ChangeMessage applies fn to one message in one transaction and returns
// the message as written (nil if it was unknown).
func (s *Store) ChangeMessage(ctx context.Context, instanceID, id string, fn Change) (*Message, error) {
	var out *Message
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		out, err = changeTx(ctx, tx, instanceID, id, fn)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: change message %s: %w", id, err)
	}
	return out, nil
}

// ChangeMessages applies fn to several messages in one transaction (a
// batch of group receipts); unknown ids are skipped.
func (s *Store) ChangeMessages(ctx context.Context, instanceID string, ids []string, fn Change) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		for _, id := range ids {
			if _, err := changeTx(ctx, tx, instanceID, id, func(m *Message) ([]Event, error) {
				if m == nil {
					return nil, nil
				}
				return fn(m)
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: change messages: %w", err)
	}
	return nil
}

// StoreRelated records an incoming message that acts on another (a
// reaction, an edit, a revoke, a poll vote) and applies fn to that target,
// once: a redelivered id changes nothing and dup is true.
func (s *Store) StoreRelated(ctx context.Context, m *Message, targetID string, fn Change) (dup bool, err error) {
	err = s.inTx(ctx, func(tx *Tx) error {
		var err error
		if dup, err = insertOnce(ctx, tx, m); err != nil || dup {
			return err
		}
		_, err = changeTx(ctx, tx, m.InstanceID, targetID, fn)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: store %s acting on %s: %w", m.ID, targetID, err)
	}
	return dup, nil
}

func changeTx(ctx context.Context, tx *Tx, instanceID, id string, fn Change) (*Message, error) {
	m, err := scanMessage(tx.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE instance_id = ? AND id = ?`, instanceID, id))
	if errors.Is(err, sql.ErrNoRows) {
		m, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	var before Message
	if m != nil {
		before = *m
	}
	evs, err := fn(m)
	if err != nil {
		return nil, err
	}
	if m != nil {
		at := now()
		if m.Text != before.Text || string(m.Content) != string(before.Content) || string(m.MediaRef) != string(before.MediaRef) || m.Status != before.Status {
			m.UpdatedAt = at
			if _, err := tx.ExecContext(ctx, `UPDATE messages SET text = ?, content = ?, media = ?, status = ?, error = ?, updated_at = ? WHERE seq = ?`,
				m.Text, string(m.Content), string(m.MediaRef), m.Status, m.Error, toMS(at), m.Seq); err != nil {
				return nil, err
			}
		}
		if m.Status != before.Status {
			if err := addStatus(ctx, tx, instanceID, id, m.Status, m.Error, at); err != nil {
				return nil, err
			}
		}
	}
	for _, ev := range evs {
		if ev.InstanceID == "" {
			ev.InstanceID = instanceID
		}
		if _, err := appendEventTx(ctx, tx, ev); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// LoadHistory fills m.History from its row.
func (s *Store) LoadHistory(ctx context.Context, m *Message) error { return s.loadHistory(ctx, m) }
