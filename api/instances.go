package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/meowgate/meowgate/instance"
)

func (h *handler) createInstance(w http.ResponseWriter, r *http.Request, c *caller) error {
	if wait := h.limits.allowCreate(c.key); wait > 0 {
		return &Error{Status: http.StatusTooManyRequests, Code: codeRateLimited, Message: "too many instance creations", RetryAfter: wait}
	}
	var b createBody
	if err := h.decode(w, r, &b, false); err != nil {
		return err
	}
	pt, err := decodeParts(b.Settings, b.Webhook, b.Proxy)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(r, 15*time.Second)
	defer cancel()
	info, token, qr, err := h.m.Create(ctx, instance.CreateParams{
		Name: b.Name, DeviceName: b.DeviceName, Phone: b.Phone, Connect: b.Connect,
		Settings: pt.settings, Webhook: pt.webhook, ProxyURL: pt.proxyURL, Problems: pt.problems,
	})
	if err != nil {
		return err
	}
	resp := map[string]any{"instance": json.RawMessage(h.views.instance(info)), "token": token}
	if qr != nil {
		body, err := qrBody(qr)
		if err != nil {
			return err
		}
		resp["qr"] = body
	}
	w.Header().Set("Location", "/v1/instances/"+info.Name)
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

func (h *handler) listInstances(w http.ResponseWriter, r *http.Request, c *caller) error {
	if c.admin {
		writeRaw(w, http.StatusOK, h.views.listBody())
		return nil
	}
	b := make([]byte, 0, 4096)
	b = append(b, `{"instances":[`...)
	if info, err := h.m.Get(c.instance.ID); err == nil {
		b = append(b, h.views.instance(info)...)
	}
	writeRaw(w, http.StatusOK, append(b, "]}"...))
	return nil
}

func (h *handler) writeInstance(w http.ResponseWriter, status int, name string) error {
	info, err := h.m.Get(name)
	if err != nil {
		return err
	}
	js := h.views.instance(info)
	b := make([]byte, 0, len(js)+16)
	b = append(b, `{"instance":`...)
	b = append(b, js...)
	writeRaw(w, status, append(b, '}'))
	return nil
}

func (h *handler) getInstance(w http.ResponseWriter, r *http.Request, c *caller) error {
	return h.writeInstance(w, http.StatusOK, c.target)
}

func (h *handler) updateInstance(w http.ResponseWriter, r *http.Request, c *caller) error {
	var b updateBody
	if err := h.decode(w, r, &b, false); err != nil {
		return err
	}
	pt, err := decodeParts(b.Settings, b.Webhook, b.Proxy)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(r, 15*time.Second)
	defer cancel()
	info, err := h.m.Update(ctx, c.target, instance.UpdateParams{
		DeviceName: b.DeviceName, Settings: pt.settings, Webhook: pt.webhook, ProxyURL: pt.proxyURL, Problems: pt.problems,
	})
	if err != nil {
		return err
	}
	return h.writeInstance(w, http.StatusOK, info.ID)
}

func (h *handler) deleteInstance(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx, cancel := withTimeout(r, 30*time.Second)
	defer cancel()
	info, err := h.m.Get(c.target)
	if err != nil {
		return err
	}
	if err := h.m.Delete(ctx, info.ID); err != nil {
		return err
	}
	h.limits.forget("i:" + info.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// lifecycle answers a lifecycle command (connect, disconnect, restart,
// logout) with the instance as it is afterwards.
func (h *handler) lifecycle(status int, timeout time.Duration, do func(context.Context, string) (*instance.Info, error)) func(http.ResponseWriter, *http.Request, *caller) error {
	return func(w http.ResponseWriter, r *http.Request, c *caller) error {
		ctx, cancel := withTimeout(r, timeout)
		defer cancel()
		info, err := do(ctx, c.target)
		if err != nil {
			return err
		}
		return h.writeInstance(w, status, info.ID)
	}
}

func (h *handler) state(w http.ResponseWriter, r *http.Request, c *caller) error {
	info, err := h.m.Get(c.target)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewState(info))
	return nil
}

func (h *handler) rotateToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx, cancel := withTimeout(r, 15*time.Second)
	defer cancel()
	info, err := h.m.Get(c.target)
	if err != nil {
		return err
	}
	token, err := h.m.RotateToken(ctx, info.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": token})
	return nil
}

func (h *handler) getSettings(w http.ResponseWriter, r *http.Request, c *caller) error {
	s, err := h.m.Settings(c.target)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, settingsJSON(s))
	return nil
}

func (h *handler) updateSettings(w http.ResponseWriter, r *http.Request, c *caller) error {
	var body json.RawMessage
	if err := h.decode(w, r, &body, false); err != nil {
		return err
	}
	pt, err := decodeParts(body, nil, nil)
	if err == nil {
		ctx, cancel := withTimeout(r, 15*time.Second)
		defer cancel()
		var info *instance.Info
		if info, err = h.m.Update(ctx, c.target, instance.UpdateParams{Settings: pt.settings, Problems: pt.problems}); err == nil {
			writeJSON(w, http.StatusOK, settingsJSON(info.Settings))
			return nil
		}
	}
	// This body is the settings object itself: name fields as in it.
	if ae := toAPIError(err); ae != nil && ae.Fields != nil {
		out := *ae
		out.Fields = map[string]string{}
		for k, v := range ae.Fields {
			out.Fields[strings.TrimPrefix(k, "settings.")] = v
		}
		return &out
	}
	return err
}

func (h *handler) pairCode(w http.ResponseWriter, r *http.Request, c *caller) error {
	var p struct {
		Phone string `json:"phone"`
	}
	if err := h.decode(w, r, &p, true); err != nil {
		return err
	}
	if p.Phone == "" {
		info, err := h.m.Get(c.target)
		if err != nil {
			return err
		}
		p.Phone = info.Phone
	}
	ctx, cancel := withTimeout(r, 30*time.Second)
	defer cancel()
	code, err := h.m.PairCode(ctx, c.target, p.Phone)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"code": code})
	return nil
}

type qrResponse struct {
	Code      string    `json:"code"`
	PNGBase64 string    `json:"png_base64"`
	DataURI   string    `json:"data_uri"`
	ExpiresAt time.Time `json:"expires_at"`
}

func qrBody(qr *instance.QR) (*qrResponse, error) {
	png, err := qrcode.Encode(qr.Code, qrcode.Medium, 256)
	if err != nil {
		return nil, err
	}
	b64 := base64.StdEncoding.EncodeToString(png)
	return &qrResponse{Code: qr.Code, PNGBase64: b64, DataURI: "data:image/png;base64," + b64, ExpiresAt: qr.ExpiresAt}, nil
}

func (h *handler) qr(w http.ResponseWriter, r *http.Request, c *caller) error {
	qr, err := h.m.QR(c.target)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	switch format := r.URL.Query().Get("format"); format {
	case "", "json":
		body, err := qrBody(qr)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, body)
	case "png":
		png, err := qrcode.Encode(qr.Code, qrcode.Medium, 512)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(png)
	case "text":
		q, err := qrcode.New(qr.Code, qrcode.Low)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(q.ToSmallString(false)))
	default:
		return invalidFields("unknown format", map[string]string{"format": "must be json, png or text"})
	}
	return nil
}
