package event

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// Envelope is an event as GET …/events, the SSE stream and webhook bodies
// show it.
type Envelope struct {
	ID        int64           `json:"id,string"` // the event id, as a decimal string
	Type      string          `json:"type"`
	Instance  string          `json:"instance"` // the instance's name
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"` // valid JSON (the store checks it); empty means {}
}

// MarshalJSON encodes e as AppendJSON does.
func (e Envelope) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

// AppendJSON appends e encoded as encoding/json would (CreatedAt in UTC)
// to b. It is the per-event cost of the SSE stream and of every webhook
// delivery, so it writes the fields directly and copies Data as it is
// when it is already compact and HTML-safe, which is how the gateway
// writes it.
func (e Envelope) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":"`...)
	b = strconv.AppendInt(b, e.ID, 10)
	b = append(b, `","type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"instance":`...)
	b = appendString(b, e.Instance)
	b = append(b, `,"created_at":"`...)
	b = e.CreatedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":`...)
	b = appendRaw(b, e.Data)
	return append(b, '}')
}

// appendString appends s as a JSON string; names and types are plain
// ASCII, anything else goes through encoding/json for its escaping.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendRaw appends valid JSON data as encoding/json encodes a
// json.RawMessage: compacted, with <, >, &, U+2028 and U+2029 escaped.
func appendRaw(b []byte, data []byte) []byte {
	if len(data) == 0 {
		return append(b, "{}"...)
	}
	if plain(data) {
		return append(b, data...)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return append(b, data...) // not JSON: the store never lets it in
	}
	var esc bytes.Buffer
	json.HTMLEscape(&esc, buf.Bytes())
	return append(b, esc.Bytes()...)
}

// plain reports whether valid JSON data is already compact and has nothing
// encoding/json would escape: no whitespace outside strings, no <, >, &,
// U+2028 or U+2029.
func plain(data []byte) bool {
	in, esc := false, false
	for i, c := range data {
		switch {
		case c == '<' || c == '>' || c == '&':
			return false
		case c == 0xE2 && i+2 < len(data) && data[i+1] == 0x80 && data[i+2]&^1 == 0xA8:
			return false
		case in:
			if esc {
				esc = false
			} else if c == '\\' {
				esc = true
			} else if c == '"' {
				in = false
			}
		case c == '"':
			in = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return false
		}
	}
	return true
}
