package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/meowgate/meowgate/instance"
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

// The stable error codes (design.md "Errors"): clients switch on them, so
// they never change.
const (
	codeBadRequest          = "bad_request"
	codeUnauthorized        = "unauthorized"
	codeForbidden           = "forbidden"
	codeNotFound            = "not_found"
	codeMethodNotAllowed    = "method_not_allowed"
	codeConflict            = "conflict"
	codeAlreadyConnected    = "already_connected"
	codeNotConnected        = "not_connected"
	codeNotPaired           = "not_paired"
	codeNotAwaitingQR       = "not_awaiting_qr"
	codeNotEditable         = "not_editable"
	codeGroupNotFound       = "group_not_found"
	codeNotInGroup          = "not_in_group"
	codeNotGroupAdmin       = "not_group_admin"
	codeTooLarge            = "too_large"
	codeInvalid             = "invalid"
	codeIdempotencyMismatch = "idempotency_mismatch"
	codeRateLimited         = "rate_limited"
	codeWebhookLoop         = "webhook_loop"
	codeUnavailable         = "unavailable"
	codeStorageFull         = "storage_full"
	codeInternal            = "internal"
)

var (
	errUnauthorized = errorf(http.StatusUnauthorized, codeUnauthorized, "missing or invalid API key")
	errForbidden    = errorf(http.StatusForbidden, codeForbidden, "this route needs the admin key")
	errNotFound     = errorf(http.StatusNotFound, codeNotFound, "no such route")
	errNoInstance   = errorf(http.StatusNotFound, codeNotFound, "instance not found")
	// A full disk refuses new work until space is freed; nothing is lost.
	errStorageFull = &Error{Status: http.StatusInsufficientStorage, Code: codeStorageFull, RetryAfter: time.Minute,
		Message: "the disk of the database is (almost) full; free space and retry"}
	errInternal = errorf(http.StatusInternalServerError, codeInternal, "internal error")
)

// errHTTP is the one table from domain errors (matched with errors.Is, in
// order) to API errors.
var errHTTP = []struct {
	err error
	api *Error
}{
	{instance.ErrIdempotencyMismatch, &Error{Status: http.StatusUnprocessableEntity, Code: codeIdempotencyMismatch,
		Message: "the Idempotency-Key was used for a different message",
		Fields:  map[string]string{"Idempotency-Key": "was used for a different message in the last 24 hours; use a new key"}}},
	{instance.ErrMessageNotFound, errorf(http.StatusNotFound, codeNotFound, "message not found")},
	{instance.ErrNoMedia, errorf(http.StatusNotFound, codeNotFound, "the message has no media")},
	{instance.ErrNotEditable, errorf(http.StatusConflict, codeNotEditable,
		"the message cannot be changed: only sent messages of this instance (texts, for an edit) within WhatsApp's time window, or queued ones (to cancel)")},
	{instance.ErrGroupNotFound, errorf(http.StatusNotFound, codeGroupNotFound, "no such group")},
	{instance.ErrNotInGroup, errorf(http.StatusForbidden, codeNotInGroup, "this instance is not in that group")},
	{instance.ErrNotGroupAdmin, errorf(http.StatusForbidden, codeNotGroupAdmin, "WhatsApp refused: this needs a group admin")},
	{instance.ErrNotFound, errNoInstance},
	{instance.ErrNameTaken, errorf(http.StatusConflict, codeConflict, "an instance with that name already exists")},
	{instance.ErrClosed, errorf(http.StatusServiceUnavailable, codeUnavailable, "shutting down")},
	{instance.ErrStorageFull, errStorageFull},
	{context.DeadlineExceeded, errorf(http.StatusServiceUnavailable, codeUnavailable, "timed out")},
}

// stateCodes are the 409 codes of conflicts with an instance's state
// (instance.StateError); any other is plain conflict.
var stateCodes = map[error]string{
	instance.ErrAlreadyConnected: codeAlreadyConnected,
	instance.ErrNotConnected:     codeNotConnected,
	instance.ErrNotPaired:        codeNotPaired,
	instance.ErrNotAwaitingQR:    codeNotAwaitingQR,
}

// wireFields renames the domain's field keys that the API spells otherwise
// (a header rather than a body field).
var wireFields = map[string]string{instance.FieldIdempotencyKey: "Idempotency-Key"}

// invalidFields is the 422 for bad fields.
func invalidFields(message string, fields map[string]string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: codeInvalid, Message: message, Fields: fields}
}

// toAPIError maps domain errors to API errors; anything unknown is internal.
func toAPIError(err error) *Error {
	var ae *Error
	var ve *instance.ValidationError
	var se *instance.StateError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ve):
		fields := ve.Fields
		for from, to := range wireFields {
			if msg, ok := fields[from]; ok {
				fields = maps.Clone(fields)
				delete(fields, from)
				fields[to] = msg
			}
		}
		return invalidFields("some fields are invalid", fields)
	case errors.As(err, &se):
		code := stateCodes[se.Err]
		if code == "" {
			code = codeConflict
		}
		return &Error{Status: http.StatusConflict, Code: code, Message: se.Err.Error(), State: se.State}
	}
	for _, e := range errHTTP {
		if errors.Is(err, e.err) {
			return e.api
		}
	}
	return nil
}

func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae == nil {
		h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = errInternal
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((ae.RetryAfter+time.Second-1)/time.Second)))
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="meowgate"`)
	}
	writeJSON(w, ae.Status, map[string]*Error{"error": ae})
}
