package instance

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// Settings are the per-instance behaviour switches of design.md's Settings
// table; the config file supplies the defaults for new instances.
type Settings struct {
	RejectCalls       bool   `toml:"reject_calls" json:"reject_calls"`
	RejectCallMessage string `toml:"reject_call_message" json:"reject_call_message"`
	IgnoreGroups      bool   `toml:"ignore_groups" json:"ignore_groups"`
	IgnoreBroadcasts  bool   `toml:"ignore_broadcasts" json:"ignore_broadcasts"`
	AlwaysOnline      bool   `toml:"always_online" json:"always_online"`
	MarkRead          bool   `toml:"mark_read" json:"mark_read"`
	MarkReadOnReply   bool   `toml:"mark_read_on_reply" json:"mark_read_on_reply"`
	ReadStatus        bool   `toml:"read_status" json:"read_status"`
	SyncFullHistory   bool   `toml:"sync_full_history" json:"sync_full_history"`
	SendDelayMS       int64  `toml:"send_delay_ms" json:"send_delay_ms"`
	SendJitterMS      int64  `toml:"send_jitter_ms" json:"send_jitter_ms"`
	TypingSimulation  bool   `toml:"typing_simulation" json:"typing_simulation"`
	QueueTTL          string `toml:"queue_ttl" json:"queue_ttl"` // Go duration, e.g. "24h"
	AutoDownload      bool   `toml:"auto_download" json:"auto_download"`
	MaxDownloadMB     int64  `toml:"max_download_mb" json:"max_download_mb"`
	// MaxFirstContacts caps messages to chats that never wrote to the
	// instance, per rolling day; 0 is off (governor.go).
	MaxFirstContacts int64 `toml:"max_first_contacts_per_day" json:"max_first_contacts_per_day"`
}

// Limits of the settings, shared by Validate and the docs.
const (
	maxSendPauseMS       = 86_400_000 // one day
	minQueueTTL          = time.Second
	maxQueueTTL          = 720 * time.Hour // 30 days
	maxRejectCallMessage = 4096            // characters
	maxDownloadMB        = 2048            // WhatsApp's largest file (a document)
	maxFirstContacts     = 100_000
)

// DefaultSettings returns the settings of design.md's Settings table.
func DefaultSettings() Settings {
	return Settings{SendDelayMS: 1000, QueueTTL: "24h", AutoDownload: true, MaxDownloadMB: 64}
}

// Validate returns one message per bad field, keyed by the field's JSON
// name, or nil. The map suits a 422 response's "fields".
func (s Settings) Validate() map[string]string {
	problems := map[string]string{}
	if s.SendDelayMS < 0 || s.SendDelayMS > maxSendPauseMS {
		problems["send_delay_ms"] = fmt.Sprintf("must be between 0 and %d", maxSendPauseMS)
	}
	if s.SendJitterMS < 0 || s.SendJitterMS > maxSendPauseMS {
		problems["send_jitter_ms"] = fmt.Sprintf("must be between 0 and %d", maxSendPauseMS)
	}
	if d, err := time.ParseDuration(s.QueueTTL); err != nil || d < minQueueTTL || d > maxQueueTTL {
		problems["queue_ttl"] = `must be a duration between 1s and 720h, e.g. "24h"`
	}
	if s.MaxDownloadMB < 1 || s.MaxDownloadMB > maxDownloadMB {
		problems["max_download_mb"] = fmt.Sprintf("must be between 1 and %d", maxDownloadMB)
	}
	if s.MaxFirstContacts < 0 || s.MaxFirstContacts > maxFirstContacts {
		problems["max_first_contacts_per_day"] = fmt.Sprintf("must be between 0 (off) and %d", maxFirstContacts)
	}
	if utf8.RuneCountInString(s.RejectCallMessage) > maxRejectCallMessage {
		problems["reject_call_message"] = fmt.Sprintf("must be at most %d characters", maxRejectCallMessage)
	}
	if len(problems) == 0 {
		return nil
	}
	return problems
}

// QueueTTLDuration is QueueTTL parsed; only meaningful on validated settings.
func (s Settings) QueueTTLDuration() time.Duration {
	d, _ := time.ParseDuration(s.QueueTTL)
	return d
}
