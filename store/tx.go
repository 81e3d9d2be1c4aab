package store

import (
	"context"
	"database/sql"
	"strings"
	"sync"
)

// Tx is a write transaction whose statements are prepared once on the
// single write connection and reused: modernc otherwise parses each
// statement on every call, about a quarter of the CPU of a sent message.
type Tx struct {
	*sql.Tx
	s     *Store
	tails map[string]int64 // instance → last event id appended here
}

// stmtCache holds the prepared statements of the write connection.
type stmtCache struct {
	mu   sync.Mutex
	m    map[string]*sql.Stmt
	want map[string]bool // seen inside a transaction, to prepare after it
}

// maxCachedStmts bounds the cache; the store's queries are a fixed set.
const maxCachedStmts = 256

// prepared returns q's cached statement, or nil. It never prepares: with one
// write connection, preparing inside a transaction would wait for the
// connection the transaction holds. New queries are prepared after it ends.
func (s *Store) prepared(q string) *sql.Stmt {
	// Scripts (migrations) cannot be prepared as one statement.
	if strings.Contains(q, ";") {
		return nil
	}
	c := &s.stmts
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.m[q]; st != nil {
		return st
	}
	if len(c.m)+len(c.want) < maxCachedStmts {
		if c.want == nil {
			c.want = map[string]bool{}
		}
		c.want[q] = true
	}
	return nil
}

// prepareWanted prepares the queries seen since the last call; it must run
// outside any transaction and without c.mu held while preparing.
func (s *Store) prepareWanted(ctx context.Context) {
	c := &s.stmts
	c.mu.Lock()
	want := c.want
	c.want = nil
	c.mu.Unlock()
	for q := range want {
		st, err := s.write.PrepareContext(ctx, q)
		if err != nil {
			continue // the plain call keeps working and reports errors
		}
		c.mu.Lock()
		if c.m == nil {
			c.m = map[string]*sql.Stmt{}
		}
		if c.m[q] == nil {
			c.m[q] = st
			st = nil
		}
		c.mu.Unlock()
		if st != nil {
			st.Close()
		}
	}
}

func (s *Store) closeStmts() {
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	for _, st := range s.stmts.m {
		st.Close()
	}
	s.stmts.m = nil
}

// exec runs a single-statement write outside a transaction through its
// cached statement.
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := s.prepared(q); st != nil {
		res, err := st.ExecContext(ctx, args...)
		return res, s.noteWrite(err)
	}
	res, err := s.write.ExecContext(ctx, q, args...)
	s.prepareWanted(ctx)
	return res, s.noteWrite(err)
}

// ExecContext runs q through its cached statement.
func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.s.prepared(q); st != nil {
		return t.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, q, args...)
}

// QueryContext runs q through its cached statement.
func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.s.prepared(q); st != nil {
		return t.Tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, q, args...)
}

// QueryRowContext runs q through its cached statement.
func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.s.prepared(q); st != nil {
		return t.Tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, q, args...)
}
