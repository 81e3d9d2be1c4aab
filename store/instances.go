package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/meowgate/meowgate/event"
)

// Desired states of an instance.
const (
	DesiredRunning = "running"
	DesiredStopped = "stopped"
)

// Instance is one row of the instances table. Settings and Webhook are JSON
// owned by the caller; the store only checks that they are valid JSON.
type Instance struct {
	ID         string
	Name       string
	DeviceName string
	Phone      string // E.164 given at create; may be ""
	JID        string // whatsmeow device JID once paired, else ""
	LID        string
	PushName   string
	TokenHash  string // hex sha256 of the instance token
	Settings   json.RawMessage
	Webhook    json.RawMessage
	ProxyURL   string
	Desired    string // DesiredRunning or DesiredStopped
	State      string
	Reason     string
	StateSince time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

const instanceCols = `id, name, device_name, phone, jid, lid, push_name, token_hash,
	settings, webhook, proxy_url, desired, state, reason, state_since, created_at, updated_at`

func scanInstance(row interface{ Scan(...any) error }) (*Instance, error) {
	var (
		in                      Instance
		settings, webhook       string
		since, created, updated int64
	)
	err := row.Scan(&in.ID, &in.Name, &in.DeviceName, &in.Phone, &in.JID, &in.LID, &in.PushName, &in.TokenHash,
		&settings, &webhook, &in.ProxyURL, &in.Desired, &in.State, &in.Reason, &since, &created, &updated)
	if err != nil {
		return nil, err
	}
	in.Settings, in.Webhook = json.RawMessage(settings), json.RawMessage(webhook)
	in.StateSince, in.CreatedAt, in.UpdatedAt = fromMS(since), fromMS(created), fromMS(updated)
	return &in, nil
}

// CreateInstance inserts in. ID and Name are required; empty Desired, State,
// Settings and Webhook get defaults ("stopped", "created", {}), zero
// CreatedAt becomes now, and the defaults are written back into in.
// A taken name, id or token hash gives ErrConflict.
func (s *Store) CreateInstance(ctx context.Context, in *Instance) error {
	if in.ID == "" || in.Name == "" {
		return errors.New("store: create instance: id and name are required")
	}
	settings, err := jsonText("settings", in.Settings, "{}")
	if err != nil {
		return err
	}
	webhook, err := jsonText("webhook", in.Webhook, "{}")
	if err != nil {
		return err
	}
	in.Settings, in.Webhook = json.RawMessage(settings), json.RawMessage(webhook)
	if in.Desired == "" {
		in.Desired = DesiredStopped
	}
	if err := checkDesired(in.Desired); err != nil {
		return err
	}
	if in.State == "" {
		in.State = event.StateCreated
	}
	if in.CreatedAt.IsZero() {
		in.CreatedAt = now()
	}
	in.CreatedAt = fromMS(toMS(in.CreatedAt))
	in.UpdatedAt = in.CreatedAt
	if in.StateSince.IsZero() {
		in.StateSince = in.CreatedAt
	}
	_, err = s.exec(ctx, `INSERT INTO instances (`+instanceCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		in.ID, in.Name, in.DeviceName, in.Phone, in.JID, in.LID, in.PushName, in.TokenHash,
		settings, webhook, in.ProxyURL, in.Desired, in.State, in.Reason,
		toMS(in.StateSince), toMS(in.CreatedAt), toMS(in.UpdatedAt))
	if err != nil {
		return instanceWriteError("create", in, err)
	}
	return nil
}

// instanceWriteError turns unique violations into ErrConflict, naming the
// column, so the API can say which value is taken.
func instanceWriteError(op string, in *Instance, err error) error {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		msg := err.Error()
		switch {
		case strings.Contains(msg, "instances.name"):
			return fmt.Errorf("store: %s instance: name %q already exists: %w", op, in.Name, ErrConflict)
		case strings.Contains(msg, "instances.token_hash"):
			return fmt.Errorf("store: %s instance %q: token hash already in use: %w", op, in.Name, ErrConflict)
		default:
			return fmt.Errorf("store: %s instance: id %q already exists: %w", op, in.ID, ErrConflict)
		}
	}
	return fmt.Errorf("store: %s instance %q: %w", op, in.Name, err)
}

// GetInstance returns the instance whose id or name is idOrName; an id match
// wins over a name match. Unknown gives ErrNotFound.
func (s *Store) GetInstance(ctx context.Context, idOrName string) (*Instance, error) {
	row := s.read.QueryRowContext(ctx, `SELECT `+instanceCols+` FROM instances
		WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1`, idOrName)
	return getInstance(row, idOrName)
}

// InstanceByTokenHash returns the instance whose token hash is hash.
func (s *Store) InstanceByTokenHash(ctx context.Context, hash string) (*Instance, error) {
	if hash == "" {
		return nil, fmt.Errorf("store: instance by token: %w", ErrNotFound)
	}
	row := s.read.QueryRowContext(ctx, `SELECT `+instanceCols+` FROM instances WHERE token_hash = ?`, hash)
	in, err := scanInstance(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: instance by token: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: instance by token: %w", err)
	}
	return in, nil
}

func getInstance(row *sql.Row, key string) (*Instance, error) {
	in, err := scanInstance(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: instance %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get instance %q: %w", key, err)
	}
	return in, nil
}

// ListInstances returns all instances, oldest first.
func (s *Store) ListInstances(ctx context.Context) ([]*Instance, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+instanceCols+` FROM instances ORDER BY created_at, rowid`)
	if err != nil {
		return nil, fmt.Errorf("store: list instances: %w", err)
	}
	defer rows.Close()
	var out []*Instance
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list instances: %w", err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list instances: %w", err)
	}
	return out, nil
}

// UpdateInstance writes in's device_name, phone, jid, lid, push_name,
// token_hash, settings, webhook, proxy_url and desired, and sets UpdatedAt to
// now. Name, state and created_at are not changed (state: SetState).
// The row is overwritten as a whole: callers read, modify and write through
// the instance's owner so concurrent updates do not overwrite each other.
//
// Events in evs are appended in the same transaction, so a change that is
// published is never visible without its event (nor the event without it).
func (s *Store) UpdateInstance(ctx context.Context, in *Instance, evs ...Event) error {
	settings, err := jsonText("settings", in.Settings, "{}")
	if err != nil {
		return err
	}
	webhook, err := jsonText("webhook", in.Webhook, "{}")
	if err != nil {
		return err
	}
	desired := in.Desired
	if desired == "" {
		desired = DesiredStopped
	}
	if err := checkDesired(desired); err != nil {
		return err
	}
	at := now()
	const q = `UPDATE instances SET device_name = ?, phone = ?, jid = ?, lid = ?,
		push_name = ?, token_hash = ?, settings = ?, webhook = ?, proxy_url = ?, desired = ?, updated_at = ?
		WHERE id = ?`
	args := []any{in.DeviceName, in.Phone, in.JID, in.LID, in.PushName, in.TokenHash,
		settings, webhook, in.ProxyURL, desired, toMS(at), in.ID}
	update := func(res sql.Result, err error) error {
		if err != nil {
			return instanceWriteError("update", in, err)
		}
		return mustAffect(res, "update instance", in.ID)
	}
	if len(evs) == 0 {
		if err := update(s.exec(ctx, q, args...)); err != nil {
			return err
		}
	} else if err := s.inTx(ctx, func(tx *Tx) error {
		if err := update(tx.ExecContext(ctx, q, args...)); err != nil {
			return err
		}
		for _, ev := range evs {
			if ev.InstanceID == "" {
				ev.InstanceID = in.ID
			}
			if _, err := appendEventTx(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	in.Settings, in.Webhook, in.Desired, in.UpdatedAt = json.RawMessage(settings), json.RawMessage(webhook), desired, at
	return nil
}

// SetState records the observed state of instance id (state, reason, and
// state_since = at) and, if ev is not nil, appends *ev to the event log in
// the same transaction: a state change is never visible without its event.
// ev.InstanceID defaults to id and ev.CreatedAt to at. It returns the stored
// event (zero if ev is nil). Unknown id gives ErrNotFound.
func (s *Store) SetState(ctx context.Context, id, state, reason string, at time.Time, ev *Event) (Event, error) {
	if at.IsZero() {
		at = now()
	}
	var out Event
	err := s.inTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE instances SET state = ?, reason = ?, state_since = ? WHERE id = ?`,
			state, reason, toMS(at), id)
		if err != nil {
			return fmt.Errorf("store: set state of %q: %w", id, err)
		}
		if err := mustAffect(res, "set state", id); err != nil || ev == nil {
			return err
		}
		e := *ev
		if e.InstanceID == "" {
			e.InstanceID = id
		}
		if e.CreatedAt.IsZero() {
			e.CreatedAt = at
		}
		out, err = appendEventTx(ctx, tx, e)
		return err
	})
	if err != nil {
		return Event{}, err
	}
	return out, nil
}

// DeleteInstance deletes the instance; foreign keys cascade to its events,
// messages and webhook rows. whatsmeow's device rows are the caller's to
// delete (Device.Delete), as they are keyed by JID, not by instance.
func (s *Store) DeleteInstance(ctx context.Context, id string) error {
	res, err := s.exec(ctx, `DELETE FROM instances WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("store: delete instance %q: %w", id, err)
	}
	s.events.forget(id)
	return mustAffect(res, "delete instance", id)
}

func checkDesired(d string) error {
	if d != DesiredRunning && d != DesiredStopped {
		return fmt.Errorf("store: desired state %q is neither %q nor %q", d, DesiredRunning, DesiredStopped)
	}
	return nil
}

// mustAffect turns "no row changed" into ErrNotFound.
func mustAffect(res sql.Result, op, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: %s %q: %w", op, id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: %s: instance %q: %w", op, id, ErrNotFound)
	}
	return nil
}
