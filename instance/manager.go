package instance

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	list    atomic.Pointer[listCache]
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
	for _, inst := range m.order {
		if inst.row.Desired == store.DesiredRunning {
			inst.post(func() { inst.start(ReasonRestart) })
		}
	}
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
	if inst.row.State != StateCreated || inst.row.JID != "" {
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

// GetJSON returns the instance's encoded Info, kept ready so reads cost no
// encoding.
func (m *Manager) GetJSON(idOrName string) ([]byte, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	return inst.snapshot().json, nil
}

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

// AppendListJSON appends the encoded Info of every instance (or of only if
// not empty) as a JSON array to b.
func (m *Manager) AppendListJSON(b []byte, only string) []byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b = append(b, '[')
	first := true
	for _, inst := range m.order {
		if only != "" && inst.id != only {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, inst.snapshot().json...)
	}
	return append(b, ']')
}

// listCache is the encoded body of GET /v1/instances for the admin, valid
// while gen equals the Manager's listGen.
type listCache struct {
	gen  uint64
	body []byte
}

func (m *Manager) invalidateList() { m.listGen.Add(1) }

// ListBody returns {"instances":[…]} with every instance, encoded once per
// change: with 100 instances the body is ~80 KB, and building it per
// request costs more than serving it. The slice must not be modified.
func (m *Manager) ListBody() []byte {
	gen := m.listGen.Load()
	if c := m.list.Load(); c != nil && c.gen == gen {
		return c.body
	}
	m.mu.RLock()
	size := len(`{"instances":[]}`)
	for _, inst := range m.order {
		size += len(inst.snapshot().json) + 1
	}
	m.mu.RUnlock()
	b := make([]byte, 0, size+64)
	b = append(b, `{"instances":`...)
	b = m.AppendListJSON(b, "")
	b = append(b, "}\n"...) // ready to serve as it is
	m.list.Store(&listCache{gen: gen, body: b})
	return b
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

// CreateParams is the body of POST /v1/instances.
type CreateParams struct {
	Name       string          `json:"name"`
	DeviceName string          `json:"device_name"`
	Phone      string          `json:"phone"`
	Settings   json.RawMessage `json:"settings"`
	Webhook    json.RawMessage `json:"webhook"`
	Proxy      json.RawMessage `json:"proxy"`
	Connect    bool            `json:"connect"`
}

// Create stores a new instance and returns it with its token, which is
// shown only here. With Connect it starts the instance and waits briefly
// for the first QR code.
func (m *Manager) Create(ctx context.Context, p CreateParams) (*Info, string, *QR, error) {
	fields := map[string]string{}
	if !ValidName(p.Name) {
		fields["name"] = NameRule
	}
	if p.Phone != "" && !ValidPhone(p.Phone) {
		fields["phone"] = "must be an E.164 number such as +4915123456789"
	}
	if len(p.DeviceName) > 64 {
		fields["device_name"] = "must be at most 64 characters"
	}
	settings := m.opts.Defaults
	var webhook Webhook
	var proxy string
	if err := mergeInput(fields, p.Settings, p.Webhook, p.Proxy, &settings, &webhook, &proxy); err != nil {
		return nil, "", nil, err
	}
	if _, bad := fields["webhook.url"]; !bad && webhook.URL != "" {
		if msg := m.selfTargetProblem(ctx, webhook.URL); msg != "" {
			fields["webhook.url"] = msg
		}
	}
	if len(fields) > 0 {
		return nil, "", nil, &ValidationError{Fields: fields}
	}
	m.mu.RLock()
	_, taken := m.byName[p.Name]
	closed := m.closed
	m.mu.RUnlock()
	if closed {
		return nil, "", nil, ErrClosed
	}
	if taken {
		return nil, "", nil, ErrNameTaken
	}
	if err := m.store.CheckRoom(); err != nil {
		return nil, "", nil, err
	}
	token := newToken()
	sj, _ := json.Marshal(settings)
	wj, _ := json.Marshal(webhook)
	row := &store.Instance{
		ID: newID(), Name: p.Name, DeviceName: p.DeviceName, Phone: p.Phone, TokenHash: hashToken(token),
		Settings: sj, Webhook: wj, ProxyURL: proxy, Desired: store.DesiredStopped, State: StateCreated,
	}
	if err := m.store.CreateInstance(ctx, row); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, "", nil, ErrNameTaken
		}
		return nil, "", nil, fmt.Errorf("instance: create: %w", err)
	}
	inst := m.buildInstance(row, settings, webhook)
	m.add(inst)
	m.log.Info("instance created", "instance", p.Name, "id", row.ID)
	if !p.Connect {
		return inst.snapshot().info, token, nil, nil
	}
	if _, err := m.Connect(ctx, row.ID); err != nil {
		return nil, "", nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, m.opts.QRWait)
	defer cancel()
	qr, _ := inst.waitQR(wctx)
	return inst.snapshot().info, token, qr, nil
}

// mergeInput applies partial settings, webhook and proxy JSON onto the
// current values, collecting every problem into fields.
func mergeInput(fields map[string]string, sRaw, wRaw, pRaw json.RawMessage, settings *Settings, webhook *Webhook, proxy *string) error {
	var unknown error
	collect := func(err error) {
		var ufe *UnknownFieldError
		if errors.As(err, &ufe) && unknown == nil {
			unknown = err
		}
		var ve *ValidationError
		if errors.As(err, &ve) {
			for k, v := range ve.Fields {
				fields[k] = v
			}
		}
	}
	if len(sRaw) > 0 && string(sRaw) != "null" {
		if err := decodeInto("settings", sRaw, settings); err != nil {
			collect(err)
		} else {
			for k, v := range settings.Validate() {
				fields["settings."+k] = v
			}
		}
	}
	if len(wRaw) > 0 && string(wRaw) != "null" {
		hadURL := webhook.URL != ""
		old := *webhook
		webhook.Headers = maps.Clone(webhook.Headers) // decoding merges into the map: not into the stored one
		if err := decodeInto("webhook", wRaw, webhook); err != nil {
			collect(err)
		} else {
			keepMaskedSecrets(&old, webhook)
			// Setting a URL turns the webhook on unless "enabled" says otherwise.
			// The decoder matches keys regardless of case, so the probe does too.
			var probe map[string]json.RawMessage
			_ = json.Unmarshal(wRaw, &probe)
			set := false
			for k := range probe {
				set = set || strings.EqualFold(k, "enabled")
			}
			if !set && !hadURL && webhook.URL != "" {
				webhook.Enabled = true
			}
			for k, v := range webhook.Validate() {
				fields[k] = v
			}
		}
	}
	if len(pRaw) > 0 && string(pRaw) != "null" {
		var pv struct {
			URL string `json:"url"`
		}
		pv.URL = *proxy
		if err := decodeInto("proxy", pRaw, &pv); err != nil {
			collect(err)
		} else if err := validateProxy(pv.URL); err != nil {
			collect(err)
		} else if pv.URL != *proxy && pv.URL == MaskURL(*proxy) {
			// The masked form sent back unchanged: keep the password.
		} else {
			*proxy = pv.URL
		}
	}
	return unknown
}

// UpdateParams is the body of PATCH /v1/instances/{name}.
type UpdateParams struct {
	DeviceName *string         `json:"device_name"`
	Settings   json.RawMessage `json:"settings"`
	Webhook    json.RawMessage `json:"webhook"`
	Proxy      json.RawMessage `json:"proxy"`
}

// Update applies a partial change.
func (m *Manager) Update(ctx context.Context, idOrName string, p UpdateParams) (*Info, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	// The loop check may resolve a name: done here, not on the instance's goroutine.
	var probe struct {
		URL string `json:"url"`
	}
	selfProblem := ""
	if json.Unmarshal(p.Webhook, &probe) == nil && probe.URL != "" {
		selfProblem = m.selfTargetProblem(ctx, probe.URL)
	}
	err = inst.do(ctx, func() error { return inst.update(ctx, p, selfProblem) })
	if err != nil {
		return nil, err
	}
	return inst.snapshot().info, nil
}

// Delete logs the instance out if it is linked, then deletes its rows and
// its device keys.
func (m *Manager) Delete(ctx context.Context, idOrName string) error {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return err
	}
	if err := inst.do(ctx, func() error { return inst.delete(ctx) }); err != nil {
		return err
	}
	m.remove(inst)
	inst.close()
	m.log.Info("instance deleted", "instance", inst.name())
	return nil
}

// Connect starts the instance: it logs in if linked, else shows a QR code.
func (m *Manager) Connect(ctx context.Context, idOrName string) (*Info, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	err = inst.do(ctx, func() error {
		switch st := inst.state(); st {
		case StateStarting, StateScanQR, StateConnected:
			return &StateError{Err: ErrAlreadyConnected, State: st}
		}
		inst.setDesired(ctx, store.DesiredRunning)
		inst.start(ReasonUserRequest)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return inst.snapshot().info, nil
}

// Disconnect stops the instance and keeps its link.
func (m *Manager) Disconnect(ctx context.Context, idOrName string) (*Info, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	err = inst.do(ctx, func() error {
		st := inst.state()
		if inst.cli == nil && inst.row.Desired == store.DesiredStopped {
			return &StateError{Err: ErrNotConnected, State: st}
		}
		inst.setDesired(ctx, store.DesiredStopped)
		inst.stopClient()
		inst.setState(StateDisconnected, ReasonUserRequest)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return inst.snapshot().info, nil
}

// Restart disconnects and connects again, keeping the link.
func (m *Manager) Restart(ctx context.Context, idOrName string) (*Info, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	err = inst.do(ctx, func() error {
		if inst.row.JID == "" {
			// Restart keeps a link; without one there is nothing to restart.
			return &StateError{Err: ErrNotPaired, State: inst.row.State}
		}
		inst.stopClient()
		inst.setDesired(ctx, store.DesiredRunning)
		inst.start(ReasonRestart)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return inst.snapshot().info, nil
}

// Logout unlinks the device from the phone.
func (m *Manager) Logout(ctx context.Context, idOrName string) (*Info, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	if err := inst.do(ctx, func() error { return inst.logout(ctx) }); err != nil {
		return nil, err
	}
	return inst.snapshot().info, nil
}

// QR returns the QR code the instance shows now.
func (m *Manager) QR(idOrName string) (*QR, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	snap := inst.snapshot()
	if snap.qr == nil || snap.info.State != StateScanQR {
		return nil, &StateError{Err: ErrNotAwaitingQR, State: snap.info.State}
	}
	return snap.qr, nil
}

// WaitQR waits until the instance shows a QR code (or stops waiting for one).
func (m *Manager) WaitQR(ctx context.Context, idOrName string) (*QR, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, err
	}
	return inst.waitQR(ctx)
}

// Watch returns a channel closed at the instance's next change, and the
// current view; callers loop on it to follow an instance.
func (m *Manager) Watch(idOrName string) (<-chan struct{}, *Info, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return nil, nil, err
	}
	ch, snap := inst.watch()
	return ch, snap.info, nil
}

// PairCode asks WhatsApp for an 8-character code to enter on the phone.
func (m *Manager) PairCode(ctx context.Context, idOrName, phone string) (string, error) {
	if !ValidPhone(phone) {
		return "", invalid("phone", "must be an E.164 number such as +4915123456789")
	}
	inst, err := m.lookup(idOrName)
	if err != nil {
		return "", err
	}
	// Right after connect the QR (and so the registration socket) may still
	// be on its way; wait for it briefly.
	wctx, cancel := context.WithTimeout(ctx, m.opts.QRWait)
	_, _ = inst.waitQR(wctx)
	cancel()
	var code string
	err = inst.do(ctx, func() error {
		var err error
		code, err = inst.pairCode(ctx, phone)
		return err
	})
	return code, err
}

// RotateToken replaces the instance's token; the old one stops working.
func (m *Manager) RotateToken(ctx context.Context, idOrName string) (string, error) {
	inst, err := m.lookup(idOrName)
	if err != nil {
		return "", err
	}
	token := newToken()
	h := hashToken(token)
	var old string
	err = inst.do(ctx, func() error {
		old = inst.row.TokenHash
		row := *inst.row
		row.TokenHash = h
		if err := m.store.UpdateInstance(ctx, &row); err != nil {
			return err
		}
		*inst.row = row
		return nil
	})
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	delete(m.byToken, old)
	m.byToken[h] = inst
	m.mu.Unlock()
	return token, nil
}

// Settings returns the instance's settings.
func (m *Manager) Settings(idOrName string) (Settings, error) {
	info, err := m.Get(idOrName)
	if err != nil {
		return Settings{}, err
	}
	return info.Settings, nil
}

// UpdateSettings applies a partial settings change.
func (m *Manager) UpdateSettings(ctx context.Context, idOrName string, raw json.RawMessage) (Settings, error) {
	info, err := m.Update(ctx, idOrName, UpdateParams{Settings: raw})
	if err != nil {
		return Settings{}, err
	}
	return info.Settings, nil
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
		if i.State == StateConnected {
			connected++
		}
	}
	return total, connected
}

// Starting counts the instances still logging in or asking for a QR code.
func (m *Manager) Starting() (n int) {
	for _, i := range m.List() {
		if i.State == StateStarting {
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
