package instance

import (
	"sync"

	"github.com/meowgate/meowgate/store"
)

// maxHeldReceipts bounds receipts waiting for their message's server ack.
const maxHeldReceipts = 10000

// flight is the one owner of what the sender and the actor share: the
// message being sent, and the receipts that overtook the server ack of
// their message. A contact's phone may answer before WhatsApp acks the
// send; those receipts wait here and are recorded with the ack (by the
// sender) or after it (by the actor), so the status history keeps its
// order. It outlives senders: a message requeued by one is acked by the
// next.
type flight struct {
	mu    sync.Mutex
	id    string // the message handed to WhatsApp, until its outcome is recorded
	acked bool   // WhatsApp acked id and the sender is recording it
	held  map[string][]store.Receipt
}

// begin is called by the sender before it hands id to WhatsApp: from now
// on receipts for id wait for the outcome.
func (f *flight) begin(id string) {
	f.mu.Lock()
	f.id, f.acked = id, false
	f.mu.Unlock()
}

// ack is called by the sender when WhatsApp acked id: it returns the
// receipts that came first, to record in the ack's transaction.
func (f *flight) ack(id string) []store.Receipt {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acked = f.id == id
	rs := f.held[id]
	delete(f.held, id)
	return rs
}

// unrecorded returns rs, taken by ack, to the front of id's queue: the ack
// could not be recorded.
func (f *flight) unrecorded(id string, rs []store.Receipt) {
	if len(rs) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil {
		f.held = map[string][]store.Receipt{}
	}
	f.held[id] = append(rs, f.held[id]...)
}

// end is called by the sender once the outcome of sending id (sent,
// failed, requeued) is recorded. It reports whether receipts wait for id:
// the actor then applies them with release, in its own order. A stopped
// sender may end after the next one began: only its own id is cleared.
func (f *flight) end(id string) (waiting bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, waiting = f.held[id]
	if f.id == id {
		f.id, f.acked = "", false
	}
	return waiting
}

// sort is called by the actor with received receipts: those for the
// message in flight, or queued behind held ones for the same message,
// are held; it returns the others, to apply now.
func (f *flight) sort(rs []store.Receipt) []store.Receipt {
	now := make([]store.Receipt, 0, len(rs))
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range rs {
		if _, waiting := f.held[r.ID]; waiting || r.ID == f.id {
			f.holdLocked(r)
		} else {
			now = append(now, r)
		}
	}
	return now
}

// hold keeps receipts the store could not apply yet (their message is
// still queued or sending) until its outcome is recorded.
func (f *flight) hold(rs []store.Receipt) {
	if len(rs) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range rs {
		f.holdLocked(r)
	}
}

func (f *flight) holdLocked(r store.Receipt) {
	if f.held == nil {
		f.held = map[string][]store.Receipt{}
	}
	if _, ok := f.held[r.ID]; ok || len(f.held) < maxHeldReceipts {
		f.held[r.ID] = append(f.held[r.ID], r)
	}
}

// release is called by the actor after end: it takes the receipts held
// for id, unless id is in flight again (a retry), whose ack takes them.
func (f *flight) release(id string) []store.Receipt {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == f.id {
		return nil
	}
	rs := f.held[id]
	delete(f.held, id)
	return rs
}
