package client

import (
	"context"
	"net/http"
)

// CreateInstanceRequest is the body of POST /v1/instances.
type CreateInstanceRequest struct {
	Name       string `json:"name"`
	DeviceName string `json:"device_name,omitempty"`
	Phone      string `json:"phone,omitempty"`
	// Settings are partial: keys left out take the configured defaults.
	Settings map[string]any `json:"settings,omitempty"`
	Webhook  *Webhook       `json:"webhook,omitempty"`
	Proxy    *Proxy         `json:"proxy,omitempty"`
	// Connect starts the instance and waits up to 5 s for its first QR.
	Connect bool `json:"connect,omitempty"`
}

// Created is the answer of POST /v1/instances.
type Created struct {
	Instance Instance `json:"instance"`
	// Token is the instance's token, shown only this once.
	Token string `json:"token"`
	// QR is the first QR code, with Connect, when one came in time.
	QR *QR `json:"qr,omitempty"`
}

// UpdateInstanceRequest is the body of PATCH /v1/instances/{name}: a
// partial merge, nil fields are left alone.
type UpdateInstanceRequest struct {
	DeviceName *string        `json:"device_name,omitempty"`
	Settings   map[string]any `json:"settings,omitempty"`
	Webhook    *Webhook       `json:"webhook,omitempty"`
	Proxy      *Proxy         `json:"proxy,omitempty"`
}

type instanceBody struct {
	Instance Instance `json:"instance"`
}

// CreateInstance creates an instance (admin key).
func (c *Client) CreateInstance(ctx context.Context, r CreateInstanceRequest) (*Created, error) {
	var out Created
	_, err := c.do(ctx, call{method: http.MethodPost, path: "/v1/instances", in: &r, out: &out})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListInstances lists every instance (admin key) or the token's own.
func (c *Client) ListInstances(ctx context.Context) ([]Instance, error) {
	var out struct {
		Instances []Instance `json:"instances"`
	}
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/v1/instances", out: &out})
	return out.Instances, err
}

// instanceCall does a request answered by {"instance":{…}}.
func (c *Client) instanceCall(ctx context.Context, method, path string, in any) (*Instance, error) {
	var out instanceBody
	if _, err := c.do(ctx, call{method: method, path: path, in: in, out: &out}); err != nil {
		return nil, err
	}
	return &out.Instance, nil
}

// Instance returns an instance by name or id.
func (c *Client) Instance(ctx context.Context, name string) (*Instance, error) {
	return c.instanceCall(ctx, http.MethodGet, instancePath(name), nil)
}

// UpdateInstance changes the device name, settings, webhook or proxy.
func (c *Client) UpdateInstance(ctx context.Context, name string, r UpdateInstanceRequest) (*Instance, error) {
	return c.instanceCall(ctx, http.MethodPatch, instancePath(name), &r)
}

// DeleteInstance logs the instance out if linked and deletes it (admin key).
func (c *Client) DeleteInstance(ctx context.Context, name string) error {
	_, err := c.do(ctx, call{method: http.MethodDelete, path: instancePath(name)})
	return err
}

// Connect starts the instance; it answers in state starting. A running
// instance gives the code already_connected.
func (c *Client) Connect(ctx context.Context, name string) (*Instance, error) {
	return c.instanceCall(ctx, http.MethodPost, instancePath(name, "/connect"), nil)
}

// Disconnect stops the instance and keeps its link (not_connected if it is
// stopped already).
func (c *Client) Disconnect(ctx context.Context, name string) (*Instance, error) {
	return c.instanceCall(ctx, http.MethodPost, instancePath(name, "/disconnect"), nil)
}

// Restart reconnects the instance, keeping its link.
func (c *Client) Restart(ctx context.Context, name string) (*Instance, error) {
	return c.instanceCall(ctx, http.MethodPost, instancePath(name, "/restart"), nil)
}

// Logout unlinks the instance from its phone (not_paired if it is not
// linked).
func (c *Client) Logout(ctx context.Context, name string) (*Instance, error) {
	return c.instanceCall(ctx, http.MethodPost, instancePath(name, "/logout"), nil)
}

// State returns the instance's state.
func (c *Client) State(ctx context.Context, name string) (*State, error) {
	var out State
	if _, err := c.do(ctx, call{method: http.MethodGet, path: instancePath(name, "/state"), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// QR returns the current QR code (not_awaiting_qr when there is none).
func (c *Client) QR(ctx context.Context, name string) (*QR, error) {
	var out QR
	if _, err := c.do(ctx, call{method: http.MethodGet, path: instancePath(name, "/qr"), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// QRText returns the current QR code drawn in terminal characters.
func (c *Client) QRText(ctx context.Context, name string) (string, error) {
	b, err := c.do(ctx, call{method: http.MethodGet, path: instancePath(name, "/qr?format=text"), raw: true})
	return string(b), err
}

// QRPNG returns the current QR code as a PNG image.
func (c *Client) QRPNG(ctx context.Context, name string) ([]byte, error) {
	return c.do(ctx, call{method: http.MethodGet, path: instancePath(name, "/qr?format=png"), raw: true})
}

// PairCode asks for a pairing code to enter on the phone with number phone
// (+E164; "" uses the instance's phone).
func (c *Client) PairCode(ctx context.Context, name, phone string) (string, error) {
	var in struct {
		Phone string `json:"phone,omitempty"`
	}
	in.Phone = phone
	var out struct {
		Code string `json:"code"`
	}
	_, err := c.do(ctx, call{method: http.MethodPost, path: instancePath(name, "/pair-code"), in: &in, out: &out})
	return out.Code, err
}

// RotateToken replaces the instance's token; the old one stops working.
func (c *Client) RotateToken(ctx context.Context, name string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	_, err := c.do(ctx, call{method: http.MethodPost, path: instancePath(name, "/token"), out: &out})
	return out.Token, err
}

// Settings returns the instance's settings.
func (c *Client) Settings(ctx context.Context, name string) (*Settings, error) {
	var out Settings
	if _, err := c.do(ctx, call{method: http.MethodGet, path: instancePath(name, "/settings"), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateSettings merges patch (setting name → value) into the instance's
// settings and returns them all; bad values give invalid with Fields.
func (c *Client) UpdateSettings(ctx context.Context, name string, patch map[string]any) (*Settings, error) {
	var out Settings
	if _, err := c.do(ctx, call{method: http.MethodPatch, path: instancePath(name, "/settings"), in: patch, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// Healthz reports whether the process serves (nil) or not.
func (c *Client) Healthz(ctx context.Context) error {
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/healthz"})
	return err
}

// Readyz reports whether the gateway is ready: nil, or an *Error with
// status 503 while it starts or stops.
func (c *Client) Readyz(ctx context.Context) error {
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/readyz"})
	return err
}

// Metrics returns /metrics in the Prometheus text format.
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	return c.do(ctx, call{method: http.MethodGet, path: "/metrics", raw: true})
}
