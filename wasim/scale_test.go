package wasim

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// forEach runs f(i) for i in [0, n) on a pool of workers and returns the
// errors (at most one per i).
func forEach(n, workers int, f func(i int) error) []error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan int)
	)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}

// scaleClients is how many clients TestManyClients pairs: 100, or 20 with
// -short. Under the race detector a pairing costs about 1 s of CPU (mostly
// whatsmeow storing its 812 prekeys one INSERT at a time in the
// instrumented pure-Go SQLite), so with -race on fewer than 8 CPUs it runs
// 20 to keep the package fast. WASIM_CLIENTS=n overrides both.
func scaleClients(t *testing.T) int {
	if v := os.Getenv("WASIM_CLIENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("WASIM_CLIENTS=%q", v)
		}
		return n
	}
	if testing.Short() || raceEnabled && runtime.GOMAXPROCS(0) < 8 {
		return 20
	}
	return 100
}

// One simulator serves many linked devices at once: 100 whatsmeow clients
// pair in parallel (8 at a time), all stay connected, each sends a message
// and gets the contact's delivery receipt.
func TestManyClients(t *testing.T) {
	t.Parallel()
	n := scaleClients(t)
	const workers = 8
	timeout := 2 * time.Minute
	sim := newSim(t, Options{NoReadReceipts: true})
	clients := make([]*tclient, n)
	start := time.Now()
	errs := forEach(n, workers, func(i int) error {
		tc, err := newClientE(t, sim, "")
		if err != nil {
			return err
		}
		clients[i] = tc
		if _, err := pairClientE(sim, tc, fmt.Sprintf("+4916%08d", i), timeout); err != nil {
			return fmt.Errorf("client %d: pairing: %w", i, err)
		}
		return nil
	})
	if len(errs) > 0 {
		t.Fatalf("%d of %d pairings failed; first: %v", len(errs), n, errs[0])
	}
	paired := time.Since(start)
	for i, tc := range clients {
		if !sim.Connected(tc.jid) || sim.Logins(tc.jid) != 1 {
			t.Fatalf("client %d (%s): connected %v, logins %d", i, tc.jid, sim.Connected(tc.jid), sim.Logins(tc.jid))
		}
	}

	start = time.Now()
	ids := make([]string, n)
	errs = forEach(n, workers, func(i int) error {
		tc := clients[i]
		m := tc.mark()
		contact := fmt.Sprintf("4917%08d", i)
		resp, err := tc.cli.SendMessage(context.Background(), types.NewJID(contact, types.DefaultUserServer),
			&waE2E.Message{Conversation: proto.String(fmt.Sprintf("message %d", i))})
		if err != nil {
			return fmt.Errorf("client %d: send: %w", i, err)
		}
		ids[i] = resp.ID
		if _, _, err := awaitEvent(tc, m, timeout, func(r *events.Receipt) bool {
			return r.Type == types.ReceiptTypeDelivered && r.MessageIDs[0] == resp.ID
		}); err != nil {
			return fmt.Errorf("client %d: %w", i, err)
		}
		return nil
	})
	if len(errs) > 0 {
		t.Fatalf("%d of %d sends failed; first: %v", len(errs), n, errs[0])
	}
	sent := time.Since(start)
	for i := range n {
		in, err := sim.Inbox(fmt.Sprintf("4917%08d", i))
		if err != nil {
			t.Fatal(err)
		}
		if len(in) != 1 || in[0].ID != ids[i] || in[0].Text != fmt.Sprintf("message %d", i) {
			t.Fatalf("inbox of contact %d = %+v", i, in)
		}
	}
	for i, tc := range clients {
		if !sim.Connected(tc.jid) || sim.Logins(tc.jid) != 1 {
			t.Fatalf("client %d reconnected or dropped: connected %v, logins %d", i, sim.Connected(tc.jid), sim.Logins(tc.jid))
		}
	}
	if f := sim.DecryptFailures(); f != 0 {
		t.Fatalf("%d decrypt failures", f)
	}
	t.Logf("%d clients: paired and logged in in %v, sent and delivered in %v", n, paired.Round(time.Millisecond), sent.Round(time.Millisecond))
}
