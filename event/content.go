package event

import "time"

// Message types (the type of a message and of POST …/messages).
const (
	MsgText     = "text"
	MsgImage    = "image"
	MsgVideo    = "video"
	MsgAudio    = "audio"
	MsgDocument = "document"
	MsgSticker  = "sticker"
	MsgLocation = "location"
	MsgContact  = "contact"
	MsgReaction = "reaction"
	MsgPoll     = "poll"
)

// IsMedia reports whether messages of type t carry a file.
func IsMedia(t string) bool {
	switch t {
	case MsgImage, MsgVideo, MsgAudio, MsgDocument, MsgSticker:
		return true
	}
	return false
}

// Media describes the file of a media message (sent or received).
type Media struct {
	Mimetype   string `json:"mimetype"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256"` // hex of the plain file
	FileName   string `json:"file_name,omitempty"`
	Caption    string `json:"caption,omitempty"`
	Seconds    uint32 `json:"seconds,omitempty"`
	PTT        bool   `json:"ptt,omitempty"`
	ViewOnce   bool   `json:"view_once,omitempty"`
	Width      uint32 `json:"width,omitempty"`
	Height     uint32 `json:"height,omitempty"`
	Downloaded bool   `json:"downloaded"` // the file is kept here and served at URL
	URL        string `json:"url"`        // the API path that streams the file
}

// Location is the content of a location message.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
}

// Contact is one card of a contact message.
type Contact struct {
	Name  string `json:"name"`
	Phone string `json:"phone,omitempty"` // +E164 when the card has one
	VCard string `json:"vcard,omitempty"`
}

// Reaction is the content of a reaction message.
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"` // "" removes the reaction
}

// Poll is the content of a poll message, with the votes it collected.
type Poll struct {
	Question   string       `json:"question"`
	Options    []PollOption `json:"options"`
	Selectable int          `json:"selectable"`
}

// PollOption is one option of a poll and who chose it.
type PollOption struct {
	Name   string   `json:"name"`
	Votes  int      `json:"votes"`
	Voters []string `json:"voters,omitempty"` // +E164 or JID
}

// ReactionEvent is the data of a message.reaction event.
type ReactionEvent struct {
	ID        string    `json:"id"`         // the reaction's own message id
	MessageID string    `json:"message_id"` // the message reacted to
	Chat      string    `json:"chat"`
	From      Person    `json:"from"`
	FromMe    bool      `json:"from_me"`
	Emoji     string    `json:"emoji"` // "" when the reaction was removed
	At        time.Time `json:"at"`
}

// Edited is the data of a message.edited event.
type Edited struct {
	MessageID string    `json:"message_id"`
	Chat      string    `json:"chat"`
	From      Person    `json:"from"`
	FromMe    bool      `json:"from_me"`
	Text      string    `json:"text"`
	At        time.Time `json:"at"`
}

// Revoked is the data of a message.revoked event.
type Revoked struct {
	MessageID string    `json:"message_id"`
	Chat      string    `json:"chat"`
	From      Person    `json:"from"`
	FromMe    bool      `json:"from_me"`
	At        time.Time `json:"at"`
}

// PollVote is the data of a poll.vote event: the voter's whole current
// choice (an empty list withdraws the vote).
type PollVote struct {
	PollID   string    `json:"poll_id"`
	Chat     string    `json:"chat"`
	Voter    Person    `json:"voter"`
	Selected []string  `json:"selected"`
	At       time.Time `json:"at"`
}

// ReactionBy is one person's reaction shown on a message.
type ReactionBy struct {
	From  string    `json:"from"` // +E164, JID, or "me"
	Emoji string    `json:"emoji"`
	At    time.Time `json:"at"`
}
