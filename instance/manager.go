package instance

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/internal/signallog"
	"github.com/meowgate/meowgate/store"
)

// Options configure a Manager.
type Options struct {
	Store *store.Store
	Log   *slog.Logger
	// WALog receives whatsmeow's own logs (usually Log at a higher level).
	WALog *slog.Logger
	// DeviceName is shown on the phone for instances without their own.
	DeviceName string
	// Defaults are the settings of new instances.
	Defaults Settings
	// HTTPClient, when set, carries every whatsmeow connection (the sandbox
	// points it at the simulator); nil means the real WhatsApp.
	HTTPClient *http.Client
	// QRWait bounds how long create-with-connect waits for the first QR.
	QRWait time.Duration
	// Self knows the API's listen address, so no webhook may point at the
	// API itself (a loop); nil checks nothing.
	Self *SelfGuard
	// Media configures where files live and how URLs are fetched.
	Media MediaOptions
	// ClientVersion is the WhatsApp Web version to log in with: "auto"
	// (fetched, see version.go), "off" or "" (whatsmeow's own), or a pinned
	// "2.3000.N".
	ClientVersion string
	// RestrictedBackoff is how long first contacts wait after WhatsApp
	// refused one without naming a time (governor.go); 0 means 24 h.
	RestrictedBackoff time.Duration
	// KeepaliveTimeout bounds how long a connection whose server stopped
	// answering shows "connected" (deaf.go); 0 keeps whatsmeow's timing.
	KeepaliveTimeout time.Duration
}

// MediaOptions configure media messages.
type MediaOptions struct {
	// Dir keeps staged outgoing files and downloaded incoming ones, one
	// subdirectory per instance. Empty means "media" next to the database.
	Dir string
	// Retention removes files of messages older than this (not while a
	// message that needs its file is queued); 0 keeps them.
	Retention time.Duration
	// FetchTimeout bounds fetching a media URL at enqueue (default 60 s).
	FetchTimeout time.Duration
	// FetchClient fetches media URLs; nil means a plain client.
	FetchClient *http.Client
}

// Manager owns every instance. Its methods are safe for concurrent use;
// each instance's changes run on that instance's own goroutine.
type Manager struct {
	opts  Options
	store *store.Store
	log   *slog.Logger
	ctx   context.Context
	stop  context.CancelFunc

	mu      sync.RWMutex
	byID    map[string]*instance
	byName  map[string]*instance
	byToken map[string]*instance // sha256 hex of the token
	order   []*instance          // creation order
	closed  bool
	calls   sync.WaitGroup // goroutines calling into whatsmeow clients
	listGen atomic.Uint64  // bumped by every change an instance publishes
	dl      downloads      // received files being fetched (download.go)
	ver     versioner      // the WhatsApp Web version (version.go)
}

// NewManager loads every stored instance and starts again those whose
// desired state is running: linked ones log in without a QR.
func NewManager(ctx context.Context, opts Options) (*Manager, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.WALog == nil {
		opts.WALog = opts.Log
	}
	signallog.Install(opts.Log)
	setKeepalive(opts.KeepaliveTimeout)
	if opts.DeviceName == "" {
		opts.DeviceName = "meowgate"
	}
	if opts.QRWait == 0 {
		opts.QRWait = 5 * time.Second
	}
	if opts.Defaults == (Settings{}) {
		opts.Defaults = DefaultSettings()
	}
	m := &Manager{
		opts: opts, store: opts.Store, log: opts.Log,
		byID: map[string]*instance{}, byName: map[string]*instance{}, byToken: map[string]*instance{},
	}
	m.ctx, m.stop = context.WithCancel(context.Background())
	if n, err := m.store.RecoverSending(ctx); err != nil {
		return nil, fmt.Errorf("instance: recover queue: %w", err)
	} else if n > 0 {
		m.log.Warn("messages were being sent when meowgate stopped; they will be sent again with the same ids", "count", n)
	}
	rows, err := m.store.ListInstances(ctx)
	if err != nil {
		return nil, fmt.Errorf("instance: load: %w", err)
	}
	for _, row := range rows {
		inst, err := m.newInstance(row)
		if err != nil {
			m.log.Error("instance: cannot load, skipping", "instance", row.Name, "err", err)
			continue
		}
		m.add(inst)
	}
	m.sweepTemp()
	m.initVersion(ctx)
	for _, inst := range m.order {
		if inst.row.Desired == store.DesiredRunning {
			inst.post(func() { inst.start(event.ReasonRestart) })
		}
	}
	m.calls.Add(1)
	go func() {
		defer m.calls.Done()
		m.runMediaSweep()
	}()
	return m, nil
}

func (m *Manager) add(inst *instance) {
	m.mu.Lock()
	m.byID[inst.id] = inst
	m.byName[inst.row.Name] = inst
	if inst.row.TokenHash != "" {
		m.byToken[inst.row.TokenHash] = inst
	}
	m.order = append(m.order, inst)
	m.mu.Unlock()
	m.invalidateList()
	if inst.row.State != event.StateCreated || inst.row.JID != "" {
		inst.post(inst.refreshCounts) // a new instance has nothing to count
	}
}

func (m *Manager) remove(inst *instance) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.byID, inst.id)
	delete(m.byName, inst.row.Name)
	for h, i := range m.byToken {
		if i == inst {
			delete(m.byToken, h)
		}
	}
	for i, o := range m.order {
		if o == inst {
			m.order = append(m.order[:i:i], m.order[i+1:]...)
			break
		}
	}
	m.invalidateList()
}

// Close disconnects every instance without changing its desired state, so
// the next start brings back the ones that were running.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	insts := append([]*instance(nil), m.order...)
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, inst := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = inst.do(ctx, func() error { inst.shutdown(); return nil })
			inst.close()
		}()
	}
	wg.Wait()
	m.stop()
	m.calls.Wait() // a send in flight finishes or times out first
}

func (m *Manager) lookup(idOrName string) (*instance, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	if inst := m.byID[idOrName]; inst != nil {
		return inst, nil
	}
	if inst := m.byName[idOrName]; inst != nil {
		return inst, nil
	}
	return nil, ErrNotFound
}

// Get returns an instance by id or name.
func (m *Manager) Get(idOrName string) (*Info, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	return inst.snapshot().info, nil
}

func (m *Manager) invalidateList() { m.listGen.Add(1) }

// ListGen changes whenever List would return something else (an instance
// created, deleted or changed): callers key caches of the list on it.
func (m *Manager) ListGen() uint64 { return m.listGen.Load() }

// List returns every instance in creation order.
func (m *Manager) List() []*Info {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Info, len(m.order))
	for i, inst := range m.order {
		out[i] = inst.snapshot().info
	}
	return out
}

// Authenticate returns the instance whose token this is.
func (m *Manager) Authenticate(token string) (*Info, bool) {
	h := hashToken(token)
	m.mu.RLock()
	inst := m.byToken[h]
	m.mu.RUnlock()
	if inst == nil {
		return nil, false
	}
	return inst.snapshot().info, true
}

// Events returns the event log of one instance ("" for all) after an id.
func (m *Manager) Events(ctx context.Context, instanceID string, after int64, limit int) ([]store.Event, error) {
	return m.store.ListEvents(ctx, instanceID, after, limit)
}

// EventsNotify returns a channel closed when the next event is committed.
func (m *Manager) EventsNotify() <-chan struct{} { return m.store.EventsNotify() }

// NameOf returns the name of an instance id, for rendering events.
func (m *Manager) NameOf(id string) string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if inst := m.byID[id]; inst != nil {
		return inst.name()
	}
	return ""
}

// Status counts instances per state, for sd_notify STATUS and metrics.
func (m *Manager) Status() (total, connected int) {
	for _, i := range m.List() {
		total++
		if i.State == event.StateConnected {
			connected++
		}
	}
	return total, connected
}

// Starting counts the instances still logging in or asking for a QR code.
func (m *Manager) Starting() (n int) {
	for _, i := range m.List() {
		if i.State == event.StateStarting {
			n++
		}
	}
	return n
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "ins_" + hex.EncodeToString(b)
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "mgt_" + base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

// LastEventID is the newest event id, where a live stream starts.
func (m *Manager) LastEventID(ctx context.Context) (int64, error) { return m.store.LastEventID(ctx) }
