package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/meowgate/meowgate/event"
)

// rank orders the forward statuses; receipts never move a message back.
var rank = map[string]int{event.StatusQueued: 1, event.StatusSending: 2, event.StatusSent: 3, event.StatusDelivered: 4, event.StatusRead: 5, event.StatusPlayed: 6}

func final(status string) bool {
	return status == event.StatusFailed || status == event.StatusExpired || status == event.StatusCanceled
}

// IdempotencyWindow is how long an Idempotency-Key returns the first message.
const IdempotencyWindow = 24 * time.Hour

// Message is one row of the messages table with its status history.
type Message struct {
	Seq            int64
	InstanceID     string
	ID             string // WhatsApp message id
	Direction      string // "in" or "out"
	Chat           string
	Sender         string
	Recipient      string
	Type           string
	Text           string
	Summary        json.RawMessage
	Content        json.RawMessage // public: media metadata, location, poll… ("" for text)
	MediaRef       json.RawMessage // private: where the file is and how to download it
	ReplyTo        string
	Status         string
	Error          string
	IdempotencyKey string
	Attempts       int
	SendAt         time.Time
	ExpiresAt      time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	SentAt         time.Time
	HeldUntil      time.Time // a queued first contact waits until then (governor.go)
	History        []event.StatusChange
}

const messageCols = `seq, instance_id, id, direction, chat, sender, recipient, type, text, summary, reply_to,
	status, error, COALESCE(idempotency_key, ''), attempts, send_at, expires_at, created_at, updated_at, sent_at, content, media, held_until`

func scanMessage(row interface{ Scan(...any) error }) (*Message, error) {
	var m Message
	var summary, content, media string
	var sendAt, expires, created, updated, sent, held int64
	err := row.Scan(&m.Seq, &m.InstanceID, &m.ID, &m.Direction, &m.Chat, &m.Sender, &m.Recipient, &m.Type, &m.Text,
		&summary, &m.ReplyTo, &m.Status, &m.Error, &m.IdempotencyKey, &m.Attempts, &sendAt, &expires, &created, &updated, &sent,
		&content, &media, &held)
	if err != nil {
		return nil, err
	}
	m.Summary = json.RawMessage(summary)
	if content != "" {
		m.Content = json.RawMessage(content)
	}
	if media != "" {
		m.MediaRef = json.RawMessage(media)
	}
	m.SendAt, m.ExpiresAt, m.CreatedAt, m.UpdatedAt, m.SentAt = fromMS(sendAt), fromMS(expires), fromMS(created), fromMS(updated), fromMS(sent)
	m.HeldUntil = fromMS(held)
	return &m, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func insertMessage(ctx context.Context, tx *Tx, m *Message) error {
	_, err := insertMessageRow(ctx, tx, m, "")
	return err
}

// insertMessageRow inserts m with an optional conflict clause; it returns
// the rows inserted (0: the clause skipped it).
func insertMessageRow(ctx context.Context, tx *Tx, m *Message, conflict string) (int64, error) {
	summary, err := jsonText("summary", m.Summary, "{}")
	if err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO messages (instance_id, id, direction, chat, sender, recipient, type, text,
		summary, reply_to, status, error, idempotency_key, attempts, send_at, expires_at, created_at, updated_at, sent_at, history,
		content, media)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, json_array(json_object('status', ?, 'error', ?, 'at', ?)), ?, ?)`+conflict,
		m.InstanceID, m.ID, m.Direction, m.Chat, m.Sender, m.Recipient, m.Type, m.Text, summary, m.ReplyTo,
		m.Status, m.Error, nullable(m.IdempotencyKey), m.Attempts, toMS(m.SendAt), toMS(m.ExpiresAt),
		toMS(m.CreatedAt), toMS(m.UpdatedAt), toMS(m.SentAt), m.Status, m.Error, toMS(m.CreatedAt),
		string(m.Content), string(m.MediaRef))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return 0, err
	}
	m.Seq, _ = res.LastInsertId()
	m.Summary = json.RawMessage(summary)
	return n, nil
}

func addStatus(ctx context.Context, tx *Tx, instanceID, id, status, errText string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE messages SET history = json_insert(history, '$[#]', json_object('status', ?, 'error', ?, 'at', ?))
		WHERE instance_id = ? AND id = ?`, status, errText, toMS(at), instanceID, id)
	return err
}

// EnqueueMessage commits an outgoing message to the queue. With an
// idempotency key seen in the last 24 hours it returns the first message
// instead, and existing is true.
func (s *Store) EnqueueMessage(ctx context.Context, m *Message) (existing bool, err error) {
	at := now()
	err = s.inBatchTx(ctx, func(tx *Tx) error {
		existing = false
		if m.IdempotencyKey != "" {
			row := tx.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE instance_id = ? AND idempotency_key = ?`, m.InstanceID, m.IdempotencyKey)
			old, err := scanMessage(row)
			switch {
			case err == nil && at.Sub(old.CreatedAt) < IdempotencyWindow:
				*m, existing = *old, true
				return nil
			case err == nil:
				// The key has expired: free it for this new message.
				if _, err := tx.ExecContext(ctx, `UPDATE messages SET idempotency_key = NULL WHERE seq = ?`, old.Seq); err != nil {
					return err
				}
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		m.Direction, m.Status, m.CreatedAt, m.UpdatedAt = "out", event.StatusQueued, at, at
		return insertMessage(ctx, tx, m)
	})
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE constraint failed: messages.instance_id, messages.id") {
			return false, fmt.Errorf("store: enqueue %s: %w", m.ID, ErrConflict)
		}
		return false, fmt.Errorf("store: enqueue message: %w", err)
	}
	if existing {
		return true, s.loadHistory(ctx, m)
	}
	m.History = []event.StatusChange{{Status: event.StatusQueued, At: at}}
	return false, nil
}

// appendStatusEvent appends the message.status event of a status change.
func appendStatusEvent(ctx context.Context, tx *Tx, instanceID, id, chat, status, errText string, at time.Time) error {
	data, _ := json.Marshal(event.MessageStatus{ID: id, Chat: chat, Status: status, Error: errText, At: at})
	_, err := appendEventTx(ctx, tx, Event{InstanceID: instanceID, Type: event.TypeMessageStatus, Data: data, CreatedAt: at})
	return err
}

// StoreMessage records a message that arrived (or was sent from another
// device) together with its event, once: a redelivered id is ignored and
// dup is true.
func (s *Store) StoreMessage(ctx context.Context, m *Message, evType string, data json.RawMessage) (dup bool, err error) {
	err = s.inTx(ctx, func(tx *Tx) error {
		var err error
		if dup, err = insertOnce(ctx, tx, m); err != nil || dup {
			return err
		}
		_, err = appendEventTx(ctx, tx, Event{InstanceID: m.InstanceID, Type: evType, Data: data, CreatedAt: m.UpdatedAt})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: store message %s: %w", m.ID, err)
	}
	return dup, nil
}

// MarkIncomingRead records that we marked incoming messages read.
func (s *Store) MarkIncomingRead(ctx context.Context, instanceID string, ids []string) error {
	at := now()
	return s.inTx(ctx, func(tx *Tx) error {
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, `UPDATE messages SET status = ?, updated_at = ? WHERE instance_id = ? AND id = ? AND direction = 'in' AND status = ?`,
				event.StatusRead, toMS(at), instanceID, id, event.StatusReceived)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				if err := addStatus(ctx, tx, instanceID, id, event.StatusRead, "", at); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// UnreadIncoming returns the incoming messages of a chat not yet marked
// read, oldest first (for mark_read_on_reply).
func (s *Store) UnreadIncoming(ctx context.Context, instanceID, chat string) ([]*Message, error) {
	return s.queryMessages(ctx, `SELECT `+messageCols+` FROM messages WHERE instance_id = ? AND chat = ? AND direction = 'in' AND status = 'received' ORDER BY seq LIMIT 500`,
		instanceID, chat)
}

// GetMessage returns one message with its status history.
func (s *Store) GetMessage(ctx context.Context, instanceID, id string) (*Message, error) {
	m, err := scanMessage(s.read.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE instance_id = ? AND id = ?`, instanceID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: message %q: %w", id, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("store: get message: %w", err)
	}
	return m, s.loadHistory(ctx, m)
}

func (s *Store) loadHistory(ctx context.Context, m *Message) error {
	var history string
	err := s.read.QueryRowContext(ctx, `SELECT history FROM messages WHERE instance_id = ? AND id = ?`, m.InstanceID, m.ID).Scan(&history)
	if err != nil {
		return fmt.Errorf("store: message history: %w", err)
	}
	var rows []struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		At     int64  `json:"at"`
	}
	if err := json.Unmarshal([]byte(history), &rows); err != nil {
		return fmt.Errorf("store: message history of %s: %w", m.ID, err)
	}
	m.History = m.History[:0]
	for _, r := range rows {
		m.History = append(m.History, event.StatusChange{Status: r.Status, Error: r.Error, At: fromMS(r.At)})
	}
	return nil
}

// MessageFilter selects history.
type MessageFilter struct {
	Chat      string
	Direction string
	Before    string // message id: only older ones
	Limit     int
}

// ListMessages returns an instance's messages, newest first.
func (s *Store) ListMessages(ctx context.Context, instanceID string, f MessageFilter) ([]*Message, error) {
	q := `SELECT ` + messageCols + ` FROM messages WHERE instance_id = ?`
	args := []any{instanceID}
	if f.Chat != "" {
		q += ` AND chat = ?`
		args = append(args, f.Chat)
	}
	if f.Direction != "" {
		q += ` AND direction = ?`
		args = append(args, f.Direction)
	}
	if f.Before != "" {
		q += ` AND seq < COALESCE((SELECT seq FROM messages WHERE instance_id = ? AND id = ?), 0)`
		args = append(args, instanceID, f.Before)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	q += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, f.Limit)
	return s.queryMessages(ctx, q, args...)
}

// QueuedMessages returns the pending outgoing messages in send order.
func (s *Store) QueuedMessages(ctx context.Context, instanceID string) ([]*Message, error) {
	return s.queryMessages(ctx, `SELECT `+messageCols+` FROM messages WHERE instance_id = ? AND status IN ('queued', 'sending') ORDER BY seq`, instanceID)
}

func (s *Store) queryMessages(ctx context.Context, q string, args ...any) ([]*Message, error) {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list messages: %w", err)
	}
	defer rows.Close()
	out := []*Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list messages: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Counts are an instance's totals for its API object.
type Counts struct {
	Messages, Chats, Contacts, Pending int
}

// MessageCounts counts an instance's messages, chats, contacts (people who
// wrote to it) and pending outgoing messages.
func (s *Store) MessageCounts(ctx context.Context, instanceID string) (Counts, error) {
	var c Counts
	err := s.read.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT chat),
		count(DISTINCT CASE WHEN direction = 'in' AND sender <> '' THEN sender END),
		count(CASE WHEN status IN ('queued', 'sending') THEN 1 END)
		FROM messages WHERE instance_id = ?`, instanceID).Scan(&c.Messages, &c.Chats, &c.Contacts, &c.Pending)
	if err != nil {
		return c, fmt.Errorf("store: count messages: %w", err)
	}
	return c, nil
}

// insertOnce inserts an incoming message unless its id is already stored
// (WhatsApp redelivers what was not acked): dup is true then.
func insertOnce(ctx context.Context, tx *Tx, m *Message) (dup bool, err error) {
	at := now()
	if m.CreatedAt.IsZero() {
		m.CreatedAt = at
	}
	m.UpdatedAt = at
	n, err := insertMessageRow(ctx, tx, m, ` ON CONFLICT (instance_id, id) DO NOTHING`)
	return err == nil && n == 0, err
}
