package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StreamOptions select what GET /v1/events sends.
type StreamOptions struct {
	// Instance limits the stream to one instance (a token sees only its
	// own anyway).
	Instance string
	// Types limits the stream to these event types.
	Types []string
	// LastEventID resumes after this event id; "" starts from now.
	LastEventID string
}

// Stream reads the Server-Sent Events stream. When the connection drops it
// reconnects, after the server's retry delay, with Last-Event-ID, so no
// event is missed or repeated. It is not safe for concurrent use.
type Stream struct {
	c      *Client
	ctx    context.Context
	cancel context.CancelFunc
	opts   StreamOptions
	lastID string
	retry  time.Duration
	body   io.ReadCloser
	rd     *bufio.Reader
}

// Stream opens the event stream. The first connection is made here, so a
// bad key or option is reported at once; ctx bounds the whole stream.
func (c *Client) Stream(ctx context.Context, opts StreamOptions) (*Stream, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &Stream{c: c, ctx: ctx, cancel: cancel, opts: opts, lastID: opts.LastEventID, retry: 2 * time.Second}
	if err := s.connect(); err != nil {
		cancel()
		return nil, err
	}
	return s, nil
}

// LastEventID is the id of the last event Next returned.
func (s *Stream) LastEventID() string { return s.lastID }

func (s *Stream) connect() error {
	path := "/v1/events" + query("instance", s.opts.Instance, "types", strings.Join(s.opts.Types, ","))
	req, err := http.NewRequestWithContext(s.ctx, http.MethodGet, s.c.base+path, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if s.c.auth != nil {
		req.Header["Authorization"] = s.c.auth
	}
	req.Header.Set("Accept", "text/event-stream")
	if s.lastID != "" {
		req.Header.Set("Last-Event-ID", s.lastID)
	}
	resp, err := s.c.stream.Do(req)
	if err != nil {
		if s.ctx.Err() != nil {
			return s.ctx.Err()
		}
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		return decodeError(resp, data)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		return fmt.Errorf("GET %s: answer is %q, not an event stream", path, ct)
	}
	s.body, s.rd = resp.Body, bufio.NewReader(resp.Body)
	return nil
}

// Next returns the next event, waiting for it. It reconnects when the
// connection drops; it returns an error when ctx is done or Close was
// called (the context's error), or when the server refuses a reconnection
// (an *Error).
func (s *Stream) Next() (*Event, error) {
	for {
		if s.body == nil {
			if err := s.reconnect(); err != nil {
				return nil, err
			}
		}
		ev, err := s.read()
		if err == nil {
			s.lastID = ev.ID
			return ev, nil
		}
		s.body.Close()
		s.body, s.rd = nil, nil
		if s.ctx.Err() != nil {
			return nil, s.ctx.Err()
		}
	}
}

// reconnect waits the retry delay and connects again; transport errors are
// retried until ctx is done.
func (s *Stream) reconnect() error {
	for {
		t := time.NewTimer(s.retry)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return s.ctx.Err()
		case <-t.C:
		}
		err := s.connect()
		var ae *Error
		if err == nil || errors.As(err, &ae) || s.ctx.Err() != nil {
			return err
		}
	}
}

// read parses one event off the stream.
func (s *Stream) read() (*Event, error) {
	var id, typ string
	var data []byte
	for {
		line, err := s.rd.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long data line: gather it whole.
			rest, err2 := s.rd.ReadBytes('\n')
			line, err = append(bytes.Clone(line), rest...), err2
		}
		if err != nil {
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if data == nil {
				continue // a retry field or a ping ended here
			}
			ev := &Event{}
			if err := json.Unmarshal(data, ev); err != nil {
				return nil, fmt.Errorf("event %s: %w", id, err)
			}
			if ev.ID == "" {
				ev.ID = id
			}
			if ev.Type == "" {
				ev.Type = typ
			}
			return ev, nil
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "": // a comment: ": ping"
		case "id":
			id = string(value)
		case "event":
			typ = string(value)
		case "data":
			if data != nil {
				data = append(data, '\n')
			}
			data = append(data, value...)
		case "retry":
			if ms, err := strconv.Atoi(string(value)); err == nil && ms >= 0 {
				s.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

// Close ends the stream; a Next in progress (in another goroutine)
// returns context.Canceled.
func (s *Stream) Close() error {
	s.cancel()
	return nil
}
