package instance

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/meowgate/meowgate/event"
)

// settingsPatch builds a patch from JSON with the settings' stored names,
// as the api would from a request body.
func settingsPatch(t testing.TB, js string) *SettingsPatch {
	t.Helper()
	var s Settings
	var present map[string]json.RawMessage
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(js), &present); err != nil {
		t.Fatal(err)
	}
	var p SettingsPatch
	sv, pv := reflect.ValueOf(s), reflect.ValueOf(&p).Elem()
	for i := range sv.NumField() {
		name, _, _ := strings.Cut(sv.Type().Field(i).Tag.Get("json"), ",")
		if _, ok := present[name]; ok {
			v := reflect.New(sv.Field(i).Type())
			v.Elem().Set(sv.Field(i))
			pv.Field(i).Set(v)
		}
	}
	return &p
}

func TestSettingsPatchApply(t *testing.T) {
	s := DefaultSettings()
	got := settingsPatch(t, `{"mark_read":true,"send_delay_ms":0,"queue_ttl":"1h"}`).Apply(s)
	want := s
	want.MarkRead, want.SendDelayMS, want.QueueTTL = true, 0, "1h"
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got := (&SettingsPatch{}).Apply(want); got != want {
		t.Fatalf("an empty patch changed %+v to %+v", want, got)
	}
}

func TestWebhookPatchApply(t *testing.T) {
	str := func(s string) *string { return &s }
	no := false
	stored := Webhook{URL: "http://u:pw@192.0.2.1/h", Enabled: true, Secret: "s",
		Headers: map[string]string{"Authorization": "Bearer t", "X-A": "1"}, Events: []string{event.TypeMessageSent}}
	// The masked view sent back unchanged keeps every secret.
	view := stored.Masked()
	p := &WebhookPatch{URL: &view.URL, Headers: view.Headers, Secret: nil}
	if got := p.Apply(stored); !reflect.DeepEqual(got, stored) {
		t.Fatalf("masked view sent back: %+v, want %+v", got, stored)
	}
	// Headers merge and never into the stored map.
	got := (&WebhookPatch{Headers: map[string]string{"X-B": "2"}}).Apply(stored)
	if len(got.Headers) != 3 || len(stored.Headers) != 2 {
		t.Fatalf("merged %v, stored %v", got.Headers, stored.Headers)
	}
	var none []string
	got = (&WebhookPatch{ClearHeaders: true, Events: &none}).Apply(stored)
	if got.Headers != nil || got.Events != nil {
		t.Fatalf("cleared: %+v", got)
	}
	// A first URL turns the webhook on, unless enabled says otherwise.
	if got := (&WebhookPatch{URL: str("http://192.0.2.2/h")}).Apply(Webhook{}); !got.Enabled {
		t.Fatal("a first URL left the webhook off")
	}
	if got := (&WebhookPatch{URL: str("http://192.0.2.2/h"), Enabled: &no}).Apply(Webhook{}); got.Enabled {
		t.Fatal("enabled false was overridden")
	}
	off := stored
	off.Enabled = false
	if got := (&WebhookPatch{URL: str("http://192.0.2.2/h")}).Apply(off); got.Enabled {
		t.Fatal("changing the URL turned a disabled webhook on")
	}
}
