package api

import (
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/meowgate/meowgate/event"
)

// messageMedia is GET …/messages/{id}/media: the file of a media message,
// with Range and If-Modified-Since (http.ServeContent).
func (h *handler) messageMedia(w http.ResponseWriter, r *http.Request, c *caller) error {
	id := r.PathValue("id")
	// Opening may download the file from WhatsApp first (and ask the phone
	// to upload it again when WhatsApp's copy has expired).
	ctx, cancel := withTimeout(r, 2*time.Minute)
	defer cancel()
	msg, err := h.m.Message(ctx, c.target, id)
	if err != nil {
		return err
	}
	f, err := h.m.OpenMedia(ctx, c.target, id)
	if err != nil {
		return err
	}
	defer f.Close()

	hd := w.Header()
	ct := f.Mimetype
	if ct == "" {
		ct = "application/octet-stream"
	}
	hd.Set("Content-Type", ct)
	// The file is whatever a contact sent: never sniffed into something
	// else, and never able to run script on the console's origin.
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "sandbox")
	hd.Set("Content-Disposition", disposition(msg.Type, ct, f.FileName))
	// The server's write timeout suits JSON, not a large video to a slow
	// client: allow a minute plus a second per 256 KiB.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute + time.Duration(f.Size>>18)*time.Second))
	http.ServeContent(w, r, f.FileName, f.ModTime, f)
	return nil
}

// disposition is the Content-Disposition of a message's file: documents,
// and any type a browser could do more with than show, are attachments.
func disposition(msgType, mimetype, name string) string {
	kind := "inline"
	if msgType == event.MsgDocument || !inlineSafe(mimetype) {
		kind = "attachment"
	}
	if name == "" {
		return kind
	}
	if v := mime.FormatMediaType(kind, map[string]string{"filename": name}); v != "" {
		return v
	}
	return kind // a name mime cannot encode (control characters) is left out
}

// inlineSafe reports whether a browser may show the type in place: plain
// images, audio and video; not SVG, HTML or PDF.
func inlineSafe(mimetype string) bool {
	mt, _, _ := mime.ParseMediaType(mimetype)
	switch mt {
	case "image/jpeg", "image/png", "image/gif", "image/webp":
		return true
	}
	return strings.HasPrefix(mt, "audio/") || strings.HasPrefix(mt, "video/")
}
