package store

import (
	"context"
	"database/sql"
)

// Tx is a write transaction; it notes the event tails it appended, which
// the store publishes after the commit. Every statement, in a transaction
// or not, reuses its connection's prepared statement (stmtcache.go).
type Tx struct {
	*sql.Tx
	s     *Store
	tails map[string]int64 // instance → last event id appended here
}

// exec runs a single-statement write outside a transaction.
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	res, err := s.write.ExecContext(ctx, q, args...)
	return res, s.noteWrite(err)
}
