package event

import (
	"encoding/json"
	"time"
)

// State is the data of an instance.state event. The fields are in key
// order: the event was first written from a map, and stored events keep
// that encoding.
type State struct {
	Connection string    `json:"connection"`
	Previous   string    `json:"previous"` // the state last recorded before this one
	Reason     string    `json:"reason"`
	Since      time.Time `json:"since"`
	State      string    `json:"state"`
	// Until is when a temporary ban or a restriction ends (reasons
	// temporarily_banned, restricted); absent otherwise.
	Until *time.Time `json:"until,omitempty"`
}

// QR is the data of an instance.qr event.
type QR struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Message is a message as the API shows it, and the data of the
// message.received, message.sent and message.echo events.
type Message struct {
	ID            string          `json:"id"`
	Instance      string          `json:"instance"`
	Direction     string          `json:"direction"`
	From          string          `json:"from,omitempty"`
	To            string          `json:"to,omitempty"`
	Chat          string          `json:"chat"`
	Type          string          `json:"type"`
	Text          string          `json:"text"`
	Summary       json.RawMessage `json:"summary,omitempty"`
	Media         *Media          `json:"media,omitempty"`
	Location      *Location       `json:"location,omitempty"`
	Contacts      []Contact       `json:"contacts,omitempty"`
	Reaction      *Reaction       `json:"reaction,omitempty"`
	Poll          *Poll           `json:"poll,omitempty"`
	Reactions     []ReactionBy    `json:"reactions,omitempty"`
	Sender        *Person         `json:"sender,omitempty"`   // who wrote a received message: phone and LID
	Receipts      []Receipt       `json:"receipts,omitempty"` // a group message: each recipient's latest receipt
	Mentions      []string        `json:"mentions,omitempty"`
	Edited        bool            `json:"edited,omitempty"`
	Revoked       bool            `json:"revoked,omitempty"`
	ReplyTo       string          `json:"reply_to,omitempty"`
	SendAt        *time.Time      `json:"send_at,omitempty"`
	HeldUntil     *time.Time      `json:"held_until,omitempty"` // a queued first contact waits until then
	Status        string          `json:"status"`
	Error         string          `json:"error,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	SentAt        *time.Time      `json:"sent_at,omitempty"`
	StatusHistory []StatusChange  `json:"status_history,omitempty"`
}

// StatusChange is one entry of a message's status history.
type StatusChange struct {
	Status string    `json:"status"`
	Error  string    `json:"error,omitempty"`
	At     time.Time `json:"at"`
}

// MessageStatus is the data of a message.status event.
type MessageStatus struct {
	ID     string    `json:"id"`
	Chat   string    `json:"chat"`
	Status string    `json:"status"`
	Error  string    `json:"error,omitempty"`
	At     time.Time `json:"at"`
}

// Call is the data of a call.received event (fields in key order, as
// State's).
type Call struct {
	At       time.Time `json:"at"`
	CallID   string    `json:"call_id"`
	From     string    `json:"from"`     // +E164
	FromJID  string    `json:"from_jid"` // the caller's JID
	Rejected bool      `json:"rejected"` // rejected by the reject_calls setting
}

// WebhookDisabled is the data of a webhook.disabled event (fields in key
// order, as State's).
type WebhookDisabled struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	URL    string    `json:"url"` // credentials masked
}
