package instance

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/meowgate/meowgate/event"
)

// errDialed marks a request that net/http accepted and tried to connect.
var errDialed = errors.New("dialed")

// FuzzWebhookValidate checks webhook URL and header validation: problems
// are keyed under webhook.*, and whatever it accepts, net/http's transport
// accepts too (it gets as far as dialing), so an accepted webhook never
// fails every delivery on its URL or headers. It calls Webhook.Validate
// plainly; re-point it if the validation moves.
func FuzzWebhookValidate(f *testing.F) {
	f.Add("https://example.com/hook", "X-Token", "abc", "s3cr3t", event.TypeMessageReceived)
	f.Add("http://192.168.1.10:8080/h?q=1#frag", "Authorization", "Bearer x", "", event.TypeState)
	f.Add("ftp://example.com", "Host", "evil", "", "message.bogus")
	f.Add("http://", "X-Meowgate-Signature", "forged", "", "")
	f.Add("http://[::1]:99999/", "X-A", "line\r\nbreak", "", "")
	f.Add("https://user:pass@host/", "Bad Name", "v", strings.Repeat("s", 257), "")
	f.Add("https://h/", "X-Ctl", "a\x00b", "", "")
	f.Add("https://h/", "X(y)", "v", "", "")
	f.Add("http://h%zz/", "", "", "", "")
	f.Fuzz(func(t *testing.T, url, name, value, secret, event string) {
		w := Webhook{URL: url, Enabled: true, Secret: secret, Headers: map[string]string{name: value}, Events: []string{event}}
		problems := w.Validate()
		for k := range problems {
			if !strings.HasPrefix(k, "webhook.") {
				t.Fatalf("problem key %q is not a webhook field", k)
			}
		}
		if problems != nil {
			return
		}
		// What webhook/deliver.go does with the config, up to the dial.
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, nil)
		if err != nil {
			t.Fatalf("accepted URL %q: %v", url, err)
		}
		req.Header.Set(name, value)
		tr := &http.Transport{
			Proxy:       nil,
			DialContext: func(context.Context, string, string) (net.Conn, error) { return nil, errDialed },
		}
		tr.DialTLSContext = tr.DialContext
		_, err = tr.RoundTrip(req)
		if !errors.Is(err, errDialed) {
			t.Fatalf("accepted webhook (url %q, header %q: %q) is refused by net/http: %v", url, name, value, err)
		}
	})
}
