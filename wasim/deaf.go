package wasim

import (
	"errors"

	"go.mau.fi/whatsmeow/types"
)

// A deaf connection stays open and keeps reading what the device sends (its
// messages still reach their recipients) but answers nothing: no pong, no
// ack, no receipt, no incoming message. What was to go to the device waits
// in its offline queue, as WhatsApp keeps it for a device that is gone, and
// is delivered at its next login. Only the connection that was deafened
// is: a new login works, as after a stuck network path.

var errDeaf = errors.New("wasim: connection deafened")

// Deafen silences the current connection of a linked device.
func (s *Server) Deafen(device types.JID) error {
	s.mu.Lock()
	c := s.conns[device.String()]
	s.mu.Unlock()
	if c == nil {
		return ErrNotLinked
	}
	h := &s.faults
	h.mu.Lock()
	if h.deaf == nil {
		h.deaf = map[*conn]bool{}
	}
	h.deaf[c] = true
	h.mu.Unlock()
	s.log.Debug("wasim: connection deafened", "device", device)
	return nil
}

// Undeafen makes every deafened connection of a device answer again.
func (s *Server) Undeafen(device types.JID) {
	h := &s.faults
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.deaf {
		if c.loggedIn() == device {
			delete(h.deaf, c)
		}
	}
}

// deafened reports whether the connection is deaf (and forgets it once
// closed).
func (c *conn) deafened() bool {
	h := &c.s.faults
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.deaf[c] {
		return false
	}
	if c.ctx.Err() != nil {
		delete(h.deaf, c)
	}
	return true
}
