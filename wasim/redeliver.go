package wasim

import (
	"context"
	"slices"
	"time"
)

// WhatsApp keeps a message for a linked device until the device acks it
// (with a receipt or an ack). One the client did not ack before its
// connection ended is delivered again after its next login, as whatsmeow
// with SynchronousAck expects when a handler fails.

// inflightMsg is a message stanza sent on a connection and not yet acked.
type inflightMsg struct {
	seq  int64
	node []byte // waBinary.Marshal output, as the offline queue stores it
}

// keepInflight remembers a message sent to a logged-in device until acked.
// It reports whether it did.
func (c *conn) keepInflight(id string, data []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.device.IsEmpty() || c.closed {
		return false
	}
	c.sentSeq++
	c.inflight[id] = inflightMsg{seq: c.sentSeq, node: data}
	return true
}

// requeueUnacked puts the messages the client never acked back in the
// device's offline queue, in the order they were sent.
func (c *conn) requeueUnacked() {
	c.mu.Lock()
	dev := c.device
	msgs := make([]inflightMsg, 0, len(c.inflight))
	for _, m := range c.inflight {
		msgs = append(msgs, m)
	}
	c.inflight = map[string]inflightMsg{}
	c.mu.Unlock()
	if dev.IsEmpty() || len(msgs) == 0 {
		return
	}
	slices.SortFunc(msgs, func(a, b inflightMsg) int { return int(a.seq - b.seq) })
	s := c.s
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	for _, m := range msgs {
		if _, err := s.db.ExecContext(ctx, `INSERT INTO wasim_offline (jid, node) VALUES (?, ?)`, dev.String(), m.node); err != nil {
			s.log.Error("wasim: requeue unacked message", "device", dev, "err", err)
			return
		}
	}
	s.log.Debug("wasim: unacked messages kept for the next login", "device", dev, "count", len(msgs))
	s.mu.Lock()
	s.offlinePending[dev.String()] = true
	next := s.conns[dev.String()]
	s.mu.Unlock()
	if next != nil && next != c {
		go s.flushOffline(next, dev)
	}
}

// dropInflight forgets a message whose write failed, reporting whether it
// was still there (false: requeueUnacked has already kept it).
func (c *conn) dropInflight(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.inflight[id]
	delete(c.inflight, id)
	return ok
}
