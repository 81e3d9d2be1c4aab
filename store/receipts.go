package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/meowgate/meowgate/event"
)

// Receipt is a delivery, read or played receipt for one outgoing message.
type Receipt struct {
	ID     string
	Status string // delivered, read or played
	At     time.Time
}

// ApplyReceipts moves outgoing messages forward, in the order of rs, in one
// transaction, and appends a message.status event for each move. Receipts
// for unknown ids or older statuses change nothing.
// Receipts for messages still queued or being sent are returned in held,
// with every later one for the same message: they overtook the server ack,
// and the caller applies them once the ack is recorded, so the status
// history keeps its order.
func (s *Store) ApplyReceipts(ctx context.Context, instanceID string, rs []Receipt) (held []Receipt, err error) {
	for _, r := range rs {
		if rank[r.Status] == 0 {
			return nil, fmt.Errorf("store: receipt status %q", r.Status)
		}
	}
	err = s.inTx(ctx, func(tx *Tx) error {
		var err error
		held, err = applyReceiptsTx(ctx, tx, instanceID, rs, now())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: apply receipts: %w", err)
	}
	return held, nil
}

func applyReceiptsTx(ctx context.Context, tx *Tx, instanceID string, rs []Receipt, t time.Time) (held []Receipt, err error) {
	holding := map[string]bool{}
	for _, r := range rs {
		if holding[r.ID] {
			held = append(held, r)
			continue
		}
		var cur, chat string
		err := tx.QueryRowContext(ctx, `SELECT status, chat FROM messages WHERE instance_id = ? AND id = ? AND direction = 'out'`,
			instanceID, r.ID).Scan(&cur, &chat)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		} else if err != nil {
			return nil, err
		}
		if cur == event.StatusQueued || cur == event.StatusSending {
			holding[r.ID] = true
			held = append(held, r)
			continue
		}
		if final(cur) && cur != event.StatusFailed || rank[cur] >= rank[r.Status] {
			continue
		}
		at := r.At
		if at.IsZero() {
			at = t
		}
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET status = ?, updated_at = ? WHERE instance_id = ? AND id = ?`,
			r.Status, toMS(t), instanceID, r.ID); err != nil {
			return nil, err
		}
		if err := addStatus(ctx, tx, instanceID, r.ID, r.Status, "", t); err != nil {
			return nil, err
		}
		if err := appendStatusEvent(ctx, tx, instanceID, r.ID, chat, r.Status, "", at); err != nil {
			return nil, err
		}
	}
	return held, nil
}
