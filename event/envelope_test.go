package event

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

// legacy is the envelope as api and webhook encoded it with encoding/json
// before this package: AppendJSON must produce the same bytes.
type legacy struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Instance  string          `json:"instance"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

func legacyJSON(t testing.TB, e Envelope) string {
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	b, err := json.Marshal(legacy{ID: strconv.FormatInt(e.ID, 10), Type: e.Type, Instance: e.Instance, CreatedAt: e.CreatedAt.UTC(), Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEnvelopeMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.FixedZone("x", 3600))
	msg, _ := json.Marshal(Message{ID: "3EB0AB", Instance: "shop", Direction: "in", Chat: "4915@s.whatsapp.net",
		Type: "text", Text: `say "<hi>" & \ bye` + "\u2028\n\t", CreatedAt: at, StatusHistory: []StatusChange{{Status: "received", At: at}}})
	cases := []Envelope{
		{ID: 1, Type: TypeState, Instance: "a", CreatedAt: at, Data: json.RawMessage(`{"state":"created"}`)},
		{ID: 1 << 60, Type: TypeMessageReceived, Instance: "shop.main-1_x", CreatedAt: at.Truncate(time.Second), Data: msg},
		{ID: 0, Type: TypeQR, Instance: "", CreatedAt: time.Unix(0, 0)},                      // empty data is {}
		{ID: 7, Type: "x", Instance: "ins_0123", CreatedAt: at, Data: json.RawMessage(`[]`)}, // any JSON
		{ID: 8, Type: TypeCallReceived, Instance: `"quoted" <é>`, CreatedAt: at, Data: json.RawMessage(" {\n \"a\" : [1, 2 ,\"b c\"],\"h\":\"<&>\" } ")},
		{ID: 9, Type: "t", Instance: "n", CreatedAt: at, Data: json.RawMessage(`{"s":"\"\\\" \u2029 x"}`)},
		{ID: 10, Type: "t", Instance: "n", CreatedAt: at, Data: json.RawMessage("{\"s\":\"\u2028\",\"e\":\"\\\\\"}")},
	}
	for i, e := range cases {
		want := legacyJSON(t, e)
		if got := string(e.AppendJSON(nil)); got != want {
			t.Errorf("case %d: AppendJSON\n got %s\nwant %s", i, got, want)
		}
		if got, _ := json.Marshal(e); string(got) != want {
			t.Errorf("case %d: json.Marshal\n got %s\nwant %s", i, got, want)
		}
		if got := string(e.AppendJSON([]byte("prefix"))); got != "prefix"+want {
			t.Errorf("case %d: AppendJSON does not append: %s", i, got)
		}
	}
}

func FuzzEnvelope(f *testing.F) {
	f.Add(int64(1), "message.received", "shop", `{"text":"hi"}`)
	f.Add(int64(2), "x", "<é>", " [1, \"a b\" , {}] ")
	f.Fuzz(func(t *testing.T, id int64, typ, name, data string) {
		if !json.Valid([]byte(data)) {
			return // the store refuses it
		}
		e := Envelope{ID: id, Type: typ, Instance: name, CreatedAt: time.UnixMilli(id % (1 << 40)), Data: json.RawMessage(data)}
		if got, want := string(e.AppendJSON(nil)), legacyJSON(t, e); got != want {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

func benchEnvelope() Envelope {
	at := time.Now()
	msg, _ := json.Marshal(Message{ID: "3EB0A1B2C3D4E5F60718", Instance: "shop", Direction: "out", To: "+4915123456789",
		Chat: "4915123456789@s.whatsapp.net", Type: "text", Text: "Your order 4711 has shipped and arrives tomorrow.",
		Status: "sent", CreatedAt: at, UpdatedAt: at, SentAt: &at, StatusHistory: []StatusChange{{Status: "queued", At: at}, {Status: "sent", At: at}}})
	return Envelope{ID: 123456, Type: TypeMessageSent, Instance: "shop", CreatedAt: at, Data: msg}
}

func BenchmarkEnvelopeAppendJSON(b *testing.B) {
	e := benchEnvelope()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
}

// BenchmarkEnvelopeLegacy is what the SSE stream and webhooks paid before.
func BenchmarkEnvelopeLegacy(b *testing.B) {
	e := benchEnvelope()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = json.Marshal(legacy{ID: strconv.FormatInt(e.ID, 10), Type: e.Type, Instance: e.Instance, CreatedAt: e.CreatedAt.UTC(), Data: e.Data})
	}
}
