package wasim

import (
	"context"
	"slices"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
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
	if err := s.requeueFirst(ctx, dev.String(), msgs); err != nil {
		s.log.Error("wasim: requeue unacked message", "device", dev, "err", err)
		return
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

// requeueFirst puts msgs at the head of a device's offline queue: they were
// sent before anything queued meanwhile (a deliver that found the socket
// closing, or the rest of a flush), so they must be delivered first. A
// queued copy of an in-flight message (a flush sent it and had not yet
// deleted its row) is dropped.
func (s *Server) requeueFirst(ctx context.Context, jid string, msgs []inflightMsg) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, `SELECT node FROM wasim_offline WHERE jid = ? ORDER BY seq`, jid)
	if err != nil {
		return err
	}
	var later [][]byte
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			rows.Close()
			return err
		}
		later = append(later, data)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM wasim_offline WHERE jid = ?`, jid); err != nil {
		return err
	}
	kept := map[string]bool{}
	for _, m := range msgs {
		kept[stanzaID(m.node)] = true
		if _, err := tx.ExecContext(ctx, `INSERT INTO wasim_offline (jid, node) VALUES (?, ?)`, jid, m.node); err != nil {
			return err
		}
	}
	for _, data := range later {
		if id := stanzaID(data); id != "" && kept[id] {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO wasim_offline (jid, node) VALUES (?, ?)`, jid, data); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// stanzaID is the id of a marshalled message stanza ("" if unreadable or
// not a message).
func stanzaID(data []byte) string {
	plain, err := waBinary.Unpack(data)
	if err != nil {
		return ""
	}
	n, err := waBinary.Unmarshal(plain)
	if err != nil || n.Tag != "message" {
		return ""
	}
	id, _ := n.Attrs["id"].(string)
	return id
}
