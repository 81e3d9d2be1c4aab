package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"reflect"
	"strings"

	"modernc.org/sqlite"
)

// openDB opens dsn with a statement cache on every connection. modernc
// parses a statement on each call made without a prepared sql.Stmt, and
// whatsmeow's store makes only such calls: on an incoming message about six
// (session, identity, decrypted-event buffer), whose parsing cost more than
// executing them. The cache keeps each connection's prepared statements by
// query text, for everyone using the pool.
func openDB(dsn string) *sql.DB {
	return sql.OpenDB(&cachingConnector{dsn: dsn, drv: &sqlite.Driver{}})
}

// maxConnStmts bounds a connection's cache: the store's and whatsmeow's
// queries are a fixed set, except whatsmeow's IN (…) lists, whose lengths
// vary; those beyond the bound run uncached.
const maxConnStmts = 512

type cachingConnector struct {
	dsn string
	drv *sqlite.Driver
}

func (c *cachingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	inner, ok := conn.(innerConn)
	if !ok {
		conn.Close()
		return nil, errors.New("store: the sqlite driver's connection lacks context methods")
	}
	return &cachingConn{innerConn: inner, stmts: map[string]*cachedStmt{}}, nil
}

func (c *cachingConnector) Driver() driver.Driver { return c.drv }

// innerConn is what modernc's connection implements and database/sql uses.
type innerConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is used by one goroutine at a time (database/sql's rule), so
// the cache needs no lock.
type cachingConn struct {
	innerConn
	stmts map[string]*cachedStmt
}

type cachedStmt struct {
	st interface {
		driver.StmtExecContext
		driver.StmtQueryContext
		Close() error
	}
	busy bool // rows of it are open: the same text runs uncached meanwhile
}

// cached returns q's statement, preparing it on first use; nil means run q
// uncached (a script, a statement in use, a full cache, or a prepare error,
// which the uncached call then reports).
func (c *cachingConn) cached(ctx context.Context, q string) *cachedStmt {
	if s := c.stmts[q]; s != nil {
		if s.busy {
			return nil
		}
		return s
	}
	// modernc runs a multi-statement script by re-parsing it every time.
	if strings.Contains(strings.TrimRight(q, "; \t\n"), ";") || len(c.stmts) >= maxConnStmts {
		return nil
	}
	st, err := c.innerConn.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	s, ok := st.(interface {
		driver.StmtExecContext
		driver.StmtQueryContext
		Close() error
	})
	if !ok {
		st.Close()
		return nil
	}
	cs := &cachedStmt{st: s}
	c.stmts[q] = cs
	return cs
}

func (c *cachingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	s := c.cached(ctx, q)
	if s == nil {
		return c.innerConn.ExecContext(ctx, q, args)
	}
	s.busy = true
	defer func() { s.busy = false }()
	return s.st.ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	s := c.cached(ctx, q)
	if s == nil {
		return c.innerConn.QueryContext(ctx, q, args)
	}
	rows, err := s.st.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	s.busy = true
	return &cachedRows{Rows: rows, s: s}, nil
}

func (c *cachingConn) Close() error {
	for q, s := range c.stmts {
		s.st.Close()
		delete(c.stmts, q)
	}
	return c.innerConn.Close()
}

// cachedRows frees its statement for the next call when closed. It passes
// on the column-type methods of modernc's rows.
type cachedRows struct {
	driver.Rows
	s *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.s.busy = false
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
