package wasim

import (
	waBinary "go.mau.fi/whatsmeow/binary"
)

// HoldAcks makes the server keep back the acks of the messages an account's
// linked devices send, until release is called: the messages are delivered
// and the contacts' receipts flow as usual, so they reach the sender before
// the ack, as they can on WhatsApp when its ack is slow. Acks still held
// when their connection closes are dropped, as the socket they were for is
// gone; Idle does not wait for them.
func (s *Server) HoldAcks(phone string) (release func(), err error) {
	d, err := normalizePhone(phone)
	if err != nil {
		return nil, err
	}
	ch := make(chan struct{})
	s.mu.Lock()
	if s.ackHolds == nil {
		s.ackHolds = map[string]chan struct{}{}
	}
	s.ackHolds[d] = ch
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.ackHolds[d] == ch {
			delete(s.ackHolds, d)
			close(ch)
		}
	}, nil
}

// sendMessageAck sends the server ack of a message from account, now or,
// under HoldAcks, once released.
func (c *conn) sendMessageAck(account string, ack waBinary.Attrs) {
	c.s.mu.Lock()
	held := c.s.ackHolds[account]
	c.s.mu.Unlock()
	n := waBinary.Node{Tag: "ack", Attrs: ack}
	if held == nil {
		_ = c.send(n)
		return
	}
	go func() {
		select {
		case <-held:
			_ = c.send(n)
		case <-c.ctx.Done():
		}
	}()
}
