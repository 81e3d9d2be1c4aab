package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/meowgate/meowgate/event"
)

// Event is one entry of the event log.
//
// IDs grow in commit order: every write goes through the one write
// connection, so a reader that has seen id N will never later find a new
// event with an id below N. "after=N" is therefore a complete resume point.
type Event struct {
	ID         int64
	InstanceID string
	Type       string
	Data       json.RawMessage // JSON; empty means {}
	CreatedAt  time.Time       // zero means now
}

// Envelope is ev as the API, the SSE stream and webhooks show it, under the
// name of its instance.
func (ev Event) Envelope(instance string) event.Envelope {
	return event.Envelope{ID: ev.ID, Type: ev.Type, Instance: instance, CreatedAt: ev.CreatedAt, Data: ev.Data}
}

// Limits for ListEvents.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 1000
)

// AppendEvent appends ev to the log and returns it with ID and CreatedAt set.
// It fails with ErrNotFound if the instance does not exist.
func (s *Store) AppendEvent(ctx context.Context, ev Event) (Event, error) {
	var out Event
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		out, err = appendEventTx(ctx, tx, ev)
		return err
	})
	if err != nil {
		return Event{}, err
	}
	return out, nil
}

// appendEventTx inserts ev inside tx. inTx publishes it after the commit,
// never before: a woken reader must find the row.
func appendEventTx(ctx context.Context, tx *Tx, ev Event) (Event, error) {
	if ev.InstanceID == "" || ev.Type == "" {
		return Event{}, errors.New("store: event needs an instance id and a type")
	}
	data, err := jsonText("event data", ev.Data, "{}")
	if err != nil {
		return Event{}, err
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = now()
	}
	ev.CreatedAt = fromMS(toMS(ev.CreatedAt))
	ev.Data = json.RawMessage(data)
	res, err := tx.ExecContext(ctx, `INSERT INTO events (instance_id, type, data, created_at) VALUES (?, ?, ?, ?)`,
		ev.InstanceID, ev.Type, data, toMS(ev.CreatedAt))
	if err == nil {
		ev.ID, err = res.LastInsertId()
	}
	if sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return Event{}, fmt.Errorf("store: append event: instance %q: %w", ev.InstanceID, ErrNotFound)
	}
	if err != nil {
		return Event{}, fmt.Errorf("store: append event: %w", err)
	}
	if tx.tails == nil {
		tx.tails = map[string]int64{}
	}
	tx.tails[ev.InstanceID] = ev.ID
	return ev, nil
}

// ListEvents returns up to limit events with ID > after, oldest first, of one
// instance or, with instanceID "", of all. limit <= 0 means
// DefaultEventLimit; it is capped at MaxEventLimit.
func (s *Store) ListEvents(ctx context.Context, instanceID string, after int64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = DefaultEventLimit
	}
	limit = min(limit, MaxEventLimit)
	var (
		rows *sql.Rows
		err  error
	)
	const cols = `SELECT id, instance_id, type, data, created_at FROM events `
	if instanceID == "" {
		rows, err = s.read.QueryContext(ctx, cols+`WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	} else {
		rows, err = s.read.QueryContext(ctx, cols+`WHERE instance_id = ? AND id > ? ORDER BY id LIMIT ?`, instanceID, after, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("store: list events: %w", err)
	}
	return scanEvents(rows, limit)
}

// scanEvents reads rows of (id, instance_id, type, data, created_at).
func scanEvents(rows *sql.Rows, limit int) ([]Event, error) {
	defer rows.Close()
	evs := make([]Event, 0, min(limit, 64))
	for rows.Next() {
		var (
			ev   Event
			data string
			at   int64
		)
		if err := rows.Scan(&ev.ID, &ev.InstanceID, &ev.Type, &data, &at); err != nil {
			return nil, fmt.Errorf("store: list events: %w", err)
		}
		ev.Data, ev.CreatedAt = json.RawMessage(data), fromMS(at)
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list events: %w", err)
	}
	return evs, nil
}

// LastEventID returns the highest event id ever assigned (0 if none), even if
// that event has since been deleted: the tail from which a new SSE stream
// starts.
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	err := s.read.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'events'`).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("store: last event id: %w", err)
	}
	return id, nil
}

// EventsNotify returns a channel that is closed after the next commit that
// appends an event. Every call after that returns a new channel. To wait for
// events without missing one, take the channel first, then read:
//
//	for {
//		wake := st.EventsNotify()
//		evs, _ := st.ListEvents(ctx, id, after, 100)
//		// … send evs, advance after …
//		if len(evs) == 0 {
//			select {
//			case <-wake:
//			case <-ctx.Done():
//				return
//			}
//		}
//	}
//
// Wake-ups carry no data and may be spurious (another instance's event).
func (s *Store) EventsNotify() <-chan struct{} { return s.events.wait() }

// broadcaster wakes all waiters at once by closing the current channel and
// replacing it; no waiter needs registering, and none can be left behind.
type broadcaster struct {
	mu    sync.Mutex
	ch    chan struct{}
	tails map[string]int64 // instance → last event id committed since open
}

func (b *broadcaster) init() {
	b.ch = make(chan struct{})
	b.tails = map[string]int64{}
}

func (b *broadcaster) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

// publish records the tails of a committed transaction and wakes waiters.
func (b *broadcaster) publish(tails map[string]int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for inst, id := range tails {
		b.tails[inst] = max(b.tails[inst], id)
	}
	close(b.ch)
	b.ch = make(chan struct{})
}

// forget drops a deleted instance's tail.
func (b *broadcaster) forget(instanceID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.tails, instanceID)
}

// ListEventHeads is ListEvents over all instances with the data of only
// the given types ("{}" for the others), for a reader that counts most
// events without reading them (the metrics follower: message.received is
// most of a busy log). SQLite does not read the skipped data at all.
func (s *Store) ListEventHeads(ctx context.Context, after int64, limit int, withData ...string) ([]Event, error) {
	limit = min(max(limit, 1), MaxEventLimit)
	in := strings.TrimSuffix(strings.Repeat("?, ", max(len(withData), 1)), ", ")
	args := make([]any, 0, len(withData)+2)
	for _, t := range withData {
		args = append(args, t)
	}
	if len(withData) == 0 {
		args = append(args, "")
	}
	args = append(args, after, limit)
	rows, err := s.read.QueryContext(ctx, `SELECT id, instance_id, type, CASE WHEN type IN (`+in+`) THEN data ELSE '{}' END, created_at
		FROM events WHERE id > ? ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list events: %w", err)
	}
	return scanEvents(rows, limit)
}
