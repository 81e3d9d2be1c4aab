package instance

import "maps"

// SettingsPatch is a partial change of Settings: nil fields stay as they
// are. Its fields are Settings' fields, in the same order.
type SettingsPatch struct {
	RejectCalls       *bool
	RejectCallMessage *string
	IgnoreGroups      *bool
	IgnoreBroadcasts  *bool
	AlwaysOnline      *bool
	MarkRead          *bool
	MarkReadOnReply   *bool
	ReadStatus        *bool
	SyncFullHistory   *bool
	SendDelayMS       *int64
	SendJitterMS      *int64
	TypingSimulation  *bool
	QueueTTL          *string
	AutoDownload      *bool
	MaxDownloadMB     *int64
	MaxFirstContacts  *int64
}

// Apply returns s with the patch's fields set.
func (p *SettingsPatch) Apply(s Settings) Settings {
	set(&s.RejectCalls, p.RejectCalls)
	set(&s.RejectCallMessage, p.RejectCallMessage)
	set(&s.IgnoreGroups, p.IgnoreGroups)
	set(&s.IgnoreBroadcasts, p.IgnoreBroadcasts)
	set(&s.AlwaysOnline, p.AlwaysOnline)
	set(&s.MarkRead, p.MarkRead)
	set(&s.MarkReadOnReply, p.MarkReadOnReply)
	set(&s.ReadStatus, p.ReadStatus)
	set(&s.SyncFullHistory, p.SyncFullHistory)
	set(&s.SendDelayMS, p.SendDelayMS)
	set(&s.SendJitterMS, p.SendJitterMS)
	set(&s.TypingSimulation, p.TypingSimulation)
	set(&s.QueueTTL, p.QueueTTL)
	set(&s.AutoDownload, p.AutoDownload)
	set(&s.MaxDownloadMB, p.MaxDownloadMB)
	set(&s.MaxFirstContacts, p.MaxFirstContacts)
	return s
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// WebhookPatch is a partial change of a Webhook: nil fields stay as they
// are. A URL, header value or secret equal to its masked form (Mask) keeps
// the stored one, so a view sent back unchanged loses nothing.
type WebhookPatch struct {
	URL *string
	// Enabled nil leaves it, except that a webhook without a URL that gets
	// one is turned on.
	Enabled *bool
	Secret  *string
	// Headers are merged into the stored ones (after ClearHeaders).
	Headers      map[string]string
	ClearHeaders bool
	// Events nil leaves them; pointing at a nil slice clears them.
	Events       *[]string
	IncludeMedia *bool
	Format       *string // "" or FormatEvolution
	ByEvents     *bool
}

// Apply returns w with the patch applied.
func (p *WebhookPatch) Apply(w Webhook) Webhook {
	old := w
	set(&w.URL, p.URL)
	set(&w.Enabled, p.Enabled)
	set(&w.Secret, p.Secret)
	set(&w.IncludeMedia, p.IncludeMedia)
	set(&w.Format, p.Format)
	set(&w.ByEvents, p.ByEvents)
	if p.Events != nil {
		w.Events = *p.Events
	}
	if p.ClearHeaders {
		w.Headers = nil
	}
	if len(p.Headers) > 0 {
		h := maps.Clone(w.Headers) // never into the stored map
		if h == nil {
			h = make(map[string]string, len(p.Headers))
		}
		maps.Copy(h, p.Headers)
		w.Headers = h
	}
	keepMaskedSecrets(&old, &w)
	if p.Enabled == nil && old.URL == "" && w.URL != "" {
		w.Enabled = true
	}
	return w
}

// applyInput applies partial settings, webhook and proxy changes onto the
// current values, collecting every problem into fields.
func applyInput(fields map[string]string, s *SettingsPatch, wp *WebhookPatch, proxyURL *string,
	settings *Settings, webhook *Webhook, proxy *string) {
	if s != nil {
		next := s.Apply(*settings)
		for k, v := range next.Validate() {
			fields["settings."+k] = v
		}
		*settings = next
	}
	if wp != nil {
		next := wp.Apply(*webhook)
		for k, v := range next.Validate() {
			fields[k] = v
		}
		*webhook = next
	}
	if proxyURL != nil {
		if msg := proxyProblem(*proxyURL); msg != "" {
			fields["proxy.url"] = msg
		} else if *proxyURL != *proxy && *proxyURL == MaskURL(*proxy) {
			// The masked form sent back unchanged: keep the password.
		} else {
			*proxy = *proxyURL
		}
	}
}
