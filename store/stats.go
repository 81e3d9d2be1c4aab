package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// InstanceStats is the state of one instance's queue and webhook, for
// metrics: what is waiting, and since when.
type InstanceStats struct {
	Queued       int       // outgoing messages waiting to be sent
	OldestQueued time.Time // since when the oldest of them is due; zero if none
	// Deliveries counts webhook deliveries by status: DeliveryPending,
	// DeliveryFailed and DeliveryDead (delivered ones are not counted).
	Deliveries map[string]int
	// OldestOpen is when the oldest delivery still pending or failed was
	// queued; zero if none.
	OldestOpen time.Time
}

// Stats returns InstanceStats by instance id, for instances that have
// any. It costs three queries whatever the number of instances, in one
// read transaction so the numbers agree, and reads only what waits or
// was given up, never the history: the queue and the open deliveries
// walk their partial indexes, the dead ones an index range per instance.
func (s *Store) Stats(ctx context.Context) (map[string]*InstanceStats, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: stats: %w", err)
	}
	defer tx.Rollback()
	out := map[string]*InstanceStats{}
	get := func(id string) *InstanceStats {
		st := out[id]
		if st == nil {
			st = &InstanceStats{Deliveries: map[string]int{}}
			out[id] = st
		}
		return st
	}
	// A scheduled message is due at send_at, not when it was queued.
	err = each(ctx, tx, `SELECT instance_id, count(*), min(max(created_at, send_at)) FROM messages
		WHERE status = 'queued' GROUP BY instance_id`, func(rows *sql.Rows) error {
		var (
			id     string
			n      int
			oldest int64
		)
		if err := rows.Scan(&id, &n, &oldest); err != nil {
			return err
		}
		st := get(id)
		st.Queued, st.OldestQueued = n, fromMS(oldest)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: stats: queue: %w", err)
	}
	// Delivered rows are history that grows without bound: they are not
	// counted. Open rows are few and in a partial index; dead ones are
	// counted per instance in webhook_deliveries_status, which covers them.
	err = each(ctx, tx, `SELECT instance_id, status, count(*) FROM webhook_deliveries INDEXED BY webhook_deliveries_open
		WHERE status IN ('pending', 'failed') GROUP BY instance_id, status
		UNION ALL
		SELECT i.id, 'dead', (SELECT count(*) FROM webhook_deliveries d WHERE d.instance_id = i.id AND d.status = 'dead') AS n
		FROM instances i WHERE n > 0`, func(rows *sql.Rows) error {
		var (
			id, status string
			n          int
		)
		if err := rows.Scan(&id, &status, &n); err != nil {
			return err
		}
		get(id).Deliveries[status] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: stats: deliveries: %w", err)
	}
	// Ids grow with created_at: the oldest open delivery has the lowest id.
	// Without INDEXED BY the planner prefers the covering status index,
	// which walks the delivered rows too.
	err = each(ctx, tx, `SELECT instance_id, created_at FROM webhook_deliveries WHERE id IN (
		SELECT min(id) FROM webhook_deliveries INDEXED BY webhook_deliveries_open
		WHERE status IN ('pending', 'failed') GROUP BY instance_id)`, func(rows *sql.Rows) error {
		var (
			id string
			at int64
		)
		if err := rows.Scan(&id, &at); err != nil {
			return err
		}
		get(id).OldestOpen = fromMS(at)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: stats: open deliveries: %w", err)
	}
	return out, nil
}

// each runs q and calls fn for every row.
func each(ctx context.Context, tx *sql.Tx, q string, fn func(*sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
