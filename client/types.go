package client

import (
	"encoding/json"
	"time"

	"github.com/meowgate/meowgate/event"
)

// Instance states (design.md "Instance states"), from the event
// vocabulary the server uses (package event imports nothing else).
const (
	StateCreated      = event.StateCreated
	StateStarting     = event.StateStarting
	StateScanQR       = event.StateScanQR
	StateConnected    = event.StateConnected
	StateDisconnected = event.StateDisconnected
	StateFailed       = event.StateFailed
	StateLoggedOut    = event.StateLoggedOut
)

// Some reasons a state change carries.
const (
	ReasonUserRequest    = event.ReasonUserRequest
	ReasonNetwork        = event.ReasonNetwork
	ReasonStreamReplaced = event.ReasonStreamReplaced
	ReasonRemoteLogout   = event.ReasonRemoteLogout
	ReasonQRTimeout      = event.ReasonQRTimeout
	ReasonClientOutdated = event.ReasonClientOutdated
	ReasonProxyError     = event.ReasonProxyError
)

// Message statuses.
const (
	StatusQueued    = event.StatusQueued
	StatusSending   = event.StatusSending
	StatusSent      = event.StatusSent
	StatusDelivered = event.StatusDelivered
	StatusRead      = event.StatusRead
	StatusPlayed    = event.StatusPlayed
	StatusFailed    = event.StatusFailed
	StatusExpired   = event.StatusExpired
	StatusCanceled  = event.StatusCanceled
	StatusReceived  = event.StatusReceived
)

// Event types.
const (
	EventInstanceState   = event.TypeState
	EventInstanceQR      = event.TypeQR
	EventMessageReceived = event.TypeMessageReceived
	EventMessageSent     = event.TypeMessageSent
	EventMessageStatus   = event.TypeMessageStatus
	EventMessageEcho     = event.TypeMessageEcho
	EventCallReceived    = event.TypeCallReceived
	EventWebhookDisabled = event.TypeWebhookDisabled
)

// Error codes.
const (
	CodeBadRequest       = "bad_request"
	CodeUnauthorized     = "unauthorized"
	CodeNotFound         = "not_found"
	CodeConflict         = "conflict"
	CodeAlreadyConnected = "already_connected"
	CodeNotConnected     = "not_connected"
	CodeNotPaired        = "not_paired"
	CodeNotAwaitingQR    = "not_awaiting_qr"
	CodeNotEditable      = "not_editable"
	CodeTooLarge         = "too_large"
	CodeInvalid          = "invalid"
	CodeRateLimited      = "rate_limited"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
)

// Instance is the instance object.
type Instance struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	DeviceName string      `json:"device_name"`
	State      string      `json:"state"`
	Connection string      `json:"connection"`
	Reason     string      `json:"reason"`
	Until      *time.Time  `json:"until,omitempty"` // end of a temporary ban or restriction
	Since      time.Time   `json:"since"`
	Phone      string      `json:"phone"`
	JID        string      `json:"jid"`
	PushName   string      `json:"push_name"`
	CreatedAt  time.Time   `json:"created_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
	Settings   Settings    `json:"settings"`
	Webhook    WebhookView `json:"webhook"`
	Proxy      Proxy       `json:"proxy"`
	Counts     struct {
		Messages int `json:"messages"`
		Chats    int `json:"chats"`
		Contacts int `json:"contacts"`
	} `json:"counts"`
	Queue struct {
		Pending int `json:"pending"`
	} `json:"queue"`
}

// State is the answer of GET …/state.
type State struct {
	Name       string    `json:"name"`
	State      string    `json:"state"`
	Connection string    `json:"connection"`
	Reason     string    `json:"reason"`
	Since      time.Time `json:"since"`
	Phone      string    `json:"phone"`
	JID        string    `json:"jid"`
	PushName   string    `json:"push_name"`
	// Until is the end of a temporary ban or restriction.
	Until *time.Time `json:"until,omitempty"`
}

// Settings are an instance's settings.
type Settings struct {
	RejectCalls       bool   `json:"reject_calls"`
	RejectCallMessage string `json:"reject_call_message"`
	IgnoreGroups      bool   `json:"ignore_groups"`
	IgnoreBroadcasts  bool   `json:"ignore_broadcasts"`
	AlwaysOnline      bool   `json:"always_online"`
	MarkRead          bool   `json:"mark_read"`
	MarkReadOnReply   bool   `json:"mark_read_on_reply"`
	ReadStatus        bool   `json:"read_status"`
	SyncFullHistory   bool   `json:"sync_full_history"`
	SendDelayMS       int64  `json:"send_delay_ms"`
	SendJitterMS      int64  `json:"send_jitter_ms"`
	TypingSimulation  bool   `json:"typing_simulation"`
	QueueTTL          string `json:"queue_ttl"`
	AutoDownload      bool   `json:"auto_download"`
	MaxDownloadMB     int64  `json:"max_download_mb"`
	MaxFirstContacts  int64  `json:"max_first_contacts_per_day"`
}

// Webhook is an instance's webhook as written; unset fields keep their
// value on update.
type Webhook struct {
	URL          string            `json:"url,omitempty"`
	Enabled      *bool             `json:"enabled,omitempty"`
	Secret       string            `json:"secret,omitempty"`
	Headers      map[string]string `json:"headers,omitempty"`
	Events       []string          `json:"events,omitempty"`
	IncludeMedia *bool             `json:"include_media,omitempty"`
}

// WebhookView is the webhook as the API shows it (the secret is write-only).
type WebhookView struct {
	URL          string            `json:"url"`
	Enabled      bool              `json:"enabled"`
	Events       []string          `json:"events"`
	Headers      map[string]string `json:"headers"`
	HasSecret    bool              `json:"has_secret"`
	IncludeMedia bool              `json:"include_media"`
}

// Proxy is an instance's proxy; the API masks its password.
type Proxy struct {
	URL string `json:"url"`
}

// QR is a QR code to scan.
type QR struct {
	Code      string    `json:"code"`
	PNGBase64 string    `json:"png_base64"`
	DataURI   string    `json:"data_uri"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Message is a message as the API shows it (the event vocabulary's
// message, which message.* events carry too).
type Message struct {
	event.Message
	// Replayed is set when the server answered a POST with an
	// Idempotency-Key it had seen: this is the first POST's message.
	Replayed bool `json:"-"`
}

// StatusChange is one entry of a message's status history.
type StatusChange = event.StatusChange

// Event is an entry of the event log, as GET …/events, the SSE stream and
// webhooks show it.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Instance  string          `json:"instance"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// Delivery is a webhook delivery.
type Delivery struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	LastStatusCode *int       `json:"last_status_code"`
	LastError      *string    `json:"last_error"`
	LastAttemptAt  *time.Time `json:"last_attempt_at"`
	CreatedAt      time.Time  `json:"created_at"`
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
	DeliveryDead      = "dead"
)
