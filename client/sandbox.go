package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// The sandbox routes (meowgate serve --sandbox, admin key) act out the
// phone's and the contacts' side.

// Linked is the account a sandbox scan or code entry linked.
type Linked struct {
	Phone string `json:"phone"`
	JID   string `json:"jid"`
}

func sandboxPath(name, action string) string {
	return "/v1/sandbox/instances/" + url.PathEscape(name) + "/" + action
}

// SandboxScan has a simulated phone scan the instance's QR code; phone ""
// uses the instance's phone, else a generated number. With no QR pending it
// gives not_awaiting_qr (409).
func (c *Client) SandboxScan(ctx context.Context, name, phone string) (*Linked, error) {
	var in struct {
		Phone string `json:"phone,omitempty"`
	}
	in.Phone = phone
	var out Linked
	if _, err := c.do(ctx, call{method: http.MethodPost, path: sandboxPath(name, "scan"), in: &in, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// SandboxEnterCode has the simulated phone enter a pairing code.
func (c *Client) SandboxEnterCode(ctx context.Context, name, code string) (*Linked, error) {
	in := struct {
		Code string `json:"code"`
	}{code}
	var out Linked
	if _, err := c.do(ctx, call{method: http.MethodPost, path: sandboxPath(name, "enter-code"), in: &in, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// Incoming is a message a simulated contact sends to an instance.
type Incoming struct {
	From     string `json:"from"`
	Text     string `json:"text"`
	PushName string `json:"push_name,omitempty"`
}

// SandboxIncoming has a simulated contact send the instance a message and
// returns its id.
func (c *Client) SandboxIncoming(ctx context.Context, name string, m Incoming) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	_, err := c.do(ctx, call{method: http.MethodPost, path: sandboxPath(name, "incoming"), in: &m, out: &out})
	return out.ID, err
}

// SandboxUnlink has the phone remove the linked device (a remote logout).
func (c *Client) SandboxUnlink(ctx context.Context, name string) error {
	_, err := c.do(ctx, call{method: http.MethodPost, path: sandboxPath(name, "unlink")})
	return err
}

// SandboxKick has the server drop the instance's connection.
func (c *Client) SandboxKick(ctx context.Context, name string) error {
	_, err := c.do(ctx, call{method: http.MethodPost, path: sandboxPath(name, "kick")})
	return err
}

// InboxMessage is a message a simulated contact received, as the contact's
// phone decoded it (media decrypted and checked).
type InboxMessage struct {
	ID         string    `json:"id"`
	From       string    `json:"from"`
	Text       string    `json:"text"`
	ReceivedAt time.Time `json:"received_at"`
	Type       string    `json:"type"` // text, image, …, poll_vote
	Group      string    `json:"group,omitempty"`
	QuotedID   string    `json:"quoted_id,omitempty"`
	Mimetype   string    `json:"mimetype,omitempty"`
	Size       int64     `json:"size,omitempty"`
	SHA256     string    `json:"sha256,omitempty"` // hex of the decrypted file
	Caption    string    `json:"caption,omitempty"`
	FileName   string    `json:"file_name,omitempty"`
	Seconds    uint32    `json:"seconds,omitempty"`
	PTT        bool      `json:"ptt,omitempty"`
	Width      uint32    `json:"width,omitempty"`
	Height     uint32    `json:"height,omitempty"`
	Location   *Location `json:"location,omitempty"`
	Reaction   *Reaction `json:"reaction,omitempty"`
	Edited     bool      `json:"edited,omitempty"`
	Revoked    bool      `json:"revoked,omitempty"`
}

// SandboxInbox lists the messages the simulated contact phone received.
func (c *Client) SandboxInbox(ctx context.Context, phone string) ([]InboxMessage, error) {
	var out struct {
		Messages []InboxMessage `json:"messages"`
	}
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/v1/sandbox/contacts/" + url.PathEscape(phone) + "/inbox", out: &out})
	return out.Messages, err
}
