package instance

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestSelfGuard(t *testing.T) {
	// A non-loopback address of this machine, for the all-interfaces case.
	var lan string
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && !p.Addr().IsLoopback() && p.Addr().Is4() {
				lan = p.Addr().String()
				break
			}
		}
	}
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "me.example":
			return []netip.Addr{netip.MustParseAddr("192.0.2.5")}, nil
		case "loop.example":
			return []netip.Addr{netip.MustParseAddr("::ffff:127.0.0.9")}, nil
		case "else.example":
			return []netip.Addr{netip.MustParseAddr("198.51.100.1")}, nil
		}
		return nil, errors.New("no such host")
	}
	cases := []struct {
		listen, url string
		self        bool
	}{
		{"127.0.0.1:8080", "http://127.0.0.1:8080/v1/instances/x/restart", true},
		{"127.0.0.1:8080", "http://127.9.9.9:8080/", true},
		{"127.0.0.1:8080", "http://localhost:8080/", true},
		{"127.0.0.1:8080", "http://LOCALHOST.:8080/", true},
		{"127.0.0.1:8080", "http://api.localhost:8080/", true},
		{"127.0.0.1:8080", "http://[::1]:8080/", true},
		{"127.0.0.1:8080", "http://[::ffff:127.0.0.1]:8080/", true},
		{"127.0.0.1:8080", "http://0.0.0.0:8080/", true},
		{"127.0.0.1:8080", "http://[::]:8080/", true},
		{"127.0.0.1:8080", "http://127.0.0.1:08080/", true},
		{"127.0.0.1:8080", "http://loop.example:8080/", true},
		{"127.0.0.1:80", "http://127.0.0.1/", true},
		{"127.0.0.1:443", "https://localhost/", true},
		{"127.0.0.1:8080", "http://127.0.0.1:8081/", false},
		{"127.0.0.1:8080", "http://127.0.0.1/", false},
		{"127.0.0.1:8080", "http://192.0.2.5:8080/", false},
		{"127.0.0.1:8080", "http://unknown.example:8080/", false},
		{"192.0.2.5:8080", "http://192.0.2.5:8080/", true},
		{"192.0.2.5:8080", "http://me.example:8080/", true},
		{"192.0.2.5:8080", "http://else.example:8080/", false},
		{"192.0.2.5:8080", "http://192.0.2.6:8080/", false},
		{"192.0.2.5:8080", "http://127.0.0.1:8080/", true},
		{"localhost:8080", "http://127.0.0.1:8080/", true},
		{":8080", "http://127.0.0.1:8080/", true},
		{"0.0.0.0:8080", "http://[::1]:8080/", true},
		{"[::]:8080", "http://else.example:8080/", false},
		{"127.0.0.1:0", "http://127.0.0.1:0/", false}, // not bound yet: nothing to compare
		{"", "http://127.0.0.1:8080/", false},
	}
	if lan != "" {
		cases = append(cases,
			struct {
				listen, url string
				self        bool
			}{"0.0.0.0:8080", "http://" + lan + ":8080/", true},
			struct {
				listen, url string
				self        bool
			}{"127.0.0.1:8080", "http://" + lan + ":8080/", false})
	}
	for _, c := range cases {
		g := NewSelfGuard(c.listen)
		g.Lookup = lookup
		err := g.Check(context.Background(), c.url)
		if got := errors.Is(err, ErrSelfTarget); got != c.self {
			t.Errorf("listen %s, url %s: self %v (%v), want %v", c.listen, c.url, got, err, c.self)
		}
	}
	var nilGuard *SelfGuard
	if err := nilGuard.Check(context.Background(), "http://127.0.0.1:8080/"); err != nil {
		t.Errorf("nil guard: %v", err)
	}
}
