package event

import "time"

// Event types of groups and presence (the groups issue).
const (
	TypeGroupJoined       = "group.joined"
	TypeGroupLeft         = "group.left"
	TypeGroupParticipants = "group.participants"
	TypeGroupUpdated      = "group.updated"
	TypePresence          = "presence"
)

// Person names someone the way every event does: the phone number (+E164)
// and its JID, and the LID when known. One of Phone and LID may be empty
// while WhatsApp has not told us the other.
type Person struct {
	Phone string `json:"phone,omitempty"` // +E164
	JID   string `json:"jid,omitempty"`   // the phone JID (…@s.whatsapp.net)
	LID   string `json:"lid,omitempty"`   // …@lid
}

// Group is a group as the API shows it.
type Group struct {
	JID          string             `json:"jid"`
	Subject      string             `json:"subject"`
	Description  string             `json:"description,omitempty"`
	Owner        *Person            `json:"owner,omitempty"`
	CreatedAt    *time.Time         `json:"created_at,omitempty"`
	Announce     bool               `json:"announce"`
	Locked       bool               `json:"locked"`
	Participants []GroupParticipant `json:"participants,omitempty"`
	Count        int                `json:"participants_count"`
	IsAdmin      bool               `json:"is_admin"` // this instance is an admin
}

// GroupParticipant is a member of a group, or the result of a change
// about one (Result is set then).
type GroupParticipant struct {
	Person
	Admin      bool   `json:"admin"`
	SuperAdmin bool   `json:"super_admin"`
	Result     string `json:"result,omitempty"` // added, removed, promoted, demoted, not_on_whatsapp, …
	Error      int    `json:"error,omitempty"`  // WhatsApp's code for a failed change
}

// GroupChange is the data of group.joined, group.left, group.participants
// and group.updated events.
type GroupChange struct {
	Group        string   `json:"group"` // the group JID
	Subject      string   `json:"subject,omitempty"`
	By           *Person  `json:"by,omitempty"`
	Action       string   `json:"action,omitempty"` // group.participants: add, remove, promote, demote
	Participants []Person `json:"participants,omitempty"`
	Reason       string   `json:"reason,omitempty"`
	// group.updated: what changed (only the fields that did).
	NewSubject     *string   `json:"new_subject,omitempty"`
	NewDescription *string   `json:"new_description,omitempty"`
	Announce       *bool     `json:"announce,omitempty"`
	Locked         *bool     `json:"locked,omitempty"`
	At             time.Time `json:"at"`
}

// Presence is the data of a presence event.
type Presence struct {
	From     Person     `json:"from"`
	Chat     string     `json:"chat,omitempty"`      // for typing states: the chat (a group for group typing)
	State    string     `json:"state"`               // available, unavailable, composing, recording, paused
	LastSeen *time.Time `json:"last_seen,omitempty"` // with unavailable, when the contact shares it
	At       time.Time  `json:"at"`
}

// Receipt is one recipient's receipt of a group message.
type Receipt struct {
	Person
	Status string    `json:"status"` // delivered, read, played
	At     time.Time `json:"at"`
}
