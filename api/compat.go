package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/meowgate/meowgate/api/evolution"
)

// mountEvolution serves the Evolution API compatibility routes under
// their prefix, with this API's keys, limits and body sizes.
func (h *handler) mountEvolution() {
	prefix := strings.TrimSuffix(h.opts.EvolutionPrefix, "/")
	evo := evolution.New(evolution.Options{
		Manager: h.m, Log: h.log.With("api", "evolution"), AdminKey: h.opts.AdminKey,
		MaxBodyBytes: h.opts.MaxBodyBytes, MaxUploadBytes: h.opts.MaxUploadBytes,
		Limit: func(r *http.Request, key string) time.Duration {
			if key == "" {
				return h.limits.allowFailure(remoteHost(r))
			}
			return h.limits.allow(key)
		},
	})
	var hd http.Handler = evo
	if prefix != "" {
		hd = http.StripPrefix(prefix, evo)
	}
	// Per method: a method-less pattern would conflict with the console's
	// "GET /".
	for _, root := range evolution.Roots {
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			h.mux.Handle(m+" "+prefix+root, hd)
		}
	}
}
