// Package wasim is a loopback WhatsApp simulator: a WhatsApp server plus
// simulated phones and contacts that the real, unmodified whatsmeow client
// pairs with, logs in to, sends to and receives from. Tests and the sandbox
// mode use it; nothing in it is active unless a caller starts a Server.
package wasim

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"go.mau.fi/whatsmeow/proto/waCompanionReg"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

// Options configure a Server.
type Options struct {
	// DBPath is the simulator's SQLite file; "" keeps the state in memory.
	DBPath string
	// Addr is the listen address; "" picks a free loopback port.
	Addr string
	// Log receives the simulator's diagnostics; nil discards them.
	Log *slog.Logger
	// DeliveryDelay is how long a simulated contact waits before sending the
	// delivery receipt for a message it received.
	DeliveryDelay time.Duration
	// ReadDelay is how long after the delivery receipt the read receipt follows.
	ReadDelay time.Duration
	// NoReadReceipts stops contacts from sending read receipts.
	NoReadReceipts bool
	// MediaDir holds the uploaded media blobs (their index is in the
	// database); "" uses a temporary directory removed by Close.
	MediaDir string
}

// Errors returned by operator controls.
var (
	ErrNoPendingQR    = errors.New("wasim: no pending QR code")
	ErrNoPendingCode  = errors.New("wasim: no pending pairing code for that phone")
	ErrWrongCode      = errors.New("wasim: the pairing code does not match")
	ErrNotOnWhatsApp  = errors.New("wasim: number is not on WhatsApp")
	ErrUnknownDevice  = errors.New("wasim: unknown linked device")
	ErrNotLinked      = errors.New("wasim: account has no linked device")
	ErrBadPhoneNumber = errors.New("wasim: invalid phone number")
)

// Server is a running simulator.
type Server struct {
	opts    Options
	log     *slog.Logger
	db      *sql.DB
	devices *sqlstore.Container
	static  *keys.KeyPair
	cert    []byte
	ln      net.Listener
	srv     *http.Server
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu             sync.Mutex
	users          map[string]*user // by phone digits
	nextLID        uint64
	conns          map[string]*conn // logged-in connections by device JID
	allConns       map[*conn]struct{}
	pairing        map[string]*conn // connections showing a QR, by ref
	codePairs      map[string]*conn // connections waiting for a code, by phone digits
	refuseUntil    time.Time
	outdated       bool
	obs            observations
	deviceProps    map[string]*waCompanionReg.DeviceProps
	offlinePending map[string]bool          // devices with queued stanzas
	scheduled      int                      // contact receipts waiting for their timer
	ackHolds       map[string]chan struct{} // accounts whose message acks wait (HoldAcks)
	flushMu        sync.Mutex
	changed        chan struct{}
	mediaDir       string
	mediaTemp      bool   // mediaDir is ours to remove
	soc            social // LID index, presence, blocking (presence.go)
	groups         groupStore
	simDevs        simDevices
	health         health // bans, minimum version, restrictions (health.go)
	faults         faults // FailNextDecrypt, Deafen (retry.go, deaf.go)
}

// New opens the simulator's state and starts serving on loopback. It also
// makes whatsmeow trust the simulator (see TrustRoot).
func New(ctx context.Context, opts Options) (*Server, error) {
	TrustRoot()
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	s := &Server{
		opts:           opts,
		log:            opts.Log,
		static:         seededKeyPair("server static"),
		users:          make(map[string]*user),
		conns:          make(map[string]*conn),
		allConns:       make(map[*conn]struct{}),
		pairing:        make(map[string]*conn),
		codePairs:      make(map[string]*conn),
		changed:        make(chan struct{}),
		offlinePending: map[string]bool{},
		obs:            observations{duplicates: map[string]int{}, logins: map[string]int{}, loginAttempts: map[string]int{}, simDeviceMessages: map[string]int{}},
	}
	var err error
	if s.cert, err = certChain(s.static); err != nil {
		return nil, fmt.Errorf("wasim: certificate: %w", err)
	}
	s.db, s.devices, err = openDB(ctx, opts.DBPath, waLogger(s.log))
	if err != nil {
		return nil, err
	}
	if err := s.load(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	if err := s.loadGroups(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	if err := s.openMediaDir(); err != nil {
		s.db.Close()
		return nil, err
	}
	s.ln, err = net.Listen("tcp", opts.Addr)
	if err != nil {
		s.db.Close()
		s.removeMediaDir()
		return nil, fmt.Errorf("wasim: listen: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("/ws/chat", s.serveWS)
	s.controlRoutes(mux)
	s.mediaRoutes(mux)
	s.profileRoutes(mux)
	s.healthRoutes(mux)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("wasim: serve", "err", err)
		}
	}()
	return s, nil
}

// Addr is the simulator's listen address (host:port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close drops every connection and closes the state database. Linked devices
// and everything else stored survive for the next Server on the same DBPath.
func (s *Server) Close() error {
	s.cancel()
	s.mu.Lock()
	for c := range s.allConns {
		c.closeNow()
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	s.srv.Close()
	s.wg.Wait()
	s.removeMediaDir()
	return s.db.Close()
}

func (s *Server) removeMediaDir() {
	if s.mediaTemp {
		_ = os.RemoveAll(s.mediaDir)
	}
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	refusing := time.Now().Before(s.refuseUntil)
	if refusing {
		s.obs.refused++
		s.notify()
	}
	s.mu.Unlock()
	if refusing {
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	c, err := accept(s, w, r)
	if err != nil {
		s.log.Debug("wasim: accept", "err", err)
		return
	}
	c.serve()
}

// notify wakes everyone waiting in Wait. Call with s.mu held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Wait blocks until cond returns true, re-checking it whenever the simulator
// records something, or until ctx ends. cond is called without locks held
// and may use the inspection methods.
func (s *Server) Wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wasim: waiting: %w", ctx.Err())
		}
	}
}

func (s *Server) addScheduled(delta int) {
	s.mu.Lock()
	s.scheduled += delta
	s.notify()
	s.mu.Unlock()
}

// Idle reports whether nothing is in flight: every message, receipt,
// notification and call sent to a connected client has been acknowledged,
// no queued stanza waits for a connected device, and no simulated contact
// has a receipt scheduled. Use it (with Wait) to let traffic settle.
func (s *Server) Idle() bool {
	s.mu.Lock()
	if s.scheduled > 0 {
		s.mu.Unlock()
		return false
	}
	for dev := range s.offlinePending {
		if s.conns[dev] != nil {
			s.mu.Unlock()
			return false
		}
	}
	cs := make([]*conn, 0, len(s.allConns))
	for c := range s.allConns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		if !c.quiet() {
			return false
		}
	}
	return true
}

// RefuseConnections makes the server answer new websocket connections with
// 503 for d, to exercise the client's reconnect backoff.
func (s *Server) RefuseConnections(d time.Duration) {
	s.mu.Lock()
	s.refuseUntil = time.Now().Add(d)
	s.mu.Unlock()
}

// SetClientOutdated makes every login fail with 405 "client outdated", the
// answer WhatsApp gives a client version it no longer accepts.
func (s *Server) SetClientOutdated(outdated bool) {
	s.mu.Lock()
	s.outdated = outdated
	s.mu.Unlock()
}

// Kick drops the socket of a logged-in device without a word, as a network
// loss would; the client must reconnect by itself.
func (s *Server) Kick(device types.JID) error {
	c := s.connOf(device)
	if c == nil {
		return fmt.Errorf("%w: %s is not connected", ErrUnknownDevice, device)
	}
	c.closeNow()
	return nil
}

// StreamReplaced tells a device that another connection took its place, then
// closes the socket. whatsmeow does not reconnect after it.
func (s *Server) StreamReplaced(device types.JID) error {
	c := s.connOf(device)
	if c == nil {
		return fmt.Errorf("%w: %s is not connected", ErrUnknownDevice, device)
	}
	c.streamError("", "replaced")
	return nil
}

// Unlink removes a linked device as the phone's "log out" does: a connected
// client gets a device_removed stream error, and later logins fail with 401.
func (s *Server) Unlink(ctx context.Context, device types.JID) error {
	if err := s.removeCompanion(ctx, device); err != nil {
		return err
	}
	if c := s.connOf(device); c != nil {
		c.streamError("401", "device_removed")
	}
	return nil
}

// ExpireQR ends every pending QR pairing, as WhatsApp does when the codes run
// out: the socket is closed and the client reports a timeout.
func (s *Server) ExpireQR() int {
	s.mu.Lock()
	var cs []*conn
	for ref, c := range s.pairing {
		delete(s.pairing, ref)
		cs = append(cs, c)
	}
	s.mu.Unlock()
	seen := map[*conn]bool{}
	for _, c := range cs {
		if !seen[c] {
			seen[c] = true
			c.closeNow()
		}
	}
	return len(seen)
}

func (s *Server) connOf(device types.JID) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[device.String()]
}

// Connected reports whether the device is logged in right now.
func (s *Server) Connected(device types.JID) bool { return s.connOf(device) != nil }
