package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

func cachedStmts(t *testing.T, conn *sql.Conn) map[string]*cachedStmt {
	t.Helper()
	var m map[string]*cachedStmt
	if err := conn.Raw(func(dc any) error {
		c, ok := dc.(*cachingConn)
		if !ok {
			return fmt.Errorf("connection is %T", dc)
		}
		m = c.stmts
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return m
}

// The statement cache reuses a statement per query text, runs a query
// whose rows are still open uncached, never caches scripts or failures,
// and keeps column types.
func TestStmtCache(t *testing.T) {
	ctx := context.Background()
	db := openDB(dsn(filepath.Join(t.TempDir(), "c.db"), false))
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	script := `CREATE TABLE t (v INTEGER, s TEXT); INSERT INTO t VALUES (1, 'a');`
	if _, err := conn.ExecContext(ctx, script); err != nil {
		t.Fatal(err)
	}
	const ins = `INSERT INTO t VALUES (?, ?)`
	for k := 2; k <= 3; k++ {
		if _, err := conn.ExecContext(ctx, ins, k, fmt.Sprint(k)); err != nil {
			t.Fatal(err)
		}
	}
	const sel = `SELECT v, s FROM t ORDER BY v`
	rows, err := conn.QueryContext(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	var outer, inner []int
	for rows.Next() {
		var v int
		var s string
		if err := rows.Scan(&v, &s); err != nil {
			t.Fatal(err)
		}
		outer = append(outer, v)
		// The same text while its statement's rows are open.
		var n int
		if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM t WHERE v <= ?`, v).Scan(&n); err != nil {
			t.Fatal(err)
		}
		inner = append(inner, n)
		if v == 1 {
			nested, err := conn.QueryContext(ctx, sel)
			if err != nil {
				t.Fatal(err)
			}
			c := 0
			for nested.Next() {
				c++
			}
			nested.Close()
			if c != 3 {
				t.Fatalf("nested query saw %d rows", c)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if fmt.Sprint(outer) != "[1 2 3]" || fmt.Sprint(inner) != "[1 2 3]" {
		t.Fatalf("rows %v, counts %v", outer, inner)
	}
	if len(types) != 2 || types[0].DatabaseTypeName() != "INTEGER" {
		t.Fatalf("column types %v", types)
	}
	if _, err := conn.ExecContext(ctx, `SELEKT 1`); err == nil {
		t.Fatal("a syntax error passed")
	}
	m := cachedStmts(t, conn)
	for _, q := range []string{ins, sel} {
		if s := m[q]; s == nil || s.busy {
			t.Errorf("%q: cached %v", q, s)
		}
	}
	for _, q := range []string{script, `SELEKT 1`} {
		if m[q] != nil {
			t.Errorf("%q cached", q)
		}
	}
	// The script runs again, in full, each time.
	if _, err := conn.ExecContext(ctx, `INSERT INTO t VALUES (4, 'd'); INSERT INTO t VALUES (5, 'e');`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err != nil || n != 5 {
		t.Fatalf("count %d, %v", n, err)
	}
}

// BenchmarkStmtCache: a short write transaction like whatsmeow's session
// update (a select and an upsert), cached against modernc's own path.
func BenchmarkStmtCache(b *testing.B) {
	for _, tc := range []struct {
		name string
		open func(string) *sql.DB
	}{
		{"modernc", func(dsn string) *sql.DB { db, _ := sql.Open("sqlite", dsn); return db }},
		{"cached", openDB},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			db := tc.open(dsn(filepath.Join(b.TempDir(), "b.db"), false))
			defer db.Close()
			db.SetMaxOpenConns(1)
			if _, err := db.ExecContext(ctx, `CREATE TABLE sessions (our_jid TEXT, their_id TEXT, session BLOB, PRIMARY KEY (our_jid, their_id))`); err != nil {
				b.Fatal(err)
			}
			blob := make([]byte, 600)
			b.ReportAllocs()
			for k := 0; b.Loop(); k++ {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				var got []byte
				_ = tx.QueryRowContext(ctx, `SELECT session FROM sessions WHERE our_jid=$1 AND their_id=$2`, "me", fmt.Sprint(k%50)).Scan(&got)
				if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (our_jid, their_id, session) VALUES ($1, $2, $3) ON CONFLICT (our_jid, their_id) DO UPDATE SET session=excluded.session`, "me", fmt.Sprint(k%50), blob); err != nil {
					b.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
