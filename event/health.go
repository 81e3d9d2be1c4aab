package event

import "time"

// Restricted is the data of an instance.restricted event: WhatsApp refused
// a message to a chat that never wrote to the instance (a first contact),
// so first contacts are held until Until; replies keep flowing.
type Restricted struct {
	Until     time.Time `json:"until"`
	Code      int       `json:"code"`       // WhatsApp's error code, e.g. 463
	MessageID string    `json:"message_id"` // the refused message, queued again
	Chat      string    `json:"chat"`
}

// ClientVersion is the data of a system.client_version event: the
// WhatsApp Web version meowgate logs in with changed. It is a system-wide
// change, recorded once in the log of every instance (the event log is
// kept per instance), with the same data.
type ClientVersion struct {
	Version  string `json:"version"`  // e.g. "2.3000.1031999999"
	Previous string `json:"previous"` // the version used before
	Source   string `json:"source"`   // "fetched" (from web.whatsapp.com); a pinned version publishes none
	// Reconnecting is true for an instance that WhatsApp refused as
	// outdated and that logs in again with the new version.
	Reconnecting bool `json:"reconnecting"`
}
