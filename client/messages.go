package client

import (
	"context"
	"net/http"
	"net/url"
)

// SendRequest is the body of POST …/messages: the common fields, then the
// fields of each type (design.md "Messages"). Unset fields are not sent.
type SendRequest struct {
	To       string   `json:"to"`
	Type     string   `json:"type,omitempty"` // default text; see the Msg* constants
	Text     string   `json:"text,omitempty"`
	ReplyTo  string   `json:"reply_to,omitempty"`
	SendAt   string   `json:"send_at,omitempty"`  // RFC 3339
	Mentions []string `json:"mentions,omitempty"` // +E164 or JIDs

	// image, video, audio, document, sticker: one of URL or Base64 (or the
	// file of SendFile).
	URL      string `json:"url,omitempty"`
	Base64   string `json:"base64,omitempty"`
	Mimetype string `json:"mimetype,omitempty"` // else sniffed
	Caption  string `json:"caption,omitempty"`  // image, video, document
	FileName string `json:"file_name,omitempty"`
	PTT      bool   `json:"ptt,omitempty"`       // audio as a voice note (Ogg/Opus, mono)
	ViewOnce bool   `json:"view_once,omitempty"` // image, video

	// location
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
	Name      string   `json:"name,omitempty"`
	Address   string   `json:"address,omitempty"`

	// contact: Contacts (1–10) or VCard
	Contacts []SendContact `json:"contacts,omitempty"`
	VCard    string        `json:"vcard,omitempty"`

	// reaction: Emoji "" (not nil) removes the reaction.
	MessageID string  `json:"message_id,omitempty"`
	Emoji     *string `json:"emoji,omitempty"`

	// poll
	Question   string   `json:"question,omitempty"`
	Options    []string `json:"options,omitempty"`    // 2–12 distinct
	Selectable int      `json:"selectable,omitempty"` // default 1

	// IdempotencyKey, if set, is sent as the Idempotency-Key header: a
	// retried POST with the same key returns the first message.
	IdempotencyKey string `json:"-"`
}

// SendContact is one card of a contact message.
type SendContact struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

type messageBody struct {
	Message Message `json:"message"`
}

// Send queues a message and returns it (status queued).
func (c *Client) Send(ctx context.Context, name string, r SendRequest) (*Message, error) {
	return c.postMessage(ctx, call{method: http.MethodPost, path: instancePath(name, "/messages"), in: &r, idemKey: r.IdempotencyKey})
}

// postMessage performs a POST …/messages call and returns the message,
// marked Replayed when the server had seen its Idempotency-Key.
func (c *Client) postMessage(ctx context.Context, k call) (*Message, error) {
	var out messageBody
	var hdr http.Header
	k.out = &out
	if k.idemKey != "" {
		k.header = &hdr
	}
	if _, err := c.do(ctx, k); err != nil {
		return nil, err
	}
	out.Message.Replayed = hdr.Get("Idempotent-Replayed") == "true"
	return &out.Message, nil
}

// MessageQuery filters GET …/messages; zero fields are not sent.
type MessageQuery struct {
	Chat      string // +E164 or a JID
	Direction string // in or out
	Limit     int    // 1–500, default 50
	Before    string // a message id: older ones only
}

// Messages lists an instance's messages, newest first.
func (c *Client) Messages(ctx context.Context, name string, q MessageQuery) ([]Message, error) {
	var out struct {
		Messages []Message `json:"messages"`
	}
	path := instancePath(name, "/messages", query("chat", q.Chat, "direction", q.Direction, "limit", itoa(q.Limit), "before", q.Before))
	_, err := c.do(ctx, call{method: http.MethodGet, path: path, out: &out})
	return out.Messages, err
}

// Message returns one message with its status history.
func (c *Client) Message(ctx context.Context, name, id string) (*Message, error) {
	var out messageBody
	if _, err := c.do(ctx, call{method: http.MethodGet, path: instancePath(name, "/messages/", url.PathEscape(id)), out: &out}); err != nil {
		return nil, err
	}
	return &out.Message, nil
}

// Queue lists the pending outgoing messages in send order.
func (c *Client) Queue(ctx context.Context, name string) ([]Message, error) {
	var out struct {
		Messages []Message `json:"messages"`
	}
	_, err := c.do(ctx, call{method: http.MethodGet, path: instancePath(name, "/queue"), out: &out})
	return out.Messages, err
}

// CancelQueue cancels every pending message and returns how many.
func (c *Client) CancelQueue(ctx context.Context, name string) (int, error) {
	var out struct {
		Canceled int `json:"canceled"`
	}
	_, err := c.do(ctx, call{method: http.MethodDelete, path: instancePath(name, "/queue"), out: &out})
	return out.Canceled, err
}

// Events returns a page of an instance's event log: the events after the
// event id after ("" or "0": from the start), at most limit (0: the
// server's default).
func (c *Client) Events(ctx context.Context, name, after string, limit int) ([]Event, error) {
	var out struct {
		Events []Event `json:"events"`
	}
	_, err := c.do(ctx, call{method: http.MethodGet, path: instancePath(name, "/events", query("after", after, "limit", itoa(limit))), out: &out})
	return out.Events, err
}

// Deliveries lists an instance's webhook deliveries, newest first; status
// (pending, delivered, failed, dead) and limit are optional.
func (c *Client) Deliveries(ctx context.Context, name, status string, limit int) ([]Delivery, error) {
	var out struct {
		Deliveries []Delivery `json:"deliveries"`
	}
	_, err := c.do(ctx, call{method: http.MethodGet, path: instancePath(name, "/webhook/deliveries", query("status", status, "limit", itoa(limit))), out: &out})
	return out.Deliveries, err
}

// RetryDelivery re-queues a failed or dead delivery.
func (c *Client) RetryDelivery(ctx context.Context, name, id string) (*Delivery, error) {
	var out struct {
		Delivery Delivery `json:"delivery"`
	}
	path := instancePath(name, "/webhook/deliveries/", url.PathEscape(id), "/retry")
	if _, err := c.do(ctx, call{method: http.MethodPost, path: path, out: &out}); err != nil {
		return nil, err
	}
	return &out.Delivery, nil
}
