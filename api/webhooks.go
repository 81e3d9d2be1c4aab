package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/meowgate/meowgate/store"
)

// Webhooks lists and re-queues webhook deliveries; *webhook.Worker
// implements it.
type Webhooks interface {
	// List returns an instance's deliveries, newest first; status "" means all.
	List(ctx context.Context, instanceID, status string, limit int) ([]store.WebhookDelivery, error)
	// Retry re-queues a failed or dead delivery. A delivered or pending one
	// gives store.ErrConflict (with the delivery as it is); an unknown one
	// store.ErrNotFound.
	Retry(ctx context.Context, instanceID string, id int64) (store.WebhookDelivery, error)
}

// deliveryJSON is a delivery as the API shows it (OpenAPI "Delivery").
type deliveryJSON struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	LastStatusCode *int       `json:"last_status_code"`
	LastError      *string    `json:"last_error"`
	LastAttemptAt  *time.Time `json:"last_attempt_at"`
	CreatedAt      time.Time  `json:"created_at"`
}

func renderDelivery(d store.WebhookDelivery) deliveryJSON {
	out := deliveryJSON{
		ID: strconv.FormatInt(d.ID, 10), EventID: strconv.FormatInt(d.EventID, 10), EventType: d.EventType,
		Status: d.Status, Attempts: d.Attempts, CreatedAt: d.CreatedAt.UTC(),
		NextAttemptAt: optTime(d.NextAttemptAt), LastAttemptAt: optTime(d.LastAttemptAt),
	}
	if d.LastStatus != 0 {
		out.LastStatusCode = &d.LastStatus
	}
	if d.LastError != "" {
		out.LastError = &d.LastError
	}
	return out
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

var errNoWebhooks = errorf(http.StatusServiceUnavailable, codeUnavailable, "webhook deliveries are not available")

func (h *handler) listDeliveries(w http.ResponseWriter, r *http.Request, c *caller) error {
	info, err := h.m.Get(c.target)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	status := q.Get("status")
	switch status {
	case "", store.DeliveryPending, store.DeliveryDelivered, store.DeliveryFailed, store.DeliveryDead:
	default:
		return &Error{Status: http.StatusUnprocessableEntity, Code: codeInvalid, Message: "bad status",
			Fields: map[string]string{"status": "must be one of pending, delivered, failed, dead"}}
	}
	limit := store.DefaultDeliveryLimit
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxDeliveryLimit {
			return &Error{Status: http.StatusUnprocessableEntity, Code: codeInvalid, Message: "bad limit",
				Fields: map[string]string{"limit": fmt.Sprintf("must be between 1 and %d", store.MaxDeliveryLimit)}}
		}
		limit = n
	}
	if h.opts.Webhooks == nil {
		return errNoWebhooks
	}
	ds, err := h.opts.Webhooks.List(r.Context(), info.ID, status, limit)
	if err != nil {
		return err
	}
	out := make([]deliveryJSON, len(ds))
	for i, d := range ds {
		out[i] = renderDelivery(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": out})
	return nil
}

func (h *handler) retryDelivery(w http.ResponseWriter, r *http.Request, c *caller) error {
	info, err := h.m.Get(c.target)
	if err != nil {
		return err
	}
	errNoDelivery := errorf(http.StatusNotFound, codeNotFound, "webhook delivery not found")
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return errNoDelivery
	}
	if h.opts.Webhooks == nil {
		return errNoWebhooks
	}
	d, err := h.opts.Webhooks.Retry(r.Context(), info.ID, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNoDelivery
	case errors.Is(err, store.ErrConflict):
		return errorf(http.StatusConflict, codeConflict, "the delivery is %s; only failed or dead deliveries can be retried", d.Status)
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"delivery": renderDelivery(d)})
	return nil
}
