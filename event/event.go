// Package event is the vocabulary of the event log: the event types, the
// payload each carries as its data, and the envelope in which the API, the
// SSE stream and webhooks show an event. Adding an event type starts here.
//
// It imports nothing of meowgate: store, instance, webhook and api import it.
package event

// Event types.
const (
	TypeState           = "instance.state"
	TypeQR              = "instance.qr"
	TypeMessageReceived = "message.received"
	TypeMessageSent     = "message.sent"
	TypeMessageStatus   = "message.status"
	TypeMessageEcho     = "message.echo"
	TypeCallReceived    = "call.received"
	TypeReaction        = "message.reaction"
	TypeEdited          = "message.edited"
	TypeRevoked         = "message.revoked"
	TypePollVote        = "poll.vote"
	TypeWebhookDisabled = "webhook.disabled"
	// Account health (health.go).
	TypeRestricted    = "instance.restricted"
	TypeClientVersion = "system.client_version"
)

// Types lists every event type, in the order error messages name them
// (webhook filters and the SSE types query accept these).
var Types = []string{TypeState, TypeQR, TypeMessageReceived, TypeMessageSent, TypeMessageStatus, TypeMessageEcho, TypeCallReceived,
	TypeReaction, TypeEdited, TypeRevoked, TypePollVote,
	TypeGroupJoined, TypeGroupLeft, TypeGroupParticipants, TypeGroupUpdated, TypePresence, TypeWebhookDisabled, TypeRestricted, TypeClientVersion}

// States of an instance (design.md "Instance states"): the state and
// previous of an instance.state event.
const (
	StateCreated      = "created"
	StateStarting     = "starting"
	StateScanQR       = "scan_qr"
	StateConnected    = "connected"
	StateDisconnected = "disconnected"
	StateFailed       = "failed"
	StateLoggedOut    = "logged_out"
)

// Reasons an instance.state event carries (design.md "Instance states").
const (
	ReasonUserRequest      = "user_request"
	ReasonNetwork          = "network"
	ReasonStreamReplaced   = "stream_replaced"
	ReasonRemoteLogout     = "remote_logout"
	ReasonQRTimeout        = "qr_timeout"
	ReasonClientOutdated   = "client_outdated"
	ReasonProxyError       = "proxy_error"
	ReasonPaired           = "paired"
	ReasonLoggedIn         = "logged_in"
	ReasonShutdown         = "shutdown"
	ReasonRestart          = "restart"
	ReasonKeepaliveTimeout = "keepalive_timeout"
	ReasonTempBanned       = "temporarily_banned"
	ReasonConnectFailure   = "connect_failure"
	ReasonPairError        = "pair_error"
	ReasonDeviceMissing    = "device_missing"
	ReasonRedeliver        = "redeliver" // logged in anew for messages that could not be stored
	// Account health (health.go).
	ReasonRestricted           = "restricted"             // WhatsApp refuses first contacts for a while
	ReasonClientVersionUpdated = "client_version_updated" // logged in again with a new WhatsApp Web version
	ReasonBanned               = "banned"                 // WhatsApp banned the account (connect failure 406)
	ReasonLocked               = "locked"                 // WhatsApp locked the account or its main device is gone (403)
	ReasonBanExpired           = "ban_expired"            // reconnecting after a temporary ban
	ReasonRestrictionEnded     = "restriction_ended"      // first contacts may go again
)

// Message statuses. Outgoing messages move forward through queued, sending,
// sent, delivered, read/played, or end failed, expired or canceled;
// incoming ones are received, then read once we mark them read.
const (
	StatusQueued    = "queued"
	StatusSending   = "sending"
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusPlayed    = "played"
	StatusFailed    = "failed"
	StatusExpired   = "expired"
	StatusCanceled  = "canceled"
	StatusReceived  = "received"
)
