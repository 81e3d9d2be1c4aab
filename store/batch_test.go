package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// Concurrent enqueues share commits; each still gets its own outcome, and
// one idempotency key yields one message however the requests are batched.
func TestEnqueueConcurrent(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	in := &Instance{ID: "ins_batch", Name: "batch"}
	if err := s.CreateInstance(ctx, in); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	ids := make([]string, 64)
	errs := make([]error, 64)
	for n := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := &Message{InstanceID: in.ID, ID: fmt.Sprintf("3EB0%04d", n), Chat: "x@s.whatsapp.net", Text: "t"}
			if n%2 == 0 {
				m.IdempotencyKey = "same"
			}
			if n == 63 {
				m.ID = "3EB00001" // collides with message 1: only this one fails
			}
			_, errs[n] = s.EnqueueMessage(ctx, m)
			ids[n] = m.ID
		}()
	}
	wg.Wait()
	// 1 and 63 share a message id: exactly one of them fails.
	if (errs[1] == nil) == (errs[63] == nil) {
		t.Errorf("colliding ids: errors %v and %v, want exactly one", errs[1], errs[63])
	}
	keyed := map[string]bool{}
	for n, err := range errs {
		switch {
		case n == 1 || n == 63:
		case err != nil:
			t.Errorf("enqueue %d: %v", n, err)
		case n%2 == 0:
			keyed[ids[n]] = true
		}
	}
	if len(keyed) != 1 {
		t.Errorf("one idempotency key gave %d messages", len(keyed))
	}
	q, err := s.QueuedMessages(ctx, in.ID)
	if err != nil || len(q) != 32 {
		t.Fatalf("queue has %d messages (%v), want 32 (31 distinct, 1 keyed)", len(q), err)
	}
}
