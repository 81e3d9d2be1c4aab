package evolution

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/meowgate/meowgate/instance"
)

// apiError is Evolution's error: {"status", "error", "response":{"message"}},
// where message is a list (or, for 401, the string "Unauthorized").
type apiError struct {
	status     int
	messages   []any
	retryAfter time.Duration
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %v", e.status, e.messages) }

func badRequest(msgs ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, messages: msgs}
}

var (
	errUnauthorized = &apiError{status: http.StatusUnauthorized}
	errInternal     = &apiError{status: http.StatusInternalServerError, messages: []any{"internal error"}}
)

func errNoInstance(name string) *apiError {
	return &apiError{status: http.StatusNotFound, messages: []any{fmt.Sprintf("The %q instance does not exist", name)}}
}

func errNotConnected(name string) *apiError {
	return badRequest(fmt.Sprintf("The %q instance is not connected", name))
}

func writeError(w http.ResponseWriter, e *apiError) {
	var msg any = e.messages
	if e.status == http.StatusUnauthorized {
		msg = "Unauthorized"
	}
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.retryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, e.status, map[string]any{
		"status":   e.status,
		"error":    http.StatusText(e.status),
		"response": map[string]any{"message": msg},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// toAPIError maps domain errors to Evolution's statuses: bad input and
// state conflicts are 400 there, as are most failures of WhatsApp calls.
func toAPIError(err error, name string) *apiError {
	var ae *apiError
	var ve *instance.ValidationError
	var se *instance.StateError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ve):
		keys := make([]string, 0, len(ve.Fields))
		for k := range ve.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		msgs := make([]any, len(keys))
		for i, k := range keys {
			msgs[i] = k + " " + ve.Fields[k]
		}
		return badRequest(msgs...)
	case errors.As(err, &se):
		if errors.Is(se.Err, instance.ErrNotConnected) || errors.Is(se.Err, instance.ErrNotPaired) {
			return errNotConnected(name)
		}
		return badRequest(se.Error())
	case errors.Is(err, instance.ErrNotFound):
		return errNoInstance(name)
	case errors.Is(err, instance.ErrNameTaken):
		return &apiError{status: http.StatusForbidden, messages: []any{fmt.Sprintf("This name %q is already in use.", name)}}
	case errors.Is(err, instance.ErrGroupNotFound), errors.Is(err, instance.ErrMessageNotFound):
		return &apiError{status: http.StatusNotFound, messages: []any{err.Error()}}
	case errors.Is(err, instance.ErrNotInGroup), errors.Is(err, instance.ErrNotGroupAdmin):
		return &apiError{status: http.StatusForbidden, messages: []any{err.Error()}}
	case errors.Is(err, instance.ErrStorageFull):
		return &apiError{status: http.StatusInsufficientStorage, messages: []any{"the disk of the database is (almost) full; free space and retry"}, retryAfter: time.Minute}
	case errors.Is(err, instance.ErrClosed), errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: http.StatusServiceUnavailable, messages: []any{err.Error()}}
	}
	return errInternal
}

// decode reads a JSON object into v. Unknown fields are accepted (real
// clients send extra ones); a field of the wrong type is a 400 in the
// words of Evolution's schema validator.
func decode(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{status: http.StatusRequestEntityTooLarge, messages: []any{fmt.Sprintf("request body is larger than %d bytes", mbe.Limit)}}
		}
		return badRequest("cannot read body: " + err.Error())
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}") // Express gives an absent body as {}
	}
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return badRequest(fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, err))
		case errors.As(err, &te) && te.Field == "":
			return badRequest("instance is not of a type(s) object")
		case errors.As(err, &te):
			return badRequest(fmt.Sprintf("%s is not of a type(s) %s", te.Field, jsonType(te.Type.Kind().String())))
		}
		return badRequest("malformed JSON: " + err.Error())
	}
	return nil
}

// jsonType names a Go kind as JSON Schema does.
func jsonType(kind string) string {
	switch kind {
	case "bool":
		return "boolean"
	case "string":
		return "string"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	case "float64", "float32":
		return "number"
	case "ptr":
		return "value"
	}
	return "integer"
}

// required is jsonschema's message for a missing property.
func required(name string) string { return fmt.Sprintf("instance requires property %q", name) }

func itoa(n int) string { return strconv.Itoa(n) }
