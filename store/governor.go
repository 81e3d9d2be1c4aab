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

// The first-contact governor. A first contact is a message to a chat (a
// person, not a group) that never wrote to the instance. The decision is
// made in the queue claim: while the day's cap (the instance's setting
// max_first_contacts_per_day, rolling 24 h) is used up, or WhatsApp
// restricted the account, the claim passes over the chats that would be
// first contacts and takes the next message of a known chat. A chat is
// held as a whole, so no message is skipped or reordered within its chat.
// Held messages stay queued, with held_until saying when they may go.

// firstContactWindow is the governor's rolling day.
const firstContactWindow = 24 * time.Hour

// governor is an instance's governor as one claim sees it.
type governor struct {
	cap        int64     // 0: no cap
	used       int64     // first contacts in the window
	oldest     time.Time // the oldest of them
	restricted time.Time // WhatsApp refuses first contacts until then
	holding    bool      // queued rows carry a held_until to clear
	at         time.Time
}

func governorTx(ctx context.Context, tx *Tx, instanceID string, at time.Time) (governor, error) {
	g := governor{at: at}
	var restricted, holding int64
	err := tx.QueryRowContext(ctx, `SELECT COALESCE(json_extract(i.settings, '$.max_first_contacts_per_day'), 0),
		COALESCE(h.restricted_until, 0), COALESCE(h.holding, 0)
		FROM instances i LEFT JOIN instance_health h ON h.instance_id = i.id WHERE i.id = ?`, instanceID).Scan(&g.cap, &restricted, &holding)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return g, fmt.Errorf("governor: %w", err)
	}
	g.holding = holding != 0
	if restricted > toMS(at) {
		g.restricted = fromMS(restricted)
	}
	if g.cap > 0 {
		var oldest sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), MIN(at) FROM first_contacts WHERE instance_id = ? AND at > ?`,
			instanceID, toMS(at.Add(-firstContactWindow))).Scan(&g.used, &oldest); err != nil {
			return g, fmt.Errorf("governor: count: %w", err)
		}
		if oldest.Valid {
			g.oldest = fromMS(oldest.Int64)
		}
	}
	return g, nil
}

// closed reports whether first contacts must wait now.
func (g governor) closed() bool {
	return !g.restricted.IsZero() || (g.cap > 0 && g.used >= g.cap)
}

// until is when held first contacts may go again.
func (g governor) until() time.Time {
	u := g.restricted
	if g.cap > 0 && g.used >= g.cap {
		if free := g.oldest.Add(firstContactWindow); free.After(u) {
			u = free
		}
	}
	return u
}

// open clears the held_until of messages held before, now that first
// contacts may go.
func (g governor) open(ctx context.Context, tx *Tx, instanceID string) error {
	if !g.holding {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE messages SET held_until = 0 WHERE instance_id = ? AND status = 'queued' AND held_until > 0`, instanceID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE instance_health SET holding = 0 WHERE instance_id = ?`, instanceID)
	return err
}

// heldCond is true for a queued row of table t whose chat is a person that
// never wrote to the instance; with contacted also false for a chat that
// was sent a first contact already (under a cap such a chat is no longer a
// new first contact; under a restriction WhatsApp refuses it all the same).
func heldCond(t string, contacted bool) string {
	c := `(` + t + `.chat NOT LIKE '%@g.us' AND ` + t + `.chat NOT LIKE '%@broadcast' AND ` + t + `.chat NOT LIKE '%@newsletter'
		AND NOT EXISTS (SELECT 1 FROM messages k WHERE k.instance_id = ` + t + `.instance_id AND k.chat = ` + t + `.chat AND k.direction = 'in')`
	if contacted {
		c += ` AND NOT EXISTS (SELECT 1 FROM messages k WHERE k.instance_id = ` + t + `.instance_id AND k.chat = ` + t + `.chat AND k.direction = 'out' AND k.sent_at > 0)
		AND NOT EXISTS (SELECT 1 FROM first_contacts f WHERE f.instance_id = ` + t + `.instance_id AND f.chat = ` + t + `.chat)`
	}
	return c + `)`
}

// claimGoverned is claimTx's choice while first contacts must wait: the
// first due message of a chat that is not held; held rows get held_until.
func claimGoverned(ctx context.Context, tx *Tx, instanceID string, at time.Time, g governor) (*Message, time.Time, error) {
	var next time.Time
	held := heldCond("messages", g.restricted.IsZero())
	until := g.until()
	res, err := tx.ExecContext(ctx, `UPDATE messages SET held_until = ? WHERE instance_id = ? AND status = 'queued' AND held_until <> ? AND `+held,
		toMS(until), instanceID, toMS(until))
	if err != nil {
		return nil, next, err
	}
	if n, _ := res.RowsAffected(); n > 0 && !g.holding {
		if _, err := tx.ExecContext(ctx, `INSERT INTO instance_health (instance_id, holding) VALUES (?, 1)
			ON CONFLICT (instance_id) DO UPDATE SET holding = 1`, instanceID); err != nil {
			return nil, next, err
		}
	}
	m, err := scanMessage(tx.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages
		WHERE instance_id = ? AND status = 'queued' AND +send_at <= ? AND NOT `+held+` ORDER BY seq LIMIT 1`, instanceID, toMS(at)))
	if errors.Is(err, sql.ErrNoRows) {
		var due sql.NullInt64
		var nHeld int64
		if err := tx.QueryRowContext(ctx, `SELECT MIN(CASE WHEN `+held+` THEN NULL ELSE send_at END), COUNT(CASE WHEN `+held+` THEN 1 END)
			FROM messages WHERE instance_id = ? AND status = 'queued'`, instanceID).Scan(&due, &nHeld); err != nil {
			return nil, next, err
		}
		if due.Valid {
			next = fromMS(due.Int64)
		}
		if nHeld > 0 && (next.IsZero() || until.Before(next)) {
			next = until
		}
		return nil, next, nil
	} else if err != nil {
		return nil, next, err
	}
	return markClaimed(ctx, tx, instanceID, m, at, next)
}

// noteFirstContact counts m against the cap if it is a first contact.
func noteFirstContact(ctx context.Context, tx *Tx, m *Message, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO first_contacts (instance_id, chat, at)
		SELECT ?, ?, ? FROM messages WHERE seq = ? AND `+heldCond("messages", true)+`
		ON CONFLICT DO NOTHING`, m.InstanceID, m.Chat, toMS(at), m.Seq)
	return err
}

// HoldFirstContact handles WhatsApp's refusal of a claimed message as a
// restriction: if the message is a first contact (its chat never wrote to
// the instance) it is queued again in its place, without the attempt,
// first contacts wait until until, and the instance.restricted event data
// is appended. It reports false, changing nothing, for a message to a
// known chat.
func (s *Store) HoldFirstContact(ctx context.Context, instanceID, id string, until time.Time, data json.RawMessage) (bool, error) {
	held := false
	at := now()
	err := s.inTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE messages SET status = 'queued', attempts = max(attempts - 1, 0), held_until = ?, updated_at = ?,
			history = CASE WHEN history ->> '$[#-1].status' = 'sending' THEN json_remove(history, '$[#-1]') ELSE history END
			WHERE instance_id = ? AND id = ? AND status = 'sending' AND `+heldCond("messages", false), toMS(until), toMS(at), instanceID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		held = true
		if _, err := tx.ExecContext(ctx, `INSERT INTO instance_health (instance_id, restricted_until, holding) VALUES (?, ?, 1)
			ON CONFLICT (instance_id) DO UPDATE SET restricted_until = max(restricted_until, excluded.restricted_until), holding = 1`,
			instanceID, toMS(until)); err != nil {
			return err
		}
		_, err = appendEventTx(ctx, tx, Event{InstanceID: instanceID, Type: event.TypeRestricted, Data: data, CreatedAt: at})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: hold first contact %s: %w", id, err)
	}
	return held, nil
}

// RestrictedUntil is when WhatsApp's restriction of the instance ends
// (zero if none is known).
func (s *Store) RestrictedUntil(ctx context.Context, instanceID string) (time.Time, error) {
	var ms int64
	err := s.read.QueryRowContext(ctx, `SELECT restricted_until FROM instance_health WHERE instance_id = ?`, instanceID).Scan(&ms)
	if errors.Is(err, sql.ErrNoRows) || ms == 0 {
		return time.Time{}, nil
	} else if err != nil {
		return time.Time{}, fmt.Errorf("store: restricted until: %w", err)
	}
	return fromMS(ms), nil
}
