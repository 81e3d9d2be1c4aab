package api

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meowgate/meowgate/instance"
)

// The JSON views of an instance (design.md "The instance object").

type instanceJSON struct {
	ID         string       `json:"id"`
	Name       string       `json:"name"`
	DeviceName string       `json:"device_name"`
	State      string       `json:"state"`
	Connection string       `json:"connection"`
	Reason     string       `json:"reason"`
	Until      *time.Time   `json:"until,omitempty"`
	Since      time.Time    `json:"since"`
	Phone      string       `json:"phone"`
	JID        string       `json:"jid"`
	PushName   string       `json:"push_name"`
	CreatedAt  time.Time    `json:"created_at"`
	UpdatedAt  time.Time    `json:"updated_at"`
	Settings   settingsJSON `json:"settings"`
	Webhook    webhookJSON  `json:"webhook"`
	Proxy      proxyJSON    `json:"proxy"`
	Counts     countsJSON   `json:"counts"`
	Queue      queueJSON    `json:"queue"`
}

// settingsJSON is instance.Settings with its JSON names; the conversion
// between the two keeps their fields in step.
type settingsJSON struct {
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

// webhookJSON is the webhook as shown: the secret is write-only.
type webhookJSON struct {
	URL          string            `json:"url"`
	Enabled      bool              `json:"enabled"`
	Events       []string          `json:"events"`
	Headers      map[string]string `json:"headers"`
	HasSecret    bool              `json:"has_secret"`
	IncludeMedia bool              `json:"include_media"`
}

type proxyJSON struct {
	URL string `json:"url"`
}

type countsJSON struct {
	Messages int `json:"messages"`
	Chats    int `json:"chats"`
	Contacts int `json:"contacts"`
}

type queueJSON struct {
	Pending int `json:"pending"`
}

// stateJSON is the body of GET …/state.
type stateJSON struct {
	Name       string    `json:"name"`
	State      string    `json:"state"`
	Connection string    `json:"connection"`
	Reason     string    `json:"reason"`
	Since      time.Time `json:"since"`
	Phone      string    `json:"phone"`
	JID        string    `json:"jid"`
	PushName   string    `json:"push_name"`

	Until *time.Time `json:"until,omitempty"` // a ban's or restriction's end
}

// viewInstance renders a snapshot, whose secrets the Manager masked.
func viewInstance(i *instance.Info) *instanceJSON {
	wh := webhookJSON{URL: i.Webhook.URL, Enabled: i.Webhook.Enabled, Events: i.Webhook.Events, Headers: i.Webhook.Headers,
		HasSecret: i.Webhook.Secret != "", IncludeMedia: i.Webhook.IncludeMedia}
	if wh.Events == nil {
		wh.Events = []string{}
	}
	return &instanceJSON{
		ID: i.ID, Name: i.Name, DeviceName: i.DeviceName, State: i.State, Connection: instance.Connection(i.State),
		Reason: i.Reason, Since: i.Since, Phone: i.Phone, JID: i.JID, PushName: i.PushName,
		CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt, Settings: settingsJSON(i.Settings), Webhook: wh,
		Proxy:  proxyJSON{URL: i.ProxyURL},
		Counts: countsJSON{Messages: i.Counts.Messages, Chats: i.Counts.Chats, Contacts: i.Counts.Contacts},
		Queue:  queueJSON{Pending: i.Counts.Pending},
		Until:  untilOf(i),
	}
}

// untilOf is the end of a ban or restriction, shown only while one is set.
func untilOf(i *instance.Info) *time.Time {
	if i.Until.IsZero() {
		return nil
	}
	u := i.Until.UTC()
	return &u
}

func viewState(i *instance.Info) stateJSON {
	return stateJSON{Name: i.Name, State: i.State, Connection: instance.Connection(i.State), Reason: i.Reason,
		Since: i.Since, Phone: i.Phone, JID: i.JID, PushName: i.PushName, Until: untilOf(i)}
}

// views caches encoded instances, so reads cost no encoding: one
// instance's encoding per snapshot (the Manager publishes a new *Info on
// every change and never changes one), and the admin's whole list per
// Manager.ListGen: with 100 instances the body is ~80 KB, and building it
// per request costs more than serving it.
type views struct {
	m    *instance.Manager
	byID sync.Map // instance id → *encoded
	list atomic.Pointer[listBody]
}

type encoded struct {
	info *instance.Info
	json []byte
}

type listBody struct {
	gen  uint64
	body []byte
}

// instance returns the encoding of i. The slice must not be modified.
func (v *views) instance(i *instance.Info) []byte {
	if e, ok := v.byID.Load(i.ID); ok && e.(*encoded).info == i {
		return e.(*encoded).json
	}
	b, _ := json.Marshal(viewInstance(i))
	v.byID.Store(i.ID, &encoded{info: i, json: b})
	return b
}

// listBody returns {"instances":[…]}\n with every instance. The slice must
// not be modified.
func (v *views) listBody() []byte {
	gen := v.m.ListGen() // before List: a change meanwhile makes the next call rebuild
	if c := v.list.Load(); c != nil && c.gen == gen {
		return c.body
	}
	infos := v.m.List()
	encs := make([][]byte, len(infos))
	size := len("{\"instances\":[]}\n")
	live := make(map[string]bool, len(infos))
	for n, i := range infos {
		encs[n] = v.instance(i)
		size += len(encs[n]) + 1
		live[i.ID] = true
	}
	v.byID.Range(func(id, _ any) bool {
		if !live[id.(string)] {
			v.byID.Delete(id) // deleted meanwhile
		}
		return true
	})
	b := make([]byte, 0, size)
	b = append(b, `{"instances":[`...)
	for n, e := range encs {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	b = append(b, "]}\n"...) // ready to serve as it is
	v.list.Store(&listBody{gen: gen, body: b})
	return b
}
