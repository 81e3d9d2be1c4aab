package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"time"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// defaultIncludeMediaMax caps a file put inline when Options says nothing.
const defaultIncludeMediaMax = 5 << 20

// withMedia puts the file of a message event inline as media.base64 (for
// webhooks with include_media). The file is read at delivery, not stored
// in the event log: a file that cannot be had now (too large, or not
// downloadable) leaves the event as it is, with its media URL.
func (r *runner) withMedia(ctx context.Context, ev store.Event) store.Event {
	switch ev.Type {
	case event.TypeMessageReceived, event.TypeMessageSent, event.TypeMessageEcho:
	default:
		return ev
	}
	var probe struct {
		ID    string       `json:"id"`
		Media *event.Media `json:"media"`
	}
	if json.Unmarshal(ev.Data, &probe) != nil || probe.Media == nil {
		return ev
	}
	b64, ok := r.mediaBase64(ctx, probe.ID, probe.Media.Size)
	if !ok {
		return ev
	}
	var data map[string]json.RawMessage
	var md map[string]json.RawMessage
	if json.Unmarshal(ev.Data, &data) != nil || json.Unmarshal(data["media"], &md) != nil {
		return ev
	}
	md["base64"], _ = json.Marshal(b64)
	data["media"], _ = json.Marshal(md)
	out, err := json.Marshal(data)
	if err != nil {
		return ev
	}
	ev.Data = out
	return ev
}

// mediaBase64 reads the file of message id (of the size its event says)
// as base64; false when it is over the inline limit or cannot be had now.
func (r *runner) mediaBase64(ctx context.Context, id string, size int64) (string, bool) {
	limit := r.w.opts.IncludeMediaMax
	if limit == 0 {
		limit = defaultIncludeMediaMax
	} else if limit < 0 {
		return "", false
	}
	if size > limit {
		return "", false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	f, err := r.w.m.OpenMedia(ctx, r.id, id)
	if err != nil {
		r.w.log.Info("webhook: media not inlined", "id", id, "err", err)
		return "", false
	}
	defer f.Close()
	if f.Size > limit {
		return "", false
	}
	var b64 bytes.Buffer
	enc := base64.NewEncoder(base64.StdEncoding, &b64)
	if _, err := io.Copy(enc, io.LimitReader(f, limit)); err != nil {
		return "", false
	}
	enc.Close()
	return b64.String(), true
}
