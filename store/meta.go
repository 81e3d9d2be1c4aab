package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Meta returns a process-wide value kept across restarts, "" if unset.
func (s *Store) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.read.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("store: meta %s: %w", key, err)
	}
	return v, nil
}

// SetMeta stores a process-wide value.
func (s *Store) SetMeta(ctx context.Context, key, value string) error {
	if _, err := s.exec(ctx, `INSERT INTO meta (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, key, value, toMS(now())); err != nil {
		return fmt.Errorf("store: set meta %s: %w", key, err)
	}
	return nil
}
