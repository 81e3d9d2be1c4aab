package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/meowgate/meowgate/event"
)

// ClaimMessage takes the next message to send: the oldest queued one whose
// send_at has come. First it expires queued messages past their deadline.
// It returns nil and the time the next scheduled message is due (zero if
// none) when there is nothing to send now.
func (s *Store) ClaimMessage(ctx context.Context, instanceID string) (*Message, time.Time, error) {
	var claimed *Message
	var next time.Time
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		claimed, next, err = claimTx(ctx, tx, instanceID, now())
		return err
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("store: claim message: %w", err)
	}
	return claimed, next, nil
}

// claimTx expires what queue_ttl has passed and claims the first due
// message; with none due, next is when the first scheduled one is.
func claimTx(ctx context.Context, tx *Tx, instanceID string, at time.Time) (claimed *Message, next time.Time, err error) {
	rows, err := tx.QueryContext(ctx, `UPDATE messages SET status = ?, updated_at = ?
		WHERE instance_id = ? AND status = 'queued' AND expires_at > 0 AND expires_at <= ? RETURNING id, chat`,
		event.StatusExpired, toMS(at), instanceID, toMS(at))
	if err != nil {
		return nil, next, err
	}
	ids, chats, err := idsAndChats(rows)
	if err != nil {
		return nil, next, err
	}
	for i, id := range ids {
		if err := addStatus(ctx, tx, instanceID, id, event.StatusExpired, "queue_ttl passed", at); err != nil {
			return nil, next, err
		}
		if err := appendStatusEvent(ctx, tx, instanceID, id, chats[i], event.StatusExpired, "queue_ttl passed", at); err != nil {
			return nil, next, err
		}
	}
	gov, err := governorTx(ctx, tx, instanceID, at)
	if err != nil {
		return nil, next, err
	}
	if gov.closed() {
		return claimGoverned(ctx, tx, instanceID, at, gov)
	}
	if err := gov.open(ctx, tx, instanceID); err != nil {
		return nil, next, err
	}
	if gov.cap > 0 {
		defer func() {
			if err == nil && claimed != nil {
				err = noteFirstContact(ctx, tx, claimed, at)
			}
		}()
	}
	// "+send_at" keeps SQLite off the send_at index, which would sort
	// every queued message to find the first: walking the queue in seq
	// order stops at the first due one.
	row := tx.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages
		WHERE instance_id = ? AND status = 'queued' AND +send_at <= ? ORDER BY seq LIMIT 1`, instanceID, toMS(at))
	m, err := scanMessage(row)
	if errors.Is(err, sql.ErrNoRows) {
		var due sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MIN(send_at) FROM messages WHERE instance_id = ? AND status = 'queued'`,
			instanceID).Scan(&due); err != nil {
			return nil, next, err
		}
		if due.Valid {
			next = fromMS(due.Int64)
		}
		return nil, next, nil
	} else if err != nil {
		return nil, next, err
	}
	return markClaimed(ctx, tx, instanceID, m, at, next)
}

// markClaimed makes m, the message claimTx chose, "sending".
func markClaimed(ctx context.Context, tx *Tx, instanceID string, m *Message, at, next time.Time) (*Message, time.Time, error) {
	m.Status, m.Attempts, m.UpdatedAt, m.HeldUntil = event.StatusSending, m.Attempts+1, at, time.Time{}
	if _, err := tx.ExecContext(ctx, `UPDATE messages SET status = ?, attempts = ?, updated_at = ?, held_until = 0 WHERE seq = ?`,
		m.Status, m.Attempts, toMS(at), m.Seq); err != nil {
		return nil, next, err
	}
	if err := addStatus(ctx, tx, instanceID, m.ID, event.StatusSending, "", at); err != nil {
		return nil, next, err
	}
	return m, next, nil
}

// RequeueMessage puts a message that could not be sent (the connection
// dropped) back in the queue, keeping its place and its WhatsApp id.
func (s *Store) RequeueMessage(ctx context.Context, instanceID, id, reason string) error {
	at := now()
	err := s.inTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE messages SET status = ?, error = ?, updated_at = ? WHERE instance_id = ? AND id = ? AND status = ?`,
			event.StatusQueued, reason, toMS(at), instanceID, id, event.StatusSending)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return addStatus(ctx, tx, instanceID, id, event.StatusQueued, reason, at)
	})
	if err != nil {
		return fmt.Errorf("store: requeue %s: %w", id, err)
	}
	return nil
}

// UnclaimMessage puts back a message claimed but never handed to WhatsApp
// (the sender stopped first): it is queued again as if never claimed,
// without the claim's attempt and "sending" entry.
func (s *Store) UnclaimMessage(ctx context.Context, instanceID, id string) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE messages SET status = 'queued', attempts = max(attempts - 1, 0),
			history = CASE WHEN history ->> '$[#-1].status' = 'sending' THEN json_remove(history, '$[#-1]') ELSE history END
			WHERE instance_id = ? AND id = ? AND status = 'sending'`, instanceID, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: unclaim %s: %w", id, err)
	}
	return nil
}

// RecoverSending requeues messages left "sending" by a crash: they are sent
// again with the same WhatsApp id, which WhatsApp deduplicates.
func (s *Store) RecoverSending(ctx context.Context) (int, error) {
	res, err := s.exec(ctx, `UPDATE messages SET status = ?, updated_at = ? WHERE status = ?`, event.StatusQueued, toMS(now()), event.StatusSending)
	if err != nil {
		return 0, fmt.Errorf("store: recover sending: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// MessageSent records WhatsApp's server ack and appends a message.sent event
// with data, then applies early, the receipts that overtook the ack, in the
// same transaction. With claimNext it also claims the next due message
// there (as ClaimMessage), saving the sender a commit per message.
func (s *Store) MessageSent(ctx context.Context, instanceID, id string, at time.Time, data json.RawMessage, early []Receipt, claimNext bool) (next *Message, err error) {
	t := now()
	err = s.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET sent_at = ?, error = '', updated_at = ?,
			status = CASE WHEN status IN (?, ?) THEN ? ELSE status END WHERE instance_id = ? AND id = ?`,
			toMS(at), toMS(t), event.StatusQueued, event.StatusSending, event.StatusSent, instanceID, id); err != nil {
			return err
		}
		if err := addStatus(ctx, tx, instanceID, id, event.StatusSent, "", t); err != nil {
			return err
		}
		if _, err := appendEventTx(ctx, tx, Event{InstanceID: instanceID, Type: event.TypeMessageSent, Data: data, CreatedAt: t}); err != nil {
			return err
		}
		if _, err := applyReceiptsTx(ctx, tx, instanceID, early, t); err != nil {
			return err
		}
		if claimNext {
			var err error
			next, _, err = claimTx(ctx, tx, instanceID, t)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: message sent %s: %w", id, err)
	}
	return next, nil
}

// MessageFailed ends an outgoing message with an error.
func (s *Store) MessageFailed(ctx context.Context, instanceID, id, errText string) error {
	return s.endMessages(ctx, instanceID, `id = ? AND status IN ('queued', 'sending')`, []any{id}, event.StatusFailed, errText)
}

// CancelQueue cancels every queued message of an instance.
func (s *Store) CancelQueue(ctx context.Context, instanceID string) (int, error) {
	var n int
	err := s.endMessagesN(ctx, instanceID, `status = 'queued'`, nil, event.StatusCanceled, "", &n)
	return n, err
}

func (s *Store) endMessages(ctx context.Context, instanceID, where string, args []any, status, errText string) error {
	var n int
	return s.endMessagesN(ctx, instanceID, where, args, status, errText, &n)
}

func (s *Store) endMessagesN(ctx context.Context, instanceID, where string, args []any, status, errText string, n *int) error {
	at := now()
	err := s.inTx(ctx, func(tx *Tx) error {
		q := `UPDATE messages SET status = ?, error = ?, updated_at = ? WHERE instance_id = ? AND ` + where + ` RETURNING id, chat`
		rows, err := tx.QueryContext(ctx, q, append([]any{status, errText, toMS(at), instanceID}, args...)...)
		if err != nil {
			return err
		}
		ids, chats, err := idsAndChats(rows)
		if err != nil {
			return err
		}
		for i, id := range ids {
			if err := addStatus(ctx, tx, instanceID, id, status, errText, at); err != nil {
				return err
			}
			if err := appendStatusEvent(ctx, tx, instanceID, id, chats[i], status, errText, at); err != nil {
				return err
			}
		}
		*n = len(ids)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: set messages %s: %w", status, err)
	}
	return nil
}

// idsAndChats reads and closes the rows of an UPDATE … RETURNING id, chat.
func idsAndChats(rows *sql.Rows) (ids, chats []string, err error) {
	defer rows.Close()
	for rows.Next() {
		var id, chat string
		if err := rows.Scan(&id, &chat); err != nil {
			return nil, nil, err
		}
		ids, chats = append(ids, id), append(chats, chat)
	}
	return ids, chats, rows.Err()
}
