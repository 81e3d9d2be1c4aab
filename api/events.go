package api

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// render is ev as GET …/events and the SSE stream show it.
func (h *handler) render(ev store.Event) event.Envelope {
	// The name comes from the published snapshot: Manager.NameOf reads the
	// row the instance's goroutine writes, a data race.
	name := ""
	if info, err := h.m.Get(ev.InstanceID); err == nil {
		name = info.Name
	}
	return ev.Envelope(name)
}

func parseAfter(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, &Error{Status: http.StatusUnprocessableEntity, Code: codeInvalid, Message: "after must be an event id",
			Fields: map[string]string{"after": "must be a non-negative integer event id"}}
	}
	return n, nil
}

func (h *handler) instanceEvents(w http.ResponseWriter, r *http.Request, c *caller) error {
	info, err := h.m.Get(c.target)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	after, err := parseAfter(q.Get("after"))
	if err != nil {
		return err
	}
	limit := store.DefaultEventLimit
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxEventLimit {
			return &Error{Status: http.StatusUnprocessableEntity, Code: codeInvalid, Message: "bad limit",
				Fields: map[string]string{"limit": fmt.Sprintf("must be between 1 and %d", store.MaxEventLimit)}}
		}
		limit = n
	}
	evs, err := h.m.Events(r.Context(), info.ID, after, limit)
	if err != nil {
		return err
	}
	out := make([]event.Envelope, len(evs))
	for i, ev := range evs {
		out[i] = h.render(ev)
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
	return nil
}

// stream serves the event log as Server-Sent Events: from Last-Event-ID (or
// ?after=) if given, else from now on, until the client goes away.
func (h *handler) stream(w http.ResponseWriter, r *http.Request, c *caller) error {
	q := r.URL.Query()
	only := ""
	if name := q.Get("instance"); name != "" {
		info, err := h.m.Get(name)
		if err != nil || !c.canSee(info.ID) {
			return errNoInstance
		}
		only = info.ID
	}
	if !c.admin {
		only = c.instance.ID
	}
	var types map[string]bool
	if t := q.Get("types"); t != "" {
		types = map[string]bool{}
		for _, s := range strings.Split(t, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(event.Types, s) {
				return &Error{Status: http.StatusUnprocessableEntity, Code: codeInvalid, Message: "bad query",
					Fields: map[string]string{"types": fmt.Sprintf("unknown event type %q; known: %s", s, strings.Join(event.Types, ", "))}}
			}
			types[s] = true
		}
	}
	resume := r.Header.Get("Last-Event-ID")
	if resume == "" {
		resume = q.Get("after")
	}
	var after int64
	if resume != "" {
		var err error
		if after, err = parseAfter(resume); err != nil {
			return err
		}
	} else {
		last, err := h.m.LastEventID(r.Context())
		if err != nil {
			return err
		}
		after = last
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		// No body will be read: a stream would hold the connection forever.
		return nil
	}
	_, _ = fmt.Fprint(w, "retry: 2000\n\n")
	_ = rc.Flush()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	var buf []byte // one event's frame, reused
	for {
		notify := h.m.EventsNotify()
		evs, err := h.m.Events(r.Context(), only, after, 500)
		if err != nil {
			return nil // the client is gone or the store is closing
		}
		for _, ev := range evs {
			after = ev.ID
			if types != nil && !types[ev.Type] {
				continue
			}
			buf = appendSSE(buf[:0], h.render(ev))
			if _, err := w.Write(buf); err != nil {
				return nil
			}
		}
		if len(evs) > 0 {
			if rc.Flush() != nil {
				return nil
			}
			if len(evs) == 500 {
				continue
			}
		}
		select {
		case <-notify:
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil || rc.Flush() != nil {
				return nil
			}
		case <-r.Context().Done():
			return nil
		}
	}
}

// appendSSE appends the stream's frame of e: its id, its type and the
// envelope as data.
func appendSSE(b []byte, e event.Envelope) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, e.ID, 10)
	b = append(b, "\nevent: "...)
	b = append(b, e.Type...)
	b = append(b, "\ndata: "...)
	b = e.AppendJSON(b)
	return append(b, "\n\n"...)
}
