package instance

import (
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/meowgate/meowgate/event"
)

// A socket can stay open while the server behind it no longer answers (a
// NAT or proxy that dropped the flow, a stuck server): whatsmeow then keeps
// saying "connected" while nothing flows, and only forces a reconnect after
// three minutes of failed keepalives. meowgate reconnects at the first
// keepalive that gets no answer.

// DefaultKeepaliveTimeout bounds the time from the server going silent to
// the instance showing "disconnected".
const DefaultKeepaliveTimeout = 60 * time.Second

// setKeepalive sets whatsmeow's keepalive timing so that a silent server is
// noticed within bound: a ping every bound/3 to bound/2, each answered
// within bound/6, so a miss is known at most 2/3 of bound after the last
// answer. whatsmeow keeps these in package variables: one value for the
// process, set before any client connects. Zero keeps whatsmeow's.
func setKeepalive(bound time.Duration) {
	if bound <= 0 {
		return
	}
	whatsmeow.KeepAliveIntervalMin = bound / 3
	whatsmeow.KeepAliveIntervalMax = bound / 2 // > Min: whatsmeow draws in between (equal panics)
	whatsmeow.KeepAliveResponseDeadline = bound / 6
	whatsmeow.KeepAliveMaxFailTime = bound
}

// onKeepAliveTimeout drops a socket whose server stopped answering and logs
// in again; messages whose ack never came are sent again with the same ids
// (WhatsApp, like wasim, delivers an id once).
func (i *instance) onKeepAliveTimeout(e *events.KeepAliveTimeout) {
	if i.row.State != event.StateConnected {
		return
	}
	i.log.Warn("WhatsApp stopped answering; reconnecting", "errors", e.ErrorCount, "last_answer", e.LastSuccess)
	i.setState(event.StateDisconnected, event.ReasonKeepaliveTimeout)
	i.start(event.ReasonKeepaliveTimeout)
}
