package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/wasim"
)

// Error is an API error: an HTTP status and a stable code clients can
// switch on, with a human message and, for 422, the bad fields.
type Error struct {
	Status     int               `json:"-"`
	Code       string            `json:"code"`
	Message    string            `json:"message"`
	Fields     map[string]string `json:"fields,omitempty"`
	State      string            `json:"state,omitempty"`
	RetryAfter time.Duration     `json:"-"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

var (
	errUnauthorized = errorf(http.StatusUnauthorized, "unauthorized", "missing or invalid API key")
	errForbidden    = errorf(http.StatusForbidden, "forbidden", "this route needs the admin key")
	errNotFound     = errorf(http.StatusNotFound, "not_found", "no such route")
	errNoInstance   = errorf(http.StatusNotFound, "not_found", "instance not found")
	// A full disk refuses new work until space is freed; nothing is lost.
	errStorageFull = &Error{Status: http.StatusInsufficientStorage, Code: "storage_full", RetryAfter: time.Minute,
		Message: "the disk of the database is (almost) full; free space and retry"}
)

// toAPIError maps domain errors to API errors; anything unknown is internal.
func toAPIError(err error) *Error {
	var ae *Error
	var ve *instance.ValidationError
	var se *instance.StateError
	var ufe *instance.UnknownFieldError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ufe):
		return &Error{Status: http.StatusBadRequest, Code: "bad_request", Message: ufe.Error(), Fields: map[string]string{ufe.Field: "unknown field"}}
	case errors.As(err, &ve):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "invalid", Message: "some fields are invalid", Fields: ve.Fields}
	case errors.Is(err, instance.ErrIdempotencyMismatch):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "idempotency_mismatch", Message: err.Error(),
			Fields: map[string]string{"Idempotency-Key": "was used for a different message in the last 24 hours; use a new key"}}
	case errors.Is(err, instance.ErrMessageNotFound):
		return errorf(http.StatusNotFound, "not_found", "message not found")
	case errors.Is(err, instance.ErrNotFound):
		return errNoInstance
	case errors.Is(err, instance.ErrNameTaken):
		return errorf(http.StatusConflict, "conflict", "an instance with that name already exists")
	case errors.As(err, &se):
		code := map[error]string{
			instance.ErrAlreadyConnected: "already_connected",
			instance.ErrNotConnected:     "not_connected",
			instance.ErrNotPaired:        "not_paired",
			instance.ErrNotAwaitingQR:    "not_awaiting_qr",
		}[se.Err]
		if code == "" {
			code = "conflict"
		}
		return &Error{Status: http.StatusConflict, Code: code, Message: se.Err.Error(), State: se.State}
	case errors.Is(err, instance.ErrClosed):
		return errorf(http.StatusServiceUnavailable, "unavailable", "shutting down")
	case errors.Is(err, wasim.ErrNoPendingQR), errors.Is(err, wasim.ErrNoPendingCode):
		return errorf(http.StatusConflict, "not_awaiting_qr", "%v", err)
	case errors.Is(err, wasim.ErrWrongCode):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "invalid", Message: "the code does not match", Fields: map[string]string{"code": "does not match the code the instance shows"}}
	case errors.Is(err, wasim.ErrNotOnWhatsApp), errors.Is(err, wasim.ErrBadPhoneNumber):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "invalid", Message: err.Error(), Fields: map[string]string{"phone": err.Error()}}
	case errors.Is(err, instance.ErrStorageFull):
		return errStorageFull
	case errors.Is(err, context.DeadlineExceeded):
		return errorf(http.StatusServiceUnavailable, "unavailable", "timed out")
	}
	return nil
}

func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae == nil {
		h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = errorf(http.StatusInternalServerError, "internal", "internal error")
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((ae.RetryAfter+time.Second-1)/time.Second)))
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="meowgate"`)
	}
	writeJSON(w, ae.Status, map[string]*Error{"error": ae})
}
