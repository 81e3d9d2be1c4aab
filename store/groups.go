package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// Group is an instance's cached copy of a group.
type Group struct {
	JID     string
	Subject string
	Info    json.RawMessage
}

// PutGroup records (or replaces) a group an instance is in, with the events
// its change produced, in one transaction.
func (s *Store) PutGroup(ctx context.Context, instanceID string, g Group, evs ...Event) error {
	info, err := jsonText("group info", g.Info, "{}")
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO groups (instance_id, jid, subject, info, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (instance_id, jid) DO UPDATE SET subject = excluded.subject, info = excluded.info, updated_at = excluded.updated_at`,
			instanceID, g.JID, g.Subject, info, toMS(now())); err != nil {
			return err
		}
		return appendAll(ctx, tx, instanceID, evs)
	})
	if err != nil {
		return fmt.Errorf("store: put group %s: %w", g.JID, err)
	}
	return nil
}

// DropGroup forgets a group the instance left, with its events.
func (s *Store) DropGroup(ctx context.Context, instanceID, jid string, evs ...Event) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM groups WHERE instance_id = ? AND jid = ?`, instanceID, jid); err != nil {
			return err
		}
		return appendAll(ctx, tx, instanceID, evs)
	})
	if err != nil {
		return fmt.Errorf("store: drop group %s: %w", jid, err)
	}
	return nil
}

// ReplaceGroups sets the whole list of an instance's groups (after a
// fresh list from WhatsApp).
func (s *Store) ReplaceGroups(ctx context.Context, instanceID string, gs []Group) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM groups WHERE instance_id = ?`, instanceID); err != nil {
			return err
		}
		for _, g := range gs {
			info, err := jsonText("group info", g.Info, "{}")
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO groups (instance_id, jid, subject, info, updated_at) VALUES (?, ?, ?, ?, ?)`,
				instanceID, g.JID, g.Subject, info, toMS(now())); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: replace groups: %w", err)
	}
	return nil
}

// Groups lists an instance's cached groups by subject.
func (s *Store) Groups(ctx context.Context, instanceID string) ([]Group, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT jid, subject, info FROM groups WHERE instance_id = ? ORDER BY subject, jid`, instanceID)
	if err != nil {
		return nil, fmt.Errorf("store: groups: %w", err)
	}
	defer rows.Close()
	out := []Group{}
	for rows.Next() {
		var g Group
		var info string
		if err := rows.Scan(&g.JID, &g.Subject, &info); err != nil {
			return nil, fmt.Errorf("store: groups: %w", err)
		}
		g.Info = json.RawMessage(info)
		out = append(out, g)
	}
	return out, rows.Err()
}

// GetGroup returns one cached group, or ErrNotFound.
func (s *Store) GetGroup(ctx context.Context, instanceID, jid string) (*Group, error) {
	var g Group
	var info string
	err := s.read.QueryRowContext(ctx, `SELECT jid, subject, info FROM groups WHERE instance_id = ? AND jid = ?`, instanceID, jid).Scan(&g.JID, &g.Subject, &info)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: group %s: %w", jid, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("store: group: %w", err)
	}
	g.Info = json.RawMessage(info)
	return &g, nil
}

func appendAll(ctx context.Context, tx *Tx, instanceID string, evs []Event) error {
	for _, ev := range evs {
		if ev.InstanceID == "" {
			ev.InstanceID = instanceID
		}
		if _, err := appendEventTx(ctx, tx, ev); err != nil {
			return err
		}
	}
	return nil
}

// LIDForPN and PNForLID read whatsmeow's LID map (whatsmeow_lid_map, in the
// same file), which whatsmeow fills from every source it learns a mapping
// from: usync, message attributes, group participants, history sync. The
// map is per user, not per device. "" when unknown.
func (s *Store) LIDForPN(ctx context.Context, pnUser string) string {
	var lid string
	_ = s.read.QueryRowContext(ctx, `SELECT lid FROM whatsmeow_lid_map WHERE pn = ?`, pnUser).Scan(&lid)
	return lid
}

// PNForLID: see LIDForPN.
func (s *Store) PNForLID(ctx context.Context, lidUser string) string {
	var pn string
	_ = s.read.QueryRowContext(ctx, `SELECT pn FROM whatsmeow_lid_map WHERE lid = ?`, lidUser).Scan(&pn)
	return pn
}
