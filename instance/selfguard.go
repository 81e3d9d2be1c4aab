package instance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// ErrSelfTarget means a webhook URL reaches this meowgate's own API: every
// delivery would call the API, which makes more events, without end (a
// reconnect storm when the URL is, say, …/restart).
var ErrSelfTarget = errors.New("the webhook URL points at this meowgate's own API (a webhook loop)")

// selfLookupTimeout bounds the name lookup of one check.
const selfLookupTimeout = 3 * time.Second

// SelfGuard knows the address meowgate's API listens on and tells whether a
// webhook URL would reach it. serve wires one into the Manager (Options.Self);
// the zero value and nil check nothing.
type SelfGuard struct {
	listen atomic.Pointer[string]
	// Lookup resolves a host name (default: the system resolver).
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// LocalAddrs lists the machine's interface addresses, which an
	// all-interfaces listener answers on (default: net.InterfaceAddrs).
	LocalAddrs func() ([]netip.Addr, error)
}

// NewSelfGuard returns a guard for an API listening on listen ("host:port").
func NewSelfGuard(listen string) *SelfGuard {
	g := &SelfGuard{}
	g.SetListen(listen)
	return g
}

// SetListen records the address the API listens on, e.g. the bound one
// once a ":0" listener has its port.
func (g *SelfGuard) SetListen(addr string) { g.listen.Store(&addr) }

// Check returns an error wrapping ErrSelfTarget when rawURL reaches this
// meowgate's API: same port, and a host that is the listen address, a
// loopback or unspecified address, "localhost", or (when listening on all
// interfaces) an address of a local interface. Host names are resolved now;
// one that does not resolve passes (its delivery fails on its own).
func (g *SelfGuard) Check(ctx context.Context, rawURL string) error {
	if g == nil || g.listen.Load() == nil || rawURL == "" {
		return nil
	}
	listen := *g.listen.Load()
	lhost, lport, err := net.SplitHostPort(listen)
	if err != nil || lport == "" || lport == "0" {
		return nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if n, err := strconv.Atoi(port); err != nil || strconv.Itoa(n) != strings.TrimLeft(lport, "0") {
		return nil // "08080" is port 8080 to a dialer: compare numbers
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	selfErr := func(addr string) error {
		return fmt.Errorf("%w: %s is %s, where meowgate listens (%s)", ErrSelfTarget, u.Host, addr, listen)
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return selfErr("loopback")
	}
	targets, err := g.resolve(ctx, host)
	if err != nil {
		return nil
	}
	var local []netip.Addr // the addresses the listener answers on, besides loopback
	if lip, err := netip.ParseAddr(lhost); err == nil && !lip.IsUnspecified() {
		local = []netip.Addr{lip.Unmap().WithZone("")}
	} else if lhost == "" || err == nil {
		local, _ = g.localAddrs() // all interfaces
	} else {
		local, _ = g.resolve(ctx, lhost)
	}
	for _, a := range targets {
		if a.IsLoopback() || a.IsUnspecified() {
			return selfErr(a.String())
		}
		for _, l := range local {
			if a == l {
				return selfErr(a.String())
			}
		}
	}
	return nil
}

// resolve returns host's addresses, unmapped and without zones.
func (g *SelfGuard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap().WithZone("")}, nil
	}
	lookup := g.Lookup
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, selfLookupTimeout)
	defer cancel()
	addrs, err := lookup(ctx, host)
	for i, a := range addrs {
		addrs[i] = a.Unmap().WithZone("")
	}
	return addrs, err
}

func (g *SelfGuard) localAddrs() ([]netip.Addr, error) {
	if g.LocalAddrs != nil {
		return g.LocalAddrs()
	}
	ifs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range ifs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap().WithZone(""))
		}
	}
	return out, nil
}

// CheckWebhookTarget returns an error wrapping ErrSelfTarget when rawURL
// reaches this meowgate's own API (Options.Self); the delivery worker asks
// before every attempt, since a name may resolve differently later.
func (m *Manager) CheckWebhookTarget(ctx context.Context, rawURL string) error {
	return m.opts.Self.Check(ctx, rawURL)
}

// selfTargetProblem is the 422 message for a webhook URL in an update, or
// "". It runs before the instance's goroutine so a slow lookup holds
// nothing up.
func (m *Manager) selfTargetProblem(ctx context.Context, rawURL string) string {
	if err := m.CheckWebhookTarget(ctx, rawURL); err != nil {
		return "must not point at this meowgate's own API: every delivery would make more events (a webhook loop)"
	}
	return ""
}
