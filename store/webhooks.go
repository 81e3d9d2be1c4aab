package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	sqlite3 "modernc.org/sqlite/lib"
)

// Statuses of a webhook delivery (see migrations/0002_webhook_attempts.sql).
const (
	DeliveryPending   = "pending"   // not yet attempted, or re-queued by hand
	DeliveryFailed    = "failed"    // the last attempt failed; another is due at NextAttemptAt
	DeliveryDelivered = "delivered" // a 2xx answer
	DeliveryDead      = "dead"      // given up
)

// Limits for ListWebhookDeliveries.
const (
	DefaultDeliveryLimit = 100
	MaxDeliveryLimit     = 1000
)

// WebhookDelivery is one event handed to an instance's webhook. Its id on
// the wire (X-Meowgate-Delivery) is EventID; ID names the row in the API.
type WebhookDelivery struct {
	ID             int64
	InstanceID     string
	EventID        int64
	EventType      string // from the event
	URL            string // where it was (or will first be) sent
	Status         string
	Attempts       int
	NextAttemptAt  time.Time // zero when none is due (delivered, dead)
	LastStatus     int       // HTTP status of the last attempt; 0 = none
	LastError      string
	LastResponse   string    // truncated body of the last response
	FirstAttemptAt time.Time // opens the retry window; zero = not attempted since (re)queued
	LastAttemptAt  time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	DeliveredAt    time.Time
}

const deliveryCols = `d.id, d.instance_id, d.event_id, e.type, d.url, d.status, d.attempts, d.next_attempt_at,
	d.last_status, d.last_error, d.last_response, d.first_attempt_at, d.last_attempt_at,
	d.created_at, d.updated_at, d.delivered_at`

const deliveryFrom = ` FROM webhook_deliveries d JOIN events e ON e.id = d.event_id `

func scanDelivery(row interface{ Scan(...any) error }) (WebhookDelivery, error) {
	var (
		d                                     WebhookDelivery
		next, first, last, created, upd, done int64
	)
	err := row.Scan(&d.ID, &d.InstanceID, &d.EventID, &d.EventType, &d.URL, &d.Status, &d.Attempts, &next,
		&d.LastStatus, &d.LastError, &d.LastResponse, &first, &last, &created, &upd, &done)
	if err != nil {
		return WebhookDelivery{}, err
	}
	d.NextAttemptAt, d.FirstAttemptAt, d.LastAttemptAt = fromMS(next), fromMS(first), fromMS(last)
	d.CreatedAt, d.UpdatedAt, d.DeliveredAt = fromMS(created), fromMS(upd), fromMS(done)
	return d, nil
}

// WebhookCursor returns the id of the last event of the instance that the
// webhook worker has read (queued or skipped); 0 if it has read none.
func (s *Store) WebhookCursor(ctx context.Context, instanceID string) (int64, error) {
	var id int64
	err := s.read.QueryRowContext(ctx, `SELECT event_id FROM webhook_cursors WHERE instance_id = ?`, instanceID).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("store: webhook cursor: %w", err)
	}
	return id, nil
}

// QueueWebhookDeliveries records, in one transaction, a pending delivery to
// url for each of evs (events of the instance, oldest first) and moves the
// instance's cursor to through (never backwards). Events the worker read but
// does not deliver are simply absent from evs. Queueing an event twice is a
// no-op. A deleted instance gives ErrNotFound.
func (s *Store) QueueWebhookDeliveries(ctx context.Context, instanceID string, through int64, url string, evs []Event) error {
	at := toMS(now())
	err := s.inTx(ctx, func(tx *Tx) error {
		for _, ev := range evs {
			if ev.InstanceID != instanceID || ev.ID <= 0 || ev.ID > through {
				return fmt.Errorf("store: queue webhook delivery: event %d is not one of instance %q up to %d", ev.ID, instanceID, through)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries
				(instance_id, event_id, url, status, next_attempt_at, created_at, updated_at)
				VALUES (?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
				instanceID, ev.ID, url, at, at, at)
			if err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO webhook_cursors (instance_id, event_id, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (instance_id) DO UPDATE SET event_id = max(event_id, excluded.event_id), updated_at = excluded.updated_at`,
			instanceID, through, at)
		return err
	})
	if sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return fmt.Errorf("store: queue webhook deliveries: instance %q: %w", instanceID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: queue webhook deliveries: %w", err)
	}
	return nil
}

// NextWebhookDelivery returns the head of an instance's delivery queue: its
// oldest pending or failed delivery, with the event to send, whether or not
// it is due yet. Deliveries of one instance go strictly in this order, so
// the head is the only one the worker may attempt (there is no lease: one
// worker goroutine owns each instance). An empty queue gives ErrNotFound.
func (s *Store) NextWebhookDelivery(ctx context.Context, instanceID string) (WebhookDelivery, Event, error) {
	row := s.read.QueryRowContext(ctx, `SELECT `+deliveryCols+`, e.data, e.created_at
		FROM webhook_deliveries d INDEXED BY webhook_deliveries_open JOIN events e ON e.id = d.event_id
		WHERE d.instance_id = ? AND d.status IN ('pending', 'failed') ORDER BY d.id LIMIT 1`, instanceID)
	var (
		data string
		at   int64
	)
	d, err := scanDelivery(scanFunc(func(dest ...any) error {
		return row.Scan(append(dest, &data, &at)...)
	}))
	if errors.Is(err, sql.ErrNoRows) {
		return WebhookDelivery{}, Event{}, fmt.Errorf("store: next webhook delivery: %w", ErrNotFound)
	}
	if err != nil {
		return WebhookDelivery{}, Event{}, fmt.Errorf("store: next webhook delivery: %w", err)
	}
	ev := Event{ID: d.EventID, InstanceID: d.InstanceID, Type: d.EventType, Data: json.RawMessage(data), CreatedAt: fromMS(at)}
	return d, ev, nil
}

type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// WebhookAttempt is the outcome of one POST of a delivery.
type WebhookAttempt struct {
	At         time.Time // when the attempt started
	URL        string    // where it went
	StatusCode int       // 0 if no response (timeout, network error)
	Error      string    // "" when delivered
	Response   string    // truncated response body
	// Status is the delivery's new status: DeliveryDelivered,
	// DeliveryFailed (another attempt at NextAttemptAt) or DeliveryDead.
	Status        string
	NextAttemptAt time.Time
}

// RecordWebhookAttempt stores the outcome of an attempt of a pending or
// failed delivery and returns the updated row. The first attempt since the
// delivery was queued (or re-queued) opens its retry window. A delivery that
// is gone gives ErrNotFound; one that is no longer pending or failed,
// ErrConflict.
func (s *Store) RecordWebhookAttempt(ctx context.Context, id int64, a WebhookAttempt) (WebhookDelivery, error) {
	switch a.Status {
	case DeliveryDelivered, DeliveryDead:
		a.NextAttemptAt = time.Time{}
	case DeliveryFailed:
		if a.NextAttemptAt.IsZero() {
			return WebhookDelivery{}, errors.New("store: record webhook attempt: a failed attempt needs the next attempt's time")
		}
	default:
		return WebhookDelivery{}, fmt.Errorf("store: record webhook attempt: bad status %q", a.Status)
	}
	if a.At.IsZero() {
		a.At = now()
	}
	at, upd := toMS(a.At), toMS(now())
	var delivered int64
	if a.Status == DeliveryDelivered {
		delivered = upd
	}
	var d WebhookDelivery
	err := s.inTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET
				status = ?, attempts = attempts + 1, next_attempt_at = ?, url = ?,
				last_status = ?, last_error = ?, last_response = ?,
				first_attempt_at = CASE first_attempt_at WHEN 0 THEN ? ELSE first_attempt_at END,
				last_attempt_at = ?, updated_at = ?, delivered_at = ?
			WHERE id = ? AND status IN ('pending', 'failed')`,
			a.Status, toMS(a.NextAttemptAt), a.URL, a.StatusCode, a.Error, a.Response, at, at, upd, delivered, id)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		if d, err = scanDelivery(tx.QueryRowContext(ctx, `SELECT `+deliveryCols+deliveryFrom+`WHERE d.id = ?`, id)); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("store: record webhook attempt: delivery %d is %s: %w", id, d.Status, ErrConflict)
		}
		return nil
	})
	if errors.Is(err, sql.ErrNoRows) {
		return WebhookDelivery{}, fmt.Errorf("store: record webhook attempt: delivery %d: %w", id, ErrNotFound)
	}
	if err != nil && !errors.Is(err, ErrConflict) {
		return WebhookDelivery{}, fmt.Errorf("store: record webhook attempt: %w", err)
	}
	return d, err
}

// ListWebhookDeliveries returns up to limit deliveries of an instance,
// newest first, optionally only those in status. limit <= 0 means
// DefaultDeliveryLimit; it is capped at MaxDeliveryLimit.
func (s *Store) ListWebhookDeliveries(ctx context.Context, instanceID, status string, limit int) ([]WebhookDelivery, error) {
	if limit <= 0 {
		limit = DefaultDeliveryLimit
	}
	limit = min(limit, MaxDeliveryLimit)
	var (
		rows *sql.Rows
		err  error
	)
	switch status {
	case "":
		rows, err = s.read.QueryContext(ctx, `SELECT `+deliveryCols+deliveryFrom+`
			WHERE d.instance_id = ? ORDER BY d.id DESC LIMIT ?`, instanceID, limit)
	case DeliveryPending, DeliveryFailed, DeliveryDelivered, DeliveryDead:
		rows, err = s.read.QueryContext(ctx, `SELECT `+deliveryCols+deliveryFrom+`
			WHERE d.instance_id = ? AND d.status = ? ORDER BY d.id DESC LIMIT ?`, instanceID, status, limit)
	default:
		return nil, fmt.Errorf("store: list webhook deliveries: unknown status %q", status)
	}
	if err != nil {
		return nil, fmt.Errorf("store: list webhook deliveries: %w", err)
	}
	defer rows.Close()
	out := make([]WebhookDelivery, 0, min(limit, 64))
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list webhook deliveries: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list webhook deliveries: %w", err)
	}
	return out, nil
}

// GetWebhookDelivery returns one delivery of an instance.
func (s *Store) GetWebhookDelivery(ctx context.Context, instanceID string, id int64) (WebhookDelivery, error) {
	d, err := scanDelivery(s.read.QueryRowContext(ctx, `SELECT `+deliveryCols+deliveryFrom+`
		WHERE d.id = ? AND d.instance_id = ?`, id, instanceID))
	if errors.Is(err, sql.ErrNoRows) {
		return WebhookDelivery{}, fmt.Errorf("store: webhook delivery %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return WebhookDelivery{}, fmt.Errorf("store: webhook delivery %d: %w", id, err)
	}
	return d, nil
}

// RequeueWebhookDelivery makes a failed or dead delivery of the instance
// pending again, due now, with a fresh retry window; its attempt count and
// last outcome are kept. It returns the updated row. A delivery that is
// pending or delivered is left alone and returned with ErrConflict; an
// unknown one (or another instance's) gives ErrNotFound.
//
// A re-queued delivery is older than the rest of the instance's queue, so it
// becomes the head: the worker sends it before anything newer.
func (s *Store) RequeueWebhookDelivery(ctx context.Context, instanceID string, id int64) (WebhookDelivery, error) {
	at := toMS(now())
	var d WebhookDelivery
	err := s.inTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET
				status = 'pending', next_attempt_at = ?, first_attempt_at = 0, updated_at = ?
			WHERE id = ? AND instance_id = ? AND status IN ('failed', 'dead')`, at, at, id, instanceID)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		if d, err = scanDelivery(tx.QueryRowContext(ctx, `SELECT `+deliveryCols+deliveryFrom+`
			WHERE d.id = ? AND d.instance_id = ?`, id, instanceID)); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("store: retry webhook delivery %d: it is %s: %w", id, d.Status, ErrConflict)
		}
		return nil
	})
	if errors.Is(err, sql.ErrNoRows) {
		return WebhookDelivery{}, fmt.Errorf("store: retry webhook delivery %d: %w", id, ErrNotFound)
	}
	if err != nil && !errors.Is(err, ErrConflict) {
		return WebhookDelivery{}, fmt.Errorf("store: retry webhook delivery: %w", err)
	}
	return d, err
}

// InstancesWithEvents returns, for each instance with events after id
// after that were committed since the store was opened, its last event id.
// It reads memory, not the database: the webhook dispatcher calls it after
// every commit. Events from before the open are found by each instance's
// own cursor.
func (s *Store) InstancesWithEvents(after int64) map[string]int64 {
	b := &s.events
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]int64{}
	for inst, last := range b.tails {
		if last > after {
			out[inst] = last
		}
	}
	return out
}

// CountFailingWebhookDeliveries counts deliveries that failed and wait for
// a retry, across instances (for the service status line).
func (s *Store) CountFailingWebhookDeliveries(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries WHERE status = ?`, DeliveryFailed).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count failing deliveries: %w", err)
	}
	return n, nil
}
