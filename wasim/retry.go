package wasim

import (
	"context"
	"sync"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// A phone that cannot decrypt a message asks the sending device for it
// again with a retry receipt (facts 4.5); the device re-encrypts it for that
// one device and sends it without a <participants> list.

// faults are the operator controls that break delivery on purpose:
// failed decrypts and silenced connections.
type faults struct {
	mu          sync.Mutex
	failDecrypt map[string][]chan struct{} // phone digits → pending failures, each waiting for its askRetry
	deaf        map[*conn]bool             // silenced connections (deaf.go)
	resends     int                        // answers to retry receipts
}

// FailNextDecrypt makes a contact's phone fail to decrypt the next message a
// linked device sends it. The phone sends its retry receipt once askRetry
// is called (at once if the failure already happened), so a test can put a
// restart of the sender in between; the receipt then waits in the sender's
// offline queue like any other stanza.
func (s *Server) FailNextDecrypt(phone string) (askRetry func(), err error) {
	d, err := normalizePhone(phone)
	if err != nil {
		return nil, err
	}
	ch := make(chan struct{})
	h := &s.faults
	h.mu.Lock()
	if h.failDecrypt == nil {
		h.failDecrypt = map[string][]chan struct{}{}
	}
	h.failDecrypt[d] = append(h.failDecrypt[d], ch)
	h.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }, nil
}

// takeFailDecrypt reports whether the phone is to fail this message, and
// the channel its retry receipt waits for.
func (s *Server) takeFailDecrypt(phone string) (chan struct{}, bool) {
	h := &s.faults
	h.mu.Lock()
	defer h.mu.Unlock()
	q := h.failDecrypt[phone]
	if len(q) == 0 {
		return nil, false
	}
	h.failDecrypt[phone] = q[1:]
	return q[0], true
}

// askRetry sends a phone's retry receipt for message id to the device that
// sent it, once ready is closed.
func (s *Server) askRetry(u *user, sender types.JID, id string, t int64, ready chan struct{}) {
	s.record(func(o *observations) { o.decryptFailures++ })
	s.addScheduled(1)
	go func() {
		defer s.addScheduled(-1)
		select {
		case <-ready:
		case <-s.ctx.Done():
			return
		}
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		defer cancel()
		u.phoneMu.Lock()
		dev, err := s.phoneDevice(ctx, u)
		u.phoneMu.Unlock()
		if err != nil {
			s.log.Error("wasim: retry receipt", "phone", u.phone, "err", err)
			return
		}
		s.log.Debug("wasim: phone asks for a message again", "phone", u.phone, "to", sender, "id", id)
		s.deliver(ctx, sender, waBinary.Node{Tag: "receipt", Attrs: waBinary.Attrs{
			"from": u.jid(), "id": id, "t": time.Now().Unix(), "type": "retry",
		}, Content: []waBinary.Node{
			{Tag: "retry", Attrs: waBinary.Attrs{"count": 1, "id": id, "t": t, "v": 1}},
			{Tag: "registration", Content: be32(dev.RegistrationID)},
		}})
	}()
}

// retryResend reports whether n is a device's answer to a retry receipt:
// one <enc> for one device, no <participants>. It routes it and acks it
// (the id was seen already: the first copy never arrived).
func (c *conn) retryResend(n *waBinary.Node, sender, to types.JID, id string) bool {
	if _, ok := n.GetOptionalChildByTag("participants"); ok {
		return false
	}
	encs := n.GetChildrenByTag("enc")
	if len(encs) == 0 || to.Server != types.DefaultUserServer {
		return false
	}
	s := c.s
	t, _ := n.Attrs["t"].(int64)
	if t == 0 {
		t = time.Now().Unix()
	}
	msgType, _ := n.Attrs["type"].(string)
	s.faults.mu.Lock()
	s.faults.resends++
	s.faults.mu.Unlock()
	s.record(func(*observations) {}) // wakes Wait
	for _, enc := range encs {
		s.routeEnc(c.ctx, sender, to.ToNonAD(), to, id, msgType, t, enc)
	}
	c.sendMessageAck(sender.User, waBinary.Attrs{"class": "message", "id": id, "from": to, "t": t})
	return true
}

// RetryResends counts the messages linked devices sent again in answer to
// a retry receipt.
func (s *Server) RetryResends() int {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	return s.faults.resends
}
