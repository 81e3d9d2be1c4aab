package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"`+codeInternal+`","message":"internal error"}}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	n := len(b)
	if n == 0 || b[n-1] != '\n' {
		n++ // the newline written below
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", itoa(n))
	w.WriteHeader(status)
	// b may be shared (the cached instance list): never append to it.
	_, _ = w.Write(b)
	if n > len(b) {
		_, _ = w.Write(newline)
	}
}

var newline = []byte{'\n'}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// decode reads a JSON body of at most MaxBodyBytes into v, rejecting
// unknown fields and trailing data. An empty body decodes as {} when
// optional is true.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	return decodeMax(w, r, v, optional, h.opts.MaxBodyBytes)
}

// decodeMax is decode with a limit of its own (a message with base64 media).
func decodeMax(w http.ResponseWriter, r *http.Request, v any, optional bool, limit int64) error {
	body := http.MaxBytesReader(w, r.Body, limit)
	data, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, codeTooLarge, "request body is larger than %d bytes", mbe.Limit)
		}
		return errorf(http.StatusBadRequest, codeBadRequest, "cannot read body: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if optional {
			return nil
		}
		return errorf(http.StatusBadRequest, codeBadRequest, "a JSON body is required")
	}
	// The Content-Type is not checked: `curl -d` sends form encoding by
	// default, and the body is JSON either way.
	dec := json.NewDecoder(bytes.NewReader(data)) // no copy: data may be 100 MiB of base64
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return errorf(http.StatusBadRequest, codeBadRequest, "malformed JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te) && te.Field == "":
			// The body itself has the wrong type (e.g. an array): malformed.
			return errorf(http.StatusBadRequest, codeBadRequest, "the body must be a JSON object")
		case errors.As(err, &te):
			return invalidFields("a field has the wrong type", map[string]string{te.Field: wrongType(te)})
		}
		if f, ok := unknownField(err); ok {
			return errUnknownField(f)
		}
		return errorf(http.StatusBadRequest, codeBadRequest, "malformed JSON: %v", err)
	}
	// Not dec.More(): it says false for a stray "}" or "]" after the body.
	if len(bytes.Trim(data[dec.InputOffset():], " \t\r\n")) != 0 {
		return errorf(http.StatusBadRequest, codeBadRequest, "trailing data after the JSON body")
	}
	return nil
}

// unknownField returns the field an encoding/json decoder with
// DisallowUnknownFields refused, if that is what err says.
func unknownField(err error) (string, bool) {
	f, ok := strings.CutPrefix(err.Error(), "json: unknown field ")
	return strings.Trim(f, `"`), ok
}

// errUnknownField is the 400 for a field the API does not know (a typo in a
// name is a bad request rather than a bad value); field is its dotted path.
func errUnknownField(field string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: codeBadRequest, Message: "unknown field " + field,
		Fields: map[string]string{field: "unknown field"}}
}

// wrongType says what a field of the wrong JSON type must be.
func wrongType(te *json.UnmarshalTypeError) string {
	switch te.Type.Kind() {
	case reflect.Bool:
		return "must be a boolean"
	case reflect.String:
		return "must be a string"
	case reflect.Map, reflect.Struct:
		return "must be an object"
	case reflect.Slice, reflect.Array:
		return "must be an array"
	case reflect.Pointer:
		return wrongType(&json.UnmarshalTypeError{Type: te.Type.Elem()})
	default:
		return "must be a number"
	}
}
