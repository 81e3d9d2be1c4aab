package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/meowgate/meowgate/api"
	"github.com/meowgate/meowgate/webhook"
)

const chromiumPath = "/usr/bin/chromium"

// TestConsoleBrowser drives the console in a real headless Chromium
// (Debian's chromium) against the real API, Manager and simulator: every
// step is what a person does with the mouse and the keyboard, and every
// result is read from the page.
func TestConsoleBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("MEOWGATE_BROWSER_TESTS") == "1" {
			t.Fatalf("MEOWGATE_BROWSER_TESTS=1 but %s is missing (apt-get install chromium): %v", chromiumPath, err)
		}
		t.Skipf("%s is missing: the browser test needs Debian's chromium (apt-get install chromium); set MEOWGATE_BROWSER_TESTS=1 to make this a failure", chromiumPath)
	}
	e := newBrowserEnv(t)
	shots := screenshotDir(t)

	// A webhook receiver that refuses everything: its deliveries die at once.
	var hookHits atomic.Int64
	hookSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hookHits.Add(1)
		http.Error(w, "no", http.StatusBadRequest)
	}))
	t.Cleanup(hookSrv.Close)

	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	defer acancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelT()

	// Everything the page writes to its console, and every request it
	// makes, is checked at the end.
	base, _ := url.Parse(e.srv.URL)
	var mu sync.Mutex
	var problems []string
	note := func(s string) { mu.Lock(); problems = append(problems, s); mu.Unlock() }
	if err := chromedp.Listen(ctx, func(ev any) {
		if ev, ok := ev.(*network.EventRequestWillBeSent); ok {
			u, err := url.Parse(ev.Request.URL)
			if err != nil || (u.Scheme != "data" && u.Host != base.Host) {
				note("request to another host: " + ev.Request.URL)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			// Failed requests (the 4xx the steps cause on purpose) are the
			// browser's network log, not the page's errors.
			if (m.Type == chromedp.ConsoleError || m.IsException()) && m.Source != "network" {
				note("console " + m.String())
			}
			if m.Source == "security" {
				note("security " + m.String()) // a CSP violation
			}
		}
	}()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			shot(t, ctx, shots, "failed")
			t.Fatalf("%s: %v", what, err)
		}
	}
	// wait polls a JavaScript expression until it is truthy.
	wait := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(25*time.Second))); err != nil {
			shot(t, ctx, shots, "failed")
			t.Fatalf("waiting for %s (%s): %v", what, expr, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	stateIs := func(s string) string {
		return `document.querySelector('#state .badge') && document.querySelector('#state .badge').textContent === '` + s + `'`
	}
	submit := func(form string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(css(form + " button[type=submit]"))
	}

	// Log in with the admin key.
	do("open the console", chromedp.Navigate(e.srv.URL+"/"), chromedp.WaitVisible(css("#login-key")))
	shot(t, ctx, shots, "login")
	do("log in", chromedp.SendKeys(css("#login-key"), adminKey), submit("#login"), chromedp.WaitVisible(css("#create-form")))

	// Create two instances; each starts and shows a QR code.
	var tokens = map[string]string{}
	for _, name := range []string{"alpha", "beta"} {
		do("create "+name, chromedp.SetValue(css("#create-name"), name), submit("#create-form"))
		wait("the token of "+name, `document.querySelector('#created a') && document.querySelector('#created a').textContent === '`+name+`'`)
		tokens[name] = text("#new-token")
		wait(name+" in the list", `document.querySelector('#instances tr[data-name="`+name+`"]')`)
	}
	wait("both waiting for a scan", `[...document.querySelectorAll('#instances td.state')].every(td => td.textContent === 'scan_qr')`)
	shot(t, ctx, shots, "instances")

	// alpha: the QR code, then the simulated phone scans it, and the page
	// follows to connected without a reload.
	do("open alpha", chromedp.Navigate(e.srv.URL+"/#/i/alpha"))
	wait("the QR code", `document.querySelector('#qr-img') && document.querySelector('#qr-img').src.startsWith('data:image/png;base64,')`)
	wait("its remaining time", `/expires in \d+ s/.test(document.querySelector('#qr-expires').textContent)`)
	shot(t, ctx, shots, "instance-qr")
	do("mark the page", chromedp.Evaluate[chromedp.Void](`window.__noReload = 1`))
	do("open the sandbox panel", chromedp.Click(css(`.tabs a[href$="/sandbox"]`)), chromedp.WaitVisible(css("#sb-scan-phone")))
	do("scan", chromedp.SetValue(css("#sb-scan-phone"), "+15550001001"), submit("#sb-scan"))
	wait("alpha connected", stateIs("connected"))
	wait("alpha's phone", `document.querySelector('#phone') && document.querySelector('#phone').textContent === '+15550001001'`)
	shot(t, ctx, shots, "sandbox")
	do("back to the overview", chromedp.Click(css(`.tabs a[href$="/overview"]`)))
	wait("the linked view", `document.querySelector('#link-panel') && document.querySelector('#link-panel').textContent.includes('Connected as +15550001001')`)
	wait("no reload happened", `window.__noReload === 1`)
	shot(t, ctx, shots, "instance-connected")

	// beta: by pairing code, entered on the simulated phone.
	do("open beta", chromedp.Navigate(e.srv.URL+"/#/i/beta"), chromedp.WaitVisible(css("#pair-phone")))
	do("ask for a code", chromedp.SetValue(css("#pair-phone"), "+15550001002"), submit("#pair-form"))
	wait("the pairing code", `/^[A-Z0-9]{4}-[A-Z0-9]{4}$/.test(document.querySelector('#pair-code').textContent)`)
	code := text("#pair-code")
	shot(t, ctx, shots, "instance-paircode")
	do("open beta's sandbox", chromedp.Click(css(`.tabs a[href$="/sandbox"]`)), chromedp.WaitVisible(css("#sb-code-input")))
	if v, _ := chromedp.Run(ctx, chromedp.Value(css("#sb-code-input"))); v != code {
		t.Errorf("the sandbox panel offers code %q, the page showed %q", v, code)
	}
	do("enter the code", submit("#sb-code"))
	wait("beta connected", stateIs("connected"))

	// A message from alpha goes to read.
	do("open alpha's messages", chromedp.Navigate(e.srv.URL+"/#/i/alpha/messages"), chromedp.WaitVisible(css("#send-to")))
	do("send", chromedp.SetValue(css("#send-to"), "+15550002001"), chromedp.SetValue(css("#send-text"), "hello from the console"), submit("#send-form"))
	wait("the message read", `[...document.querySelectorAll('#messages tbody tr')].some(tr => tr.textContent.includes('hello from the console') && tr.querySelector('td.status').textContent.startsWith('read'))`)
	shot(t, ctx, shots, "messages")

	// An image uploaded from the form (multipart, with the session's CSRF
	// header) reaches the contact's phone intact and shows as a thumbnail
	// served by the media route; revoked, the row says so.
	pic := testPNG(t, 40, 30)
	picPath := filepath.Join(t.TempDir(), "door.png")
	if err := os.WriteFile(picPath, pic, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(picPath+".txt", []byte("a note"), 0o644); err != nil {
		t.Fatal(err)
	}
	do("send an image", chromedp.SetValue(css("#send-to"), "+15550002001"), chromedp.SetValue(css("#send-text"), "front door"),
		chromedp.SetUploadFiles(css("#send-file"), []string{picPath}), submit("#send-form"))
	const sentImage = `[...document.querySelectorAll('#messages tbody tr')].find(tr => { const i = tr.querySelector('img.thumb');
		return i && i.complete && i.naturalWidth === 40 && tr.textContent.includes('front door') && /^(sent|delivered|read)/.test(tr.querySelector('td.status').textContent) })`
	wait("the image's thumbnail", sentImage)
	wait("the file input cleared", `document.querySelector('#send-file').files.length === 0`)
	imgID, err := chromedp.Run(ctx, chromedp.Evaluate[string](sentImage+`.dataset.id`))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pic)
	var inbox struct {
		Messages []struct{ ID, Type, SHA256, Caption string }
	}
	if err := json.Unmarshal(e.call("GET", "/v1/sandbox/contacts/+15550002001/inbox", adminKey, nil).body, &inbox); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range inbox.Messages {
		if m.ID == imgID {
			found = m.Type == "image" && m.SHA256 == hex.EncodeToString(sum[:]) && m.Caption == "front door"
			if !found {
				t.Errorf("the contact received %+v", m)
			}
		}
	}
	if !found {
		t.Errorf("the image %s is not in the contact's inbox: %+v", imgID, inbox.Messages)
	}
	shot(t, ctx, shots, "messages-image")
	wantStatus(t, e.call("DELETE", "/v1/instances/alpha/messages/"+imgID+"?for_everyone=true", adminKey, nil), http.StatusOK)
	wait("the revoked mark", `document.querySelector('#messages tr.revoked[data-id="`+imgID+`"] .mark-revoked')`)

	// A contact's image shows too (downloaded through the media route), a
	// location and a poll with its votes.
	wantStatus(t, e.call("POST", "/v1/sandbox/instances/alpha/incoming", adminKey, map[string]any{
		"from": "+15550002004", "type": "image", "base64": base64.StdEncoding.EncodeToString(testPNG(t, 24, 18)), "caption": "from a contact"}), http.StatusAccepted)
	wantStatus(t, e.call("POST", "/v1/instances/alpha/messages", adminKey, map[string]any{
		"to": "+15550002001", "type": "location", "latitude": 52.5163, "longitude": 13.3777, "name": "Brandenburg Gate"}), http.StatusAccepted)
	wantStatus(t, e.call("POST", "/v1/instances/alpha/messages", adminKey, map[string]any{
		"to": "+15550002001", "type": "poll", "question": "Pizza?", "options": []string{"Margherita", "Funghi"}}), http.StatusAccepted)
	wait("the contact's image", `[...document.querySelectorAll('#messages tbody tr')].some(tr => { const i = tr.querySelector('img.thumb');
		return i && i.complete && i.naturalWidth === 24 && tr.textContent.includes('from a contact') })`)
	wait("the location", `[...document.querySelectorAll('#messages .loc')].some(l => l.textContent.includes('Brandenburg Gate (52.51630, 13.37770)'))`)
	wait("the poll", `[...document.querySelectorAll('#messages .poll')].some(p => p.textContent.includes('Pizza?') && p.querySelectorAll('.votes').length === 2)`)
	shot(t, ctx, shots, "messages-rich")
	// Choosing an audio file offers the voice-note checkbox; a document does not.
	oggPath := filepath.Join(t.TempDir(), "note.ogg")
	if err := os.WriteFile(oggPath, []byte("OggS"), 0o644); err != nil {
		t.Fatal(err)
	}
	pttShown := `!document.querySelector('#send-ptt').closest('.field').hidden && getComputedStyle(document.querySelector('#send-ptt')).display !== 'none'`
	if shown, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](pttShown)); shown {
		t.Error("the voice-note checkbox shows without an audio file")
	}
	do("choose an audio file", chromedp.SetUploadFiles(css("#send-file"), []string{oggPath}))
	wait("the voice-note checkbox", pttShown)
	do("choose a document", chromedp.SetUploadFiles(css("#send-file"), []string{picPath + ".txt"}))
	wait("no voice-note checkbox", "!("+pttShown+")")

	// An invalid setting: the server's field error shows next to the field.
	do("open alpha's settings", chromedp.Navigate(e.srv.URL+"/#/i/alpha/settings"), chromedp.WaitVisible(css("#set-send_delay_ms")))
	do("set a bad delay", chromedp.SetValue(css("#set-send_delay_ms"), "-5"), submit("#settings-form"))
	wait("the field error", `document.querySelector('#set-send_delay_ms-error').textContent.length > 0 && document.querySelector('#set-send_delay_ms').getAttribute('aria-invalid') === 'true'`)
	shot(t, ctx, shots, "settings")

	// A webhook that answers 400: its deliveries die; retry one by hand.
	do("open alpha's webhook", chromedp.Navigate(e.srv.URL+"/#/i/alpha/webhook"), chromedp.WaitVisible(css("#wh-url")))
	do("set the webhook", chromedp.SetValue(css("#wh-url"), hookSrv.URL+"/hook"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#wh-enabled').checked = true`), submit("#webhook-form"))
	wait("the webhook saved", `document.querySelector('#toast').textContent === 'Webhook saved'`)
	// A contact writes (through the sandbox panel): an event to deliver.
	do("open the sandbox panel", chromedp.Navigate(e.srv.URL+"/#/i/alpha/sandbox"), chromedp.WaitVisible(css("#sb-from")))
	do("a contact writes", chromedp.SetValue(css("#sb-from"), "+15550002002"), chromedp.SetValue(css("#sb-text"), "hi alpha"), submit("#sb-incoming"))
	do("read the contact's inbox", chromedp.SetValue(css("#sb-inbox-phone"), "+15550002001"), submit("#sb-inbox"))
	wait("the inbox", `document.querySelector('#sb-inbox-list').textContent.includes('hello from the console')`)
	do("open the deliveries", chromedp.Navigate(e.srv.URL+"/#/i/alpha/webhook"), chromedp.WaitVisible(css("#deliveries-refresh")))
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#deliveries td.status .d-dead').length`))
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			shot(t, ctx, shots, "failed")
			t.Fatal("no dead delivery showed")
		}
		do("refresh", chromedp.Click(css("#deliveries-refresh")), chromedp.Sleep(300*time.Millisecond))
	}
	hits := hookHits.Load()
	shot(t, ctx, shots, "webhook")
	do("retry a dead delivery", chromedp.Click(css("#deliveries tr:has(.d-dead) button.retry")))
	wait("the retry confirmed", `/^Delivery \d+ queued again$/.test(document.querySelector('#toast').textContent)`)
	for deadline := time.Now().Add(10 * time.Second); hookHits.Load() == hits; {
		if time.Now().After(deadline) {
			t.Fatal("the retried delivery was not sent again")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The live event log saw it all.
	do("open alpha's events", chromedp.Click(css(`.tabs a[href$="/events"]`)))
	wait("events", `document.querySelectorAll('#event-log li[data-type="instance.state"]').length > 0 && document.querySelectorAll('#event-log li[data-type="message.received"]').length > 0`)
	shot(t, ctx, shots, "events")

	// On a phone screen.
	do("phone screen", chromedp.EmulateViewport(390, 844), chromedp.Navigate(e.srv.URL+"/#/i/alpha"))
	wait("the linked view", `document.querySelector('#link-panel') && document.querySelector('#link-panel').textContent.includes('Connected')`)
	wait("no horizontal scrolling", `document.documentElement.scrollWidth <= window.innerWidth`)
	shot(t, ctx, shots, "phone")
	do("desktop screen", chromedp.EmulateViewport(1280, 900))

	// Log out; log in with alpha's token: nothing of beta shows.
	do("log out", chromedp.Navigate(e.srv.URL+"/#/"), chromedp.WaitVisible(css("#instances")), chromedp.Click(css("#nav button.link")), chromedp.WaitVisible(css("#login-key")))
	if st, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch('/v1/instances').then(r => r.status)`, chromedp.EvalAwaitPromise)); err != nil || st != http.StatusUnauthorized {
		t.Errorf("the browser's request after logout: %d %v", st, err)
	}
	do("log in with alpha's token", chromedp.SendKeys(css("#login-key"), tokens["alpha"]), submit("#login"), chromedp.WaitVisible(css("#instances")))
	wait("alpha listed", `document.querySelector('#instances tr[data-name="alpha"]')`)
	do("let the stream deliver", chromedp.Sleep(500*time.Millisecond))
	if body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`)); strings.Contains(body, "beta") || strings.Contains(body, "New instance") {
		t.Errorf("an instance token's console shows beta or the create form:\n%s", body)
	}
	shot(t, ctx, shots, "token-list")
	do("try beta", chromedp.Navigate(e.srv.URL+"/#/i/beta"))
	wait("beta not found", `document.querySelector('.tab-body .form-error') && document.querySelector('.tab-body .form-error').textContent === 'instance not found'`)
	do("open alpha's events", chromedp.Navigate(e.srv.URL+"/#/i/alpha/events"), chromedp.WaitVisible(css("#event-log")))
	// beta's events reach no token session of alpha.
	e.call("POST", "/v1/sandbox/instances/beta/incoming", adminKey, map[string]string{"from": "+15550002003", "text": "for beta only"})
	e.call("POST", "/v1/sandbox/instances/alpha/incoming", adminKey, map[string]string{"from": "+15550002003", "text": "for alpha"})
	wait("alpha's event", `document.querySelector('#event-log').textContent.includes('for alpha')`)
	// Events arrive in log order: had beta's reached this session, it
	// would be there by now (the page's event buffer, before any filter).
	if leaked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`S.events.some(ev => ev.instance !== 'alpha')`)); err != nil || leaked {
		t.Errorf("alpha's token session received another instance's events (%v)", err)
	}
	shot(t, ctx, shots, "token-events")

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
}

// newBrowserEnv is newEnv with the console on and a webhook worker that may
// reach loopback servers (the test's receiver); nothing else.
func newBrowserEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, withConsole)
	// The env's worker may reach nothing; it makes way for one that may
	// reach loopback (Close is idempotent: the env's cleanup closes it again).
	e.opts.Webhooks.(*webhook.Worker).Close()
	loopOnly := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return nil, errors.New("tests make no outside connections")
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	hooks, err := webhook.New(webhook.Options{Store: e.st, Manager: e.m, Log: testLog(), HTTPClient: loopOnly})
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A fresh server for the API with this worker.
	e.srv.Close()
	e.opts.Webhooks = hooks
	e.srv = httptest.NewServer(api.New(e.opts))
	e.hc = e.srv.Client()
	t.Cleanup(e.srv.Close)
	t.Cleanup(hooks.Close)
	return e
}

func screenshotDir(t *testing.T) string {
	dir := os.Getenv("MEOWGATE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("testdata", "screenshots") // ignored by git
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
	}
}

// testPNG is a real PNG image of w×h pixels.
func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{uint8(x * 6), uint8(y * 8), 0x60, 0xff})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
