package wasim

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.mau.fi/whatsmeow/types"
	waLog "go.mau.fi/whatsmeow/util/log"
)

// What the simulator saw the clients do, for tests and the sandbox.
type (
	// Presence is a presence a linked device sent (available/unavailable).
	Presence struct {
		Device types.JID
		Type   string
		Name   string
		At     time.Time
	}
	// ChatState is a typing indicator a linked device sent.
	ChatState struct {
		Device types.JID
		To     string
		State  string // composing, paused, recording
		At     time.Time
	}
	// SentReceipt is a receipt a linked device sent for messages it got.
	SentReceipt struct {
		Device      types.JID
		To          string
		Participant string
		Type        string // "" (delivered), read, read-self, played, sender…
		IDs         []string
		At          time.Time
	}
	// CallReject is a linked device rejecting a call.
	CallReject struct {
		Device types.JID
		CallID string
		Caller string
		At     time.Time
	}
	// Rejected is a message the server refused (recipient not on WhatsApp).
	Rejected struct {
		Device types.JID
		ID     string
		To     string
	}
	// InboxMessage is a message a simulated phone received and decrypted.
	InboxMessage struct {
		ID         string    `json:"id"`
		From       string    `json:"from"`
		To         string    `json:"to,omitempty"` // for Echo: the chat the linked device sent to
		Text       string    `json:"text"`
		ReceivedAt time.Time `json:"received_at"`
		Echo       bool      `json:"echo,omitempty"`
		Duplicates int       `json:"duplicates,omitempty"`
		InboxRich
	}
	// InboxRich is what an inbox entry has beyond text: its kind, reply,
	// media (checked and decrypted by the phone), location, contact,
	// reaction, poll, and later edits and revokes.
	InboxRich struct {
		Type     string         `json:"type,omitempty"` // text, image, video, audio, document, sticker, location, contact, reaction, poll, poll_vote
		Group    string         `json:"group,omitempty"`
		QuotedID string         `json:"quoted_id,omitempty"`
		Mimetype string         `json:"mimetype,omitempty"`
		Size     int64          `json:"size,omitempty"`
		SHA256   string         `json:"sha256,omitempty"` // hex of the decrypted, verified file
		Caption  string         `json:"caption,omitempty"`
		FileName string         `json:"file_name,omitempty"`
		Seconds  uint32         `json:"seconds,omitempty"`
		PTT      bool           `json:"ptt,omitempty"`
		Width    uint32         `json:"width,omitempty"`
		Height   uint32         `json:"height,omitempty"`
		Location *InboxLocation `json:"location,omitempty"`
		Contact  *InboxContact  `json:"contact,omitempty"`
		Contacts []InboxContact `json:"contacts,omitempty"` // a contacts array message
		Reaction *InboxReaction `json:"reaction,omitempty"`
		Poll     *InboxPoll     `json:"poll,omitempty"`
		PollVote *InboxPollVote `json:"poll_vote,omitempty"`
		Edited   bool           `json:"edited,omitempty"`
		Revoked  bool           `json:"revoked,omitempty"`
	}
	InboxLocation struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name,omitempty"`
		Address   string  `json:"address,omitempty"`
	}
	InboxContact struct {
		DisplayName string `json:"display_name"`
		VCard       string `json:"vcard"`
	}
	InboxReaction struct {
		MessageID string `json:"message_id"`
		Emoji     string `json:"emoji"` // "" = reaction removed
	}
	InboxPoll struct {
		Question   string   `json:"question"`
		Options    []string `json:"options"`
		Selectable int      `json:"selectable"`
	}
	// InboxPollVote is a vote the phone decrypted with the poll's secret.
	InboxPollVote struct {
		MessageID string   `json:"message_id"`
		Options   []string `json:"options"`
	}
	// MediaFailure is a media message a phone received but could not
	// download or verify; it has no inbox entry.
	MediaFailure struct {
		Phone string
		ID    string
		Err   string
	}
)

type observations struct {
	presences         []Presence
	chatStates        []ChatState
	receipts          []SentReceipt
	callRejects       []CallReject
	rejected          []Rejected
	duplicates        map[string]int // "account/id" → resends
	decryptFailures   int
	mediaFailures     []MediaFailure
	uploadsRefused    int
	mediaRetries      int
	logins            map[string]int // device JID → successful logins
	loginAttempts     map[string]int // device JID → logins tried, failed ones included
	refused           int            // websocket connections refused (RefuseConnections)
	phashMismatches   int            // group messages sent with a stale phash
	simDeviceMessages map[string]int // contacts' extra devices: messages decrypted
}

func (s *Server) record(f func(*observations)) {
	s.mu.Lock()
	f(&s.obs)
	s.notify()
	s.mu.Unlock()
}

func (s *Server) read(f func(*observations)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.obs)
}

func matchAccount(dev types.JID, phone string) bool {
	d, err := normalizePhone(phone)
	return phone == "" || (err == nil && dev.User == d)
}

// ofAccount returns the observations made on an account's devices ("" for
// all accounts), copied under the simulator's lock.
func ofAccount[T any](s *Server, phone string, list func(*observations) []T, device func(T) types.JID) (out []T) {
	s.read(func(o *observations) {
		for _, x := range list(o) {
			if matchAccount(device(x), phone) {
				out = append(out, x)
			}
		}
	})
	return out
}

// Presences returns the presences sent by the linked devices of an account
// ("" for all accounts).
func (s *Server) Presences(phone string) []Presence {
	return ofAccount(s, phone, func(o *observations) []Presence { return o.presences }, func(p Presence) types.JID { return p.Device })
}

// ChatStates returns the typing indicators sent by an account's devices.
func (s *Server) ChatStates(phone string) []ChatState {
	return ofAccount(s, phone, func(o *observations) []ChatState { return o.chatStates }, func(c ChatState) types.JID { return c.Device })
}

// ReceiptsSent returns the receipts an account's devices sent.
func (s *Server) ReceiptsSent(phone string) []SentReceipt {
	return ofAccount(s, phone, func(o *observations) []SentReceipt { return o.receipts }, func(r SentReceipt) types.JID { return r.Device })
}

// CallRejects returns the calls an account's devices rejected.
func (s *Server) CallRejects(phone string) []CallReject {
	return ofAccount(s, phone, func(o *observations) []CallReject { return o.callRejects }, func(c CallReject) types.JID { return c.Device })
}

// RejectedMessages returns messages the server refused from an account.
func (s *Server) RejectedMessages(phone string) []Rejected {
	return ofAccount(s, phone, func(o *observations) []Rejected { return o.rejected }, func(r Rejected) types.JID { return r.Device })
}

// Duplicates is how many times an account resent a message id the server had
// already accepted.
func (s *Server) Duplicates(phone, id string) (n int) {
	d, _ := normalizePhone(phone)
	s.read(func(o *observations) { n = o.duplicates[d+"/"+id] })
	return n
}

// Logins is how many times a linked device logged in successfully (the
// login right after pairing included).
func (s *Server) Logins(device types.JID) (n int) {
	s.read(func(o *observations) { n = o.logins[device.String()] })
	return n
}

// LoginAttempts is how many times a client tried to log in as the device,
// including attempts refused with a <failure/> (unlinked, outdated).
func (s *Server) LoginAttempts(device types.JID) (n int) {
	s.read(func(o *observations) { n = o.loginAttempts[device.String()] })
	return n
}

// RefusedConnections counts the websocket connections refused while
// RefuseConnections was in effect.
func (s *Server) RefusedConnections() (n int) {
	s.read(func(o *observations) { n = o.refused })
	return n
}

// DecryptFailures counts messages a simulated phone could not decrypt.
func (s *Server) DecryptFailures() (n int) {
	s.read(func(o *observations) { n = o.decryptFailures })
	return n
}

// MediaFailures returns the media messages the phone of a number ("" for
// all) could not download, check or decrypt.
func (s *Server) MediaFailures(phone string) (out []MediaFailure) {
	d, _ := normalizePhone(phone)
	s.read(func(o *observations) {
		for _, f := range o.mediaFailures {
			if phone == "" || f.Phone == d {
				out = append(out, f)
			}
		}
	})
	return out
}

// recordInbox stores a message a phone decrypted; it reports false for an id
// the phone already had.
func (s *Server) recordInbox(ctx context.Context, u *user, m InboxMessage) bool {
	chat := m.To
	extra, err := json.Marshal(m.InboxRich)
	if err != nil {
		s.log.Error("wasim: inbox", "err", err)
		return false
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO wasim_inbox (phone, sender, id, chat, text, received_at, extra) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO UPDATE SET dups = dups + 1`, u.phone, m.From, m.ID, chat, m.Text, m.ReceivedAt.UnixMilli(), string(extra))
	if err != nil {
		s.log.Error("wasim: inbox", "err", err)
		return false
	}
	_ = res
	var dups int
	_ = s.db.QueryRowContext(ctx, `SELECT dups FROM wasim_inbox WHERE phone = ? AND sender = ? AND id = ?`, u.phone, m.From, m.ID).Scan(&dups)
	s.mu.Lock()
	s.notify()
	s.mu.Unlock()
	return dups == 0
}

// Inbox returns what the phone of a number received and decrypted, oldest
// first: messages from others, and (Echo) copies of what its own linked
// devices sent.
func (s *Server) Inbox(phone string) ([]InboxMessage, error) {
	d, err := normalizePhone(phone)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(s.ctx, `SELECT sender, id, chat, text, received_at, dups, extra FROM wasim_inbox WHERE phone = ? ORDER BY received_at, rowid`, d)
	if err != nil {
		return nil, fmt.Errorf("wasim: inbox: %w", err)
	}
	defer rows.Close()
	out := []InboxMessage{}
	for rows.Next() {
		var m InboxMessage
		var at int64
		var extra string
		if err := rows.Scan(&m.From, &m.ID, &m.To, &m.Text, &at, &m.Duplicates, &extra); err != nil {
			return nil, fmt.Errorf("wasim: inbox: %w", err)
		}
		if extra != "" {
			if err := json.Unmarshal([]byte(extra), &m.InboxRich); err != nil {
				return nil, fmt.Errorf("wasim: inbox: %w", err)
			}
		}
		m.ReceivedAt = time.UnixMilli(at)
		m.Echo = m.To != ""
		out = append(out, m)
	}
	return out, rows.Err()
}

// waLogger adapts slog to whatsmeow's logger interface.
func waLogger(l *slog.Logger) waLog.Logger { return slogAdapter{l} }

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Errorf(msg string, args ...any) { a.l.Error(fmt.Sprintf(msg, args...)) }
func (a slogAdapter) Warnf(msg string, args ...any)  { a.l.Warn(fmt.Sprintf(msg, args...)) }
func (a slogAdapter) Infof(msg string, args ...any)  { a.l.Debug(fmt.Sprintf(msg, args...)) }
func (a slogAdapter) Debugf(msg string, args ...any) { a.l.Debug(fmt.Sprintf(msg, args...)) }
func (a slogAdapter) Sub(module string) waLog.Logger {
	return slogAdapter{a.l.With("module", strings.ToLower(module))}
}
