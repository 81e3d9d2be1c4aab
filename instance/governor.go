package instance

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"time"

	"go.mau.fi/whatsmeow"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// The first-contact governor's decision is made in the queue claim (see
// store/governor.go); this file handles WhatsApp's refusal of a first
// contact. The pinned whatsmeow has no reach-out-timelock event (facts
// 4.2), so the signal is the send error: ack error 463. meowgate checks
// that a phone number is on WhatsApp before sending to it, so a 463 for a
// chat that never wrote to the instance means the account is restricted,
// not that the recipient does not exist. Such a message is queued again,
// first contacts wait for the back-off (the ack names no time), replies
// and known chats keep flowing, and instance.restricted is published.

// restrictionCodes are the ack errors that mean "restricted".
var restrictionCodes = map[int]bool{463: true}

const defaultRestrictedBackoff = 24 * time.Hour

var serverCodeRE = regexp.MustCompile(`server returned error (\d+)`)

// serverCode is the ack error code of a send WhatsApp refused, or 0.
func serverCode(err error) int {
	if !errors.Is(err, whatsmeow.ErrServerReturnedError) {
		return 0
	}
	m := serverCodeRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// restricted holds msg as a first contact if err is a restriction; it
// reports whether it did.
func (s *sender) restricted(ctx context.Context, msg *store.Message, err error) bool {
	code := serverCode(err)
	if !restrictionCodes[code] {
		return false
	}
	i := s.inst
	backoff := i.m.opts.RestrictedBackoff
	if backoff <= 0 {
		backoff = defaultRestrictedBackoff
	}
	until := time.Now().Add(backoff).UTC().Truncate(time.Second)
	data, _ := json.Marshal(event.Restricted{Until: until, Code: code, MessageID: msg.ID, Chat: msg.Chat})
	held, herr := i.m.store.HoldFirstContact(ctx, i.id, msg.ID, until, data)
	if herr != nil {
		i.log.Error("cannot hold a refused first contact", "id", msg.ID, "err", herr)
		return false
	}
	if !held {
		return false // a known chat: an ordinary failure
	}
	i.log.Warn("WhatsApp restricts first contacts; holding them", "code", code, "until", until, "id", msg.ID)
	i.post(func() {
		i.showRestriction(until)
		i.queueChanged()
	})
	return true
}

// showRestriction shows a restriction of a connected instance as its
// reason, with until, and ends it then (reason restriction_ended). A zero
// until reads the stored one: after a login the restriction is shown
// again.
func (i *instance) showRestriction(until time.Time) {
	if until.IsZero() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		u, err := i.m.store.RestrictedUntil(ctx, i.id)
		cancel()
		if err != nil || !u.After(time.Now()) {
			return
		}
		until = u
	}
	if i.row.State != event.StateConnected {
		return
	}
	i.setStateUntil(event.StateConnected, event.ReasonRestricted, until)
	if i.restrictEnd != nil {
		i.restrictEnd.Stop()
	}
	i.restrictEnd = time.AfterFunc(time.Until(until), func() {
		i.post(func() {
			if i.row.State == event.StateConnected && i.row.Reason == event.ReasonRestricted && !time.Now().Before(i.until) {
				i.setState(event.StateConnected, event.ReasonRestrictionEnded)
				i.queueChanged()
			}
		})
	})
}

// heardFrom is called for each new incoming message: a person who writes
// is no stranger any more, so first contacts held for that chat may go.
// The sender looks again only while the governor can hold anything (a
// claim costs a write transaction).
func (i *instance) heardFrom(group bool) {
	if !group && i.sender != nil && (i.settings.MaxFirstContacts > 0 || i.row.Reason == event.ReasonRestricted) {
		i.sender.poke()
	}
}
