package api_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
)

// TestWireSchemas fills every field of the wire types of groups, contacts,
// presence and people (so a field added in Go but not in api/openapi.json
// fails here) and validates each against its component schema. The
// exchanges that carry them need WhatsApp's answer, so the route tests
// cannot see every field.
func TestWireSchemas(t *testing.T) {
	t.Parallel()
	doc, err := apiDoc()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		schema string
		value  any
	}{
		{"Person", &event.Person{}},
		{"Receipt", &event.Receipt{}},
		{"Group", &event.Group{}},
		{"GroupParticipant", &event.GroupParticipant{}},
		{"GroupEventData", &event.GroupChange{}},
		{"PresenceEventData", &event.Presence{}},
		{"ContactInfo", &instance.Contact{}},
		{"ContactCheck", &instance.ContactCheck{}},
		{"ReactionEventData", &event.ReactionEvent{}},
		{"EditedEventData", &event.Edited{}},
		{"RevokedEventData", &event.Revoked{}},
		{"PollVoteEventData", &event.PollVote{}},
		{"Message", &event.Message{}},
	}
	for _, c := range cases {
		fillAll(reflect.ValueOf(c.value).Elem(), "")
		js, err := json.Marshal(c.value)
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.CheckSchema(c.schema, js); err != nil {
			t.Errorf("%s: %v\n%s", c.schema, err, js)
		}
	}
}

// wireValues are the values of fields whose schema allows only some.
var wireValues = map[string]string{
	"phone": "+4915100000001", "jid": "4915100000001@s.whatsapp.net", "lid": "123456789012345@lid",
	"state": "composing", "action": "promote", "status": "read", "direction": "in",
	"mimetype": "image/jpeg", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	"url": "/v1/instances/home/messages/3EB0/media",
}

// fillAll sets every field of v, recursively, to a value that is not zero: a
// slice gets one element, a pointer a value, a string wireValues[name] or
// "x".
func fillAll(v reflect.Value, name string) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			if n, _, _ := strings.Cut(f.Tag.Get("json"), ","); n != "" {
				fillAll(v.Field(i), n)
			} else {
				fillAll(v.Field(i), name) // embedded
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillAll(v.Elem(), name)
	case reflect.Slice:
		if v.Type() == reflect.TypeOf(json.RawMessage(nil)) {
			v.Set(reflect.ValueOf(json.RawMessage(`{"push_name":"Ann"}`)))
			return
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte{1})
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fillAll(v.Index(0), name)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillAll(k, "key")
		fillAll(e, name)
		v.SetMapIndex(k, e)
	case reflect.String:
		if s, ok := wireValues[name]; ok {
			v.SetString(s)
		} else {
			v.SetString("x")
		}
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float64, reflect.Float32:
		v.SetFloat(1)
	}
}
