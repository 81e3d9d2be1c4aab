package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"go.mau.fi/whatsmeow"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// instance is the actor of one WhatsApp number. Its goroutine (run) is the
// only one that touches row, settings, cli and the state; everybody else
// posts closures to its mailbox and reads the published snapshot.
type instance struct {
	m   *Manager
	id  string
	log *slog.Logger

	// mailbox: unbounded, so whatsmeow's event handlers never block on us.
	// The actor's goroutine runs only while there is mail: an idle
	// instance costs no stack.
	mbMu    sync.Mutex
	mb      []func()
	running bool
	done    chan struct{} // closed once closed is set and the actor is idle
	closed  bool

	// The message being sent and the receipts that overtook its server
	// ack: the hand-off between the sender and the actor (flight.go).
	flight flight

	snap    atomic.Pointer[snapshot]
	watchMu sync.Mutex
	watchCh chan struct{}

	// Owned by the actor goroutine.
	row         *store.Instance
	settings    Settings
	webhook     Webhook
	cli         *whatsmeow.Client
	calls       *sync.WaitGroup // our goroutines calling into cli
	inbox       *inbox          // cli's received messages on their way to the store
	bufFilter   *bufferFilter   // whatsmeow's decrypted-event buffer, in memory
	handshake   chan struct{}   // closed at a pairing connection's first QR (awaitHandshake)
	gen         int             // bumps with every client; events of older ones are dropped
	qr          *QR
	qrCancel    context.CancelFunc
	retries     int
	retryTimer  *time.Timer
	until       time.Time   // end of a temporary ban or restriction (ban.go)
	restrictEnd *time.Timer // ends the "restricted" reason (governor.go)
	loggingOut  bool
	sender      *sender
	rcpts       []store.Receipt // received, to apply in one batch
	grcpts      []groupRcpt     // group members' receipts, applied with them
	rcptsPosted bool
	counts      store.Counts
	countsTimer *time.Timer

	// Writes that failed for lack of room (storage.go).
	stored         string // the state last written to the row
	statePending   bool   // the row and event log lag behind row.State
	desiredPending bool   // the row lags behind row.Desired
	redeliver      bool   // incoming messages were left unacked
	storageTimer   *time.Timer
}

// snapshot is the published, immutable view of an instance.
type snapshot struct {
	info    *Info
	qr      *QR
	webhook Webhook // with the secret, for the delivery worker
}

func (m *Manager) newInstance(row *store.Instance) (*instance, error) {
	settings := m.opts.Defaults
	var webhook Webhook
	if len(row.Settings) > 0 {
		if err := json.Unmarshal(row.Settings, &settings); err != nil {
			return nil, fmt.Errorf("instance %s: stored settings: %w", row.Name, err)
		}
	}
	if len(row.Webhook) > 0 {
		if err := json.Unmarshal(row.Webhook, &webhook); err != nil {
			return nil, fmt.Errorf("instance %s: stored webhook: %w", row.Name, err)
		}
	}
	return m.buildInstance(row, settings, webhook), nil
}

// buildInstance makes the actor for row, whose stored settings and webhook
// are given already decoded.
func (m *Manager) buildInstance(row *store.Instance, settings Settings, webhook Webhook) *instance {
	inst := &instance{
		m: m, id: row.ID, row: row, log: m.log.With("instance", row.Name),
		done: make(chan struct{}), watchCh: make(chan struct{}),
		settings: settings, webhook: webhook,
		bufFilter: &bufferFilter{load: m.store.BufferedHashes},
	}
	if row.State == "" {
		row.State = event.StateCreated
	}
	inst.stored = row.State
	inst.publish()
	return inst
}

func (i *instance) name() string { return i.snapshot().info.Name }

// post queues f to run on the actor goroutine, starting it if idle.
func (i *instance) post(f func()) bool {
	i.mbMu.Lock()
	if i.closed {
		i.mbMu.Unlock()
		return false
	}
	i.mb = append(i.mb, f)
	start := !i.running
	i.running = true
	i.mbMu.Unlock()
	if start {
		go i.run()
	}
	return true
}

// do runs f on the actor goroutine and waits for its result.
func (i *instance) do(ctx context.Context, f func() error) error {
	res := make(chan error, 1)
	if !i.post(func() { res <- f() }) {
		return ErrNotFound
	}
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run works the mailbox until it is empty.
func (i *instance) run() {
	for {
		i.mbMu.Lock()
		batch := i.mb
		i.mb = nil
		if len(batch) == 0 {
			i.running = false
			if i.closed {
				close(i.done)
			}
			i.mbMu.Unlock()
			return
		}
		i.mbMu.Unlock()
		for _, f := range batch {
			f()
		}
	}
}

// close stops the actor after the queued work.
func (i *instance) close() {
	i.mbMu.Lock()
	if i.closed {
		i.mbMu.Unlock()
		<-i.done
		return
	}
	i.closed = true
	if !i.running {
		close(i.done)
	}
	i.mbMu.Unlock()
	<-i.done
}

func (i *instance) snapshot() *snapshot { return i.snap.Load() }

// publish rebuilds the snapshot from the actor's state and wakes watchers.
func (i *instance) publish() {
	r := i.row
	info := &Info{
		ID: r.ID, Name: r.Name, DeviceName: r.DeviceName, State: r.State,
		Reason: r.Reason, Since: r.StateSince, Phone: r.Phone, JID: r.JID, PushName: r.PushName,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Settings: i.settings, Webhook: i.webhook.Masked(),
		ProxyURL: MaskURL(r.ProxyURL), Counts: i.counts, Until: i.until,
	}
	if info.DeviceName == "" {
		info.DeviceName = i.m.opts.DeviceName
	}
	i.snap.Store(&snapshot{info: info, qr: i.qr, webhook: i.webhook})
	i.m.invalidateList()
	i.watchMu.Lock()
	close(i.watchCh)
	i.watchCh = make(chan struct{})
	i.watchMu.Unlock()
}

func (i *instance) watch() (<-chan struct{}, *snapshot) {
	i.watchMu.Lock()
	ch := i.watchCh
	i.watchMu.Unlock()
	return ch, i.snapshot()
}

// waitQR waits for a QR code, or returns early with a StateError once the
// instance is in a state that shows none.
func (i *instance) waitQR(ctx context.Context) (*QR, error) {
	for {
		ch, snap := i.watch()
		switch st := snap.info.State; {
		case st == event.StateScanQR && snap.qr != nil:
			return snap.qr, nil
		case st != event.StateStarting && st != event.StateScanQR:
			return nil, &StateError{Err: ErrNotAwaitingQR, State: st}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, &StateError{Err: ErrNotAwaitingQR, State: i.snapshot().info.State}
		}
	}
}

func (i *instance) state() string { return i.row.State }

// countsChanged refreshes the counts shown in the API soon; bursts of
// messages cost one query.
func (i *instance) countsChanged() {
	if i.countsTimer != nil {
		return
	}
	i.countsTimer = time.AfterFunc(250*time.Millisecond, func() { i.post(i.refreshCounts) })
}

func (i *instance) refreshCounts() {
	i.countsTimer = nil
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := i.m.store.MessageCounts(ctx, i.id)
	if err != nil {
		i.log.Warn("cannot count messages", "err", err)
		return
	}
	if c != i.counts {
		i.counts = c
		i.publish()
	}
}

// setState records a state change and its event in one transaction.
func (i *instance) setState(state, reason string) { i.setStateUntil(state, reason, time.Time{}) }

// setStateUntil is setState with the end of a ban or restriction.
func (i *instance) setStateUntil(state, reason string, until time.Time) {
	prev := i.row.State
	if prev == state && i.row.Reason == reason && i.until.Equal(until) {
		return
	}
	i.until = until
	i.row.State, i.row.Reason, i.row.StateSince = state, reason, time.Now().UTC()
	_ = i.writeState() // kept pending and retried if it fails
	if state != event.StateScanQR {
		i.qr = nil
	}
	i.log.Info("state", "state", state, "previous", prev, "reason", reason)
	i.publish()
}

func (i *instance) saveRow(ctx context.Context, change func(r *store.Instance), evs ...store.Event) error {
	row := *i.row
	change(&row)
	if err := i.m.store.UpdateInstance(ctx, &row, evs...); err != nil {
		return fmt.Errorf("instance %s: save: %w", row.Name, err)
	}
	*i.row = row
	i.publish()
	return nil
}

func (i *instance) setDesired(ctx context.Context, d string) {
	if i.row.Desired == d {
		return
	}
	if err := i.saveRow(ctx, func(r *store.Instance) { r.Desired = d }); err != nil {
		// Acted on now, written when space returns (storage.go).
		i.log.Error("cannot record desired state; will retry", "err", err)
		i.row.Desired, i.desiredPending = d, true
		i.retryStorage()
	}
}

// update applies p; selfProblem, when set, refuses the webhook URL (see
// Manager.selfTargetProblem).
func (i *instance) update(ctx context.Context, p UpdateParams, selfProblem string) error {
	fields := maps.Clone(p.Problems)
	if fields == nil {
		fields = map[string]string{}
	}
	settings, webhook, proxy := i.settings, i.webhook, i.row.ProxyURL
	if p.DeviceName != nil && len(*p.DeviceName) > maxDeviceName {
		fields["device_name"] = deviceNameRule
	}
	applyInput(fields, p.Settings, p.Webhook, p.ProxyURL, &settings, &webhook, &proxy)
	if _, bad := fields["webhook.url"]; !bad && selfProblem != "" {
		fields["webhook.url"] = selfProblem
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	sj, _ := json.Marshal(settings)
	wj, _ := json.Marshal(webhook)
	proxyChanged := proxy != i.row.ProxyURL
	err := i.saveRow(ctx, func(r *store.Instance) {
		if p.DeviceName != nil {
			r.DeviceName = *p.DeviceName
		}
		r.Settings, r.Webhook, r.ProxyURL = sj, wj, proxy
	})
	if err != nil {
		return err
	}
	i.settings, i.webhook = settings, webhook
	i.publish()
	if i.sender != nil {
		i.sender.poke() // e.g. always_online changed
	}
	if proxyChanged && i.cli != nil {
		// A new proxy needs a new connection.
		i.start(event.ReasonRestart)
	}
	return nil
}

func (i *instance) shutdown() {
	if i.cli == nil {
		return
	}
	i.stopClient()
	i.setState(event.StateDisconnected, event.ReasonShutdown)
}

func (i *instance) logout(ctx context.Context) error {
	if i.row.JID == "" {
		return &StateError{Err: ErrNotPaired, State: i.row.State}
	}
	i.loggingOut = true
	defer func() { i.loggingOut = false }()
	if i.cli != nil && i.cli.IsLoggedIn() {
		i.settle()
		if err := i.cli.Logout(ctx); err != nil {
			i.log.Warn("logout request failed; removing the device keys here", "err", err)
			i.deleteDevice(ctx)
		}
	} else {
		// Offline: WhatsApp cannot be told; the phone lists the device until
		// it is removed there. Forget the keys so it can never log in again.
		i.deleteDevice(ctx)
	}
	i.stopClient()
	i.forgetLink(ctx)
	i.setDesired(ctx, store.DesiredStopped)
	i.setState(event.StateLoggedOut, event.ReasonUserRequest)
	return nil
}

func (i *instance) forgetLink(ctx context.Context) {
	if err := i.saveRow(ctx, func(r *store.Instance) { r.JID, r.LID = "", "" }); err != nil {
		i.log.Error("cannot clear link", "err", err)
	}
}

func (i *instance) delete(ctx context.Context) error {
	if i.row.JID != "" {
		if i.cli != nil && i.cli.IsLoggedIn() {
			i.settle()
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := i.cli.Logout(lctx); err != nil {
				i.log.Warn("logout before delete failed", "err", err)
			}
			cancel()
		}
		i.deleteDevice(ctx)
	}
	i.stopClient()
	if err := i.m.store.DeleteInstance(ctx, i.id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("instance: delete: %w", err)
	}
	return nil
}
