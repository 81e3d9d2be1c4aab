package main

import (
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/meowgate/meowgate/instance"
)

// Validate reports every bad value at once, one "key: problem" per line.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		msg := fmt.Sprintf("%s: %s", key, fmt.Sprintf(format, args...))
		if o := c.origin[key]; o != "" {
			msg = o + ": " + msg
		}
		errs = append(errs, errors.New(msg))
	}
	oneOf := func(key, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(key, "must be one of %s", strings.Join(allowed, ", "))
	}
	positive := func(key string, d Duration) {
		if d.Duration <= 0 {
			bad(key, "must be a positive duration")
		}
	}
	notNegative := func(key string, d Duration) {
		if d.Duration < 0 {
			bad(key, "must not be negative (0 disables)")
		}
	}

	s := c.Server
	if err := checkHostPort(s.Listen); err != nil {
		bad("server.listen", "%v", err)
	}
	positive("server.read_header_timeout", s.ReadHeaderTimeout)
	notNegative("server.read_timeout", s.ReadTimeout)
	notNegative("server.write_timeout", s.WriteTimeout)
	notNegative("server.idle_timeout", s.IdleTimeout)
	positive("server.shutdown_timeout", s.ShutdownTimeout)
	if s.MaxBodyBytes <= 0 {
		bad("server.max_body_bytes", "must be positive")
	}

	a := c.API
	if a.AdminKey != "" && a.AdminKeyFile != "" {
		bad("api.admin_key_file", "set either api.admin_key or api.admin_key_file, not both")
	} else if a.AdminKeyFile != "" {
		if key, err := readKeyFile(a.AdminKeyFile); err != nil {
			bad("api.admin_key_file", "%v", err)
		} else if len(key) < MinAdminKeyLen {
			bad("api.admin_key_file", "the key in %s must be at least %d characters (it has %d); e.g. openssl rand -hex 32", a.AdminKeyFile, MinAdminKeyLen, len(key))
		}
	} else if a.AdminKey != "" && len(a.AdminKey) < MinAdminKeyLen {
		bad("api.admin_key", "must be at least %d characters (it has %d); e.g. openssl rand -hex 32", MinAdminKeyLen, len(a.AdminKey))
	}
	if !(a.RateLimit > 0) || math.IsInf(a.RateLimit, 1) { // NaN compares false with everything
		bad("api.rate_limit", "must be positive")
	}
	if a.RateBurst < 1 {
		bad("api.rate_burst", "must be at least 1")
	}
	if a.CreatePerMinute < 1 {
		bad("api.create_per_minute", "must be at least 1")
	}
	oneOf("api.metrics", a.Metrics, MetricsAdmin, MetricsLoopback, MetricsOff)

	if c.Store.Path == "" {
		bad("store.path", "must not be empty")
	}
	if c.Store.MinFreeMB < 0 || c.Store.MinFreeMB > 1<<20 {
		bad("store.min_free_mb", "must be 0 (off) to 1048576")
	}

	if n := utf8.RuneCountInString(c.WhatsApp.DeviceName); n == 0 || n > 64 {
		bad("whatsapp.device_name", "must be 1 to 64 characters")
	}
	if err := instance.ValidClientVersion(c.WhatsApp.ClientVersion); err != nil || c.WhatsApp.ClientVersion == "" {
		bad("whatsapp.client_version", `must be "auto", "off" or a WhatsApp Web version such as "2.3000.1031080782"`)
	}
	positive("whatsapp.restricted_backoff", c.WhatsApp.RestrictedBackoff)
	if d := c.WhatsApp.KeepaliveTimeout.Duration; d < 3*time.Second || d > 10*time.Minute {
		bad("whatsapp.keepalive_timeout", "must be 3s to 10m")
	}
	if p := c.WhatsApp.Defaults.Validate(); p != nil {
		// In the order of the struct, so the output is stable.
		for _, k := range configKeys() {
			if msg, ok := p[k.path[len(k.path)-1]]; ok && strings.HasPrefix(k.name(), "whatsapp.defaults.") {
				bad(k.name(), "%s", msg)
			}
		}
	}

	positive("webhook.timeout", c.Webhook.Timeout)
	positive("webhook.retry_window", c.Webhook.RetryWindow)
	if c.Webhook.MaxBackoff.Duration < time.Second {
		bad("webhook.max_backoff", "must be at least 1s")
	}

	if _, err := ParseLevel(c.Log.Level); err != nil {
		bad("log.level", "must be one of debug, info, warn, error")
	}
	oneOf("log.format", c.Log.Format, "text", "json")
	if _, err := ParseLevel(c.Log.WhatsmeowLevel); err != nil {
		bad("log.whatsmeow_level", "must be one of debug, info, warn, error")
	}

	md := c.Media
	notNegative("media.retention", md.Retention)
	positive("media.fetch_timeout", md.FetchTimeout)
	if md.MaxUploadMB < 1 || md.MaxUploadMB > 2048 {
		bad("media.max_upload_mb", "must be 1 to 2048")
	}
	if md.IncludeMediaMaxMB < 0 || md.IncludeMediaMaxMB > 64 {
		bad("media.include_media_max_mb", "must be 0 (never inline) to 64")
	}

	if c.Sandbox.Addr != "" {
		if err := checkHostPort(c.Sandbox.Addr); err != nil {
			bad("sandbox.addr", "%v", err)
		} else if !c.Sandbox.Enabled {
			// Ignoring it would connect the instances to the real WhatsApp.
			bad("sandbox.addr", "is set but sandbox.enabled is not true; set sandbox.enabled = true (or --sandbox), or remove sandbox.addr")
		}
	}
	if p := c.Compat.EvolutionPrefix; p != "" && !validPrefix(p) {
		bad("compat.evolution_prefix", `must be "" or a path such as "/evolution" (a leading /, no trailing /, letters, digits, - _ . /, not under /v1)`)
	}
	return errors.Join(errs...)
}

// checkHostPort accepts "host:port", "[v6]:port" and ":port" (all interfaces).
func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port, e.g. \"127.0.0.1:8080\" (got %q)", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port must be a number from 0 to 65535 (got %q)", port)
	}
	return nil
}

// validPrefix reports whether p can be a path prefix of the compatibility
// routes without shadowing meowgate's own.
func validPrefix(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//") ||
		p == "/v1" || strings.HasPrefix(p, "/v1/") {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./", r)) {
			return false
		}
	}
	return true
}
