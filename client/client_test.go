package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meowgate/meowgate/api"
	"github.com/meowgate/meowgate/client"
	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/store"
	"github.com/meowgate/meowgate/wasim"
)

// The tests run the client against the real API: api.New over a real
// Manager, a SQLite file and real whatsmeow clients talking to wasim.

const adminKey = "admin-key-for-client-tests-0123"

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newServer starts the API in sandbox mode and returns an admin client.
func newServer(t *testing.T, tweak func(*api.Options)) (*client.Client, *httptest.Server) {
	t.Helper()
	ctx := context.Background()
	sim, err := wasim.New(ctx, wasim.Options{DeliveryDelay: 10 * time.Millisecond, ReadDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "meowgate.db"), quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m, err := instance.NewManager(ctx, instance.Options{Store: st, Log: quiet(), HTTPClient: sim.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	t.Cleanup(func() {
		// Let the clients and the simulator settle before the Manager
		// closes the sockets (see api/helpers_test.go).
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sim.Wait(ctx, sim.Idle)
	})
	opts := api.Options{
		Manager: m, Log: quiet(), AdminKey: adminKey,
		RateLimit: 1e6, RateBurst: 1e6, CreatePerMinute: 10000, AuthFailBurst: 1e6,
		Sandbox: wasim.Local(sim), Version: "test",
	}
	if tweak != nil {
		tweak(&opts)
	}
	srv := httptest.NewServer(api.New(opts))
	t.Cleanup(srv.Close)
	return client.New(srv.URL, adminKey, client.WithHTTPClient(srv.Client())), srv
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitState polls the state until it is want.
func waitState(t *testing.T, ctx context.Context, c *client.Client, name, want string) *client.State {
	t.Helper()
	for {
		st, err := c.State(ctx, name)
		if err != nil {
			t.Fatalf("state %s: %v", name, err)
		}
		if st.State == want {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: still %s/%s, want %s", name, st.State, st.Reason, want)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// link scans the instance's QR code through the sandbox until it is
// connected.
func link(t *testing.T, ctx context.Context, c *client.Client, name, phone string) {
	t.Helper()
	for {
		_, err := c.SandboxScan(ctx, name, phone)
		if err == nil {
			break
		}
		if !client.IsCode(err, client.CodeNotAwaitingQR) || ctx.Err() != nil {
			t.Fatalf("scan %s: %v", name, err)
		}
		time.Sleep(20 * time.Millisecond) // the QR code is not shown yet
	}
	waitState(t, ctx, c, name, client.StateConnected)
}

func TestCreateLinkSendList(t *testing.T) {
	c, _ := newServer(t, nil)
	ctx := testCtx(t)
	if err := c.Healthz(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Readyz(ctx); err != nil {
		t.Fatal(err)
	}
	created, err := c.CreateInstance(ctx, client.CreateInstanceRequest{Name: "pi", DeviceName: "Kitchen", Connect: true,
		Settings: map[string]any{"send_delay_ms": 0}})
	if err != nil {
		t.Fatal(err)
	}
	if created.Token == "" || created.Instance.Name != "pi" || created.Instance.DeviceName != "Kitchen" || created.Instance.ID == "" {
		t.Fatalf("created: %+v", created)
	}
	if created.QR == nil || created.QR.Code == "" || created.QR.ExpiresAt.IsZero() {
		t.Fatalf("create with connect: no QR: %+v", created.QR)
	}
	if png, err := c.QRPNG(ctx, "pi"); err != nil || len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Fatalf("QR png: %v (%d bytes)", err, len(png))
	}
	link(t, ctx, c, "pi", "+4915100000701")

	// The instance token sees its own instance only.
	tc := client.New(c.BaseURL(), created.Token)
	own, err := tc.ListInstances(ctx)
	if err != nil || len(own) != 1 || own[0].State != client.StateConnected || own[0].Phone != "+4915100000701" {
		t.Fatalf("list with the token: %v %+v", err, own)
	}

	msg, err := tc.Send(ctx, "pi", client.SendRequest{To: "+4915100000702", Text: "hello from the client", IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if msg.ID == "" || msg.Status != client.StatusQueued || msg.Replayed {
		t.Fatalf("sent: %+v", msg)
	}
	again, err := tc.Send(ctx, "pi", client.SendRequest{To: "+4915100000702", Text: "hello from the client", IdempotencyKey: "k1"})
	if err != nil || again.ID != msg.ID || !again.Replayed {
		t.Fatalf("retried POST: %v %+v", err, again)
	}
	for {
		got, err := c.Message(ctx, "pi", msg.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == client.StatusRead {
			if len(got.StatusHistory) < 3 || got.StatusHistory[0].Status != client.StatusQueued {
				t.Fatalf("history: %+v", got.StatusHistory)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("message still %s", got.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	inbox, err := c.SandboxInbox(ctx, "+4915100000702")
	if err != nil || len(inbox) != 1 || inbox[0].ID != msg.ID || inbox[0].Text != "hello from the client" {
		t.Fatalf("inbox: %v %+v", err, inbox)
	}
	out, err := c.Messages(ctx, "pi", client.MessageQuery{Direction: "out", Limit: 10})
	if err != nil || len(out) != 1 || out[0].ID != msg.ID || out[0].To != "+4915100000702" {
		t.Fatalf("messages: %v %+v", err, out)
	}
	if q, err := c.Queue(ctx, "pi"); err != nil || len(q) != 0 {
		t.Fatalf("queue: %v %+v", err, q)
	}

	s, err := c.UpdateSettings(ctx, "pi", map[string]any{"mark_read": true})
	if err != nil || !s.MarkRead || s.SendDelayMS != 0 {
		t.Fatalf("settings: %v %+v", err, s)
	}
	evs, err := c.Events(ctx, "pi", "", 1000)
	if err != nil || len(evs) == 0 || evs[0].Instance != "pi" {
		t.Fatalf("events: %v %+v", err, evs)
	}
	tok, err := c.RotateToken(ctx, "pi")
	if err != nil || tok == "" || tok == created.Token {
		t.Fatalf("rotate: %v %q", err, tok)
	}
	if _, err := tc.ListInstances(ctx); client.StatusOf(err) != 401 || !client.IsCode(err, client.CodeUnauthorized) {
		t.Fatalf("old token after rotation: %v", err)
	}
	if _, err := c.Logout(ctx, "pi"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteInstance(ctx, "pi"); err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	c, _ := newServer(t, func(o *api.Options) { o.CreatePerMinute = 2 }) // the failed creation counts too
	ctx := testCtx(t)

	_, err := c.Instance(ctx, "nope")
	var ae *client.Error
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Code != client.CodeNotFound || ae.Message != "instance not found" {
		t.Fatalf("unknown instance: %#v", err)
	}

	_, err = c.CreateInstance(ctx, client.CreateInstanceRequest{Name: "bad name!"})
	if !errors.As(err, &ae) || ae.Status != 422 || ae.Code != client.CodeInvalid || ae.Fields["name"] == "" {
		t.Fatalf("bad name: %#v", err)
	}

	if _, err := c.CreateInstance(ctx, client.CreateInstanceRequest{Name: "one"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Logout(ctx, "one")
	if !errors.As(err, &ae) || ae.Status != 409 || ae.Code != client.CodeNotPaired || ae.State != client.StateCreated {
		t.Fatalf("logout of an unlinked instance: %#v", err)
	}
	_, err = c.CreateInstance(ctx, client.CreateInstanceRequest{Name: "two"})
	if !errors.As(err, &ae) || ae.Status != 429 || ae.Code != client.CodeRateLimited || ae.RetryAfter < time.Second {
		t.Fatalf("second creation in a minute: %#v", err)
	}

	// A transport error is not an *Error.
	dead := client.New("http://127.0.0.1:1", adminKey)
	if err := dead.Healthz(ctx); err == nil || errors.As(err, &ae) || client.StatusOf(err) != 0 {
		t.Fatalf("unreachable: %v", err)
	}
}

// The stream reconnects by itself when the connection drops and goes on
// after the last event it returned.
func TestStreamResumes(t *testing.T) {
	c, srv := newServer(t, nil)
	ctx := testCtx(t)
	if _, err := c.Stream(ctx, client.StreamOptions{Types: []string{"bogus"}}); !client.IsCode(err, client.CodeInvalid) {
		t.Fatalf("unknown type: %v", err)
	}
	s, err := c.Stream(ctx, client.StreamOptions{Types: []string{client.EventInstanceState}, LastEventID: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := c.CreateInstance(ctx, client.CreateInstanceRequest{Name: "a", Connect: true}); err != nil {
		t.Fatal(err)
	}
	first, err := s.Next()
	if err != nil || first.Type != client.EventInstanceState || first.Instance != "a" || first.ID == "" {
		t.Fatalf("first event: %v %+v", err, first)
	}
	srv.CloseClientConnections()
	// The disconnect goes over a connection of its own: a POST is not
	// retried on a pooled connection the server has just closed.
	fresh := client.New(srv.URL, adminKey, client.WithHTTPClient(&http.Client{Transport: &http.Transport{}}))
	if _, err := fresh.Disconnect(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{first.ID: true}
	for {
		ev, err := s.Next()
		if err != nil {
			t.Fatalf("after the connection dropped: %v", err)
		}
		if seen[ev.ID] {
			t.Fatalf("event %s returned twice", ev.ID)
		}
		seen[ev.ID] = true
		if ev.Type != client.EventInstanceState {
			t.Fatalf("event of type %s despite the filter", ev.Type)
		}
		if strings.Contains(string(ev.Data), `"`+client.ReasonUserRequest+`"`) {
			break // the disconnect's state change
		}
	}
	if s.LastEventID() == first.ID {
		t.Fatal("LastEventID did not move")
	}
	s.Close()
	if _, err := s.Next(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after Close: %v", err)
	}
}
