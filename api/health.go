package api

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.json
var openapiJSON []byte

func (h *handler) healthz(w http.ResponseWriter, r *http.Request, _ *caller) error {
	writeRaw(w, http.StatusOK, []byte(`{"status":"ok"}`))
	return nil
}

func (h *handler) readyz(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if !h.opts.Ready.Load() {
		return errorf(http.StatusServiceUnavailable, codeUnavailable, "starting or stopping")
	}
	if h.opts.Manager.Space().Full {
		e := *errStorageFull
		e.Status = http.StatusServiceUnavailable
		return &e
	}
	writeRaw(w, http.StatusOK, []byte(`{"status":"ready"}`))
	return nil
}

func (h *handler) openapi(w http.ResponseWriter, r *http.Request, _ *caller) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openapiJSON)
	return nil
}

func (h *handler) metrics(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if h.opts.Metrics == nil {
		return errNotFound
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	h.opts.Metrics(w)
	return nil
}
