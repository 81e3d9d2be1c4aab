package wasim

import (
	"context"
	"net"
	"net/http"
	"time"

	"go.mau.fi/whatsmeow"
)

// HTTPClient returns an http.Client that sends every request (the websocket
// to web.whatsapp.com, media hosts) to the simulator at addr. Returning a
// plain TCP connection from DialTLSContext makes net/http speak clear
// HTTP/1.1, so the simulator needs no certificate.
func HTTPClient(addr string) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr)
	}
	return &http.Client{Transport: &http.Transport{
		DialContext:         dial,
		DialTLSContext:      dial,
		ForceAttemptHTTP2:   false,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}}
}

// HTTPClient returns an http.Client pointed at this simulator.
func (s *Server) HTTPClient() *http.Client { return HTTPClient(s.Addr()) }

// Attach points a whatsmeow client at the simulator at addr (before
// pairing, after it, and for media).
func Attach(cli *whatsmeow.Client, addr string) {
	TrustRoot()
	hc := HTTPClient(addr)
	cli.SetPreLoginHTTPClient(hc)
	cli.SetWebsocketHTTPClient(hc)
	cli.SetMediaHTTPClient(hc)
}
