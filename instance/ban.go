package instance

import (
	"time"

	"go.mau.fi/whatsmeow/types/events"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// banRetryMin is how long a temporary ban without an expiry (or an
// already expired one) waits before logging in again.
const banRetryMin = time.Minute

// onTempBan handles WhatsApp's temporary ban (a connect failure 402 with a
// code and an expiry): the instance is failed with the ban's end as until,
// its queue waits (the sender runs only while logged in, so nothing is sent
// into the ban; queued messages wait or expire by queue_ttl), and it logs
// in again by itself once the ban is over.
func (i *instance) onTempBan(e *events.TemporaryBan) {
	i.stopClient()
	wait := e.Expire
	if wait <= 0 {
		wait = banRetryMin
	}
	until := time.Now().Add(wait).UTC().Truncate(time.Second)
	i.log.Warn("temporarily banned by WhatsApp", "code", int(e.Code), "why", e.Code.String(), "until", until)
	i.setStateUntil(event.StateFailed, event.ReasonTempBanned, until)
	if i.row.Desired != store.DesiredRunning {
		return
	}
	gen := i.gen
	i.retryTimer = time.AfterFunc(time.Until(until)+time.Second, func() {
		i.post(func() {
			if gen == i.gen && i.row.Desired == store.DesiredRunning {
				i.start(event.ReasonBanExpired)
			}
		})
	})
}

// logoutReason is the reason of a logout by WhatsApp, as WhatsApp gave it:
// a ban (406), a locked account (403), or a plain logout (401, or the
// device removed from the phone).
func logoutReason(e *events.LoggedOut) string {
	switch e.Reason {
	case events.ConnectFailureUnknownLogout: // "BANNED" in WhatsApp Web's code
		return event.ReasonBanned
	case events.ConnectFailureMainDeviceGone: // "LOCKED"
		return event.ReasonLocked
	}
	return event.ReasonRemoteLogout
}
