package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// msgKey names an outgoing message: WhatsApp ids are unique per instance.
type msgKey struct{ instance, id string }

// Bounds of the sent→delivered bookkeeping: a message is forgotten once
// delivered, failed, or sentTTL after it was sent (it is then not counted
// in the delivery latency), and at most maxSent are remembered.
const (
	sentTTL  = 6 * time.Hour
	maxSent  = 100_000
	sweepGap = 10 * time.Minute
)

// Start counts the events appended from now on, until Close or the end
// of ctx. The start point is taken before Start returns: nothing the
// caller does next is missed.
func (m *Metrics) Start(ctx context.Context) error {
	after, err := m.opts.Store.LastEventID(ctx)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	ctx, m.stop = context.WithCancel(ctx)
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		m.follow(ctx, after)
	}()
	return nil
}

// Close stops counting and waits for the follower to end.
func (m *Metrics) Close() {
	if m.stop != nil {
		m.stop()
		<-m.done
	}
}

// follow counts the events after id after, as the SSE stream reads them:
// take the wake-up channel first, then read, so no commit is missed.
func (m *Metrics) follow(ctx context.Context, after int64) {
	const batch = 500
	for {
		wake := m.opts.Store.EventsNotify()
		evs, err := m.opts.Store.ListEventHeads(ctx, after, batch, event.TypeMessageSent, event.TypeMessageStatus, event.TypeState)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			m.log.Warn("metrics: cannot read the event log; retrying", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		for _, ev := range evs {
			after = ev.ID
			m.count(ev)
		}
		if len(evs) == batch {
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		}
	}
}

// count applies one event to its instance's series.
func (m *Metrics) count(ev store.Event) {
	switch ev.Type {
	case event.TypeMessageSent, event.TypeMessageStatus, event.TypeMessageReceived, event.TypeState:
	default:
		return
	}
	info, err := m.opts.Instances.Get(ev.InstanceID)
	if err != nil {
		return // deleted since
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.seriesLocked(ev.InstanceID, info.Name)
	switch ev.Type {
	case event.TypeMessageReceived:
		s.recvd.Inc()
	case event.TypeMessageSent:
		var msg struct {
			ID        string     `json:"id"`
			CreatedAt time.Time  `json:"created_at"`
			SendAt    *time.Time `json:"send_at"`
		}
		if json.Unmarshal(ev.Data, &msg) != nil {
			return
		}
		s.sent.Inc()
		// The event is written when the gateway records WhatsApp's ack:
		// its time is the sent time to the millisecond (the ack's own
		// timestamp has whole seconds).
		due := msg.CreatedAt
		if msg.SendAt != nil && msg.SendAt.After(due) {
			due = *msg.SendAt
		}
		s.sendLatency.Update(max(0, ev.CreatedAt.Sub(due).Seconds()))
		m.rememberSentLocked(msgKey{ev.InstanceID, msg.ID}, ev.CreatedAt)
	case event.TypeMessageStatus:
		var st event.MessageStatus
		if json.Unmarshal(ev.Data, &st) != nil {
			return
		}
		k := msgKey{ev.InstanceID, st.ID}
		switch st.Status {
		case event.StatusFailed:
			s.failed.Inc()
			delete(m.sentAt, k)
		case event.StatusExpired:
			s.expired.Inc()
		case event.StatusDelivered, event.StatusRead, event.StatusPlayed:
			// The first receipt counts: a read may come without a delivered.
			if at, ok := m.sentAt[k]; ok {
				s.deliveryLatency.Update(max(0, ev.CreatedAt.Sub(at).Seconds()))
				delete(m.sentAt, k)
			}
		}
	case event.TypeState:
		var st event.State
		if json.Unmarshal(ev.Data, &st) != nil {
			return
		}
		if lostConnection(st) {
			s.reconnects.Inc()
		}
	}
}

// lostConnection reports whether a state change is a connection lost
// unasked: from connected to anything but connected, for a reason other
// than a request, a shutdown or a logout (after which nothing reconnects).
func lostConnection(st event.State) bool {
	if st.Previous != event.StateConnected || st.State == event.StateConnected || st.State == event.StateLoggedOut {
		return false
	}
	switch st.Reason {
	case event.ReasonUserRequest, event.ReasonShutdown, event.ReasonRestart:
		return false
	}
	return true
}

func (m *Metrics) rememberSentLocked(k msgKey, at time.Time) {
	m.sentAt[k] = at
	if len(m.sentAt) <= maxSent && at.Sub(m.lastSweep) < sweepGap {
		return
	}
	m.lastSweep = at
	for key, t := range m.sentAt {
		if at.Sub(t) > sentTTL {
			delete(m.sentAt, key)
		}
	}
	for key := range m.sentAt { // still too many: forget any, with room to spare
		if len(m.sentAt) <= maxSent*9/10 {
			break
		}
		delete(m.sentAt, key)
	}
}
