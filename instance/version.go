package instance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waWa6"
	wastore "go.mau.fi/whatsmeow/store"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// WhatsApp refuses a client version it no longer accepts (connect failure
// 405, client_outdated) and every instance is down until the version
// changes. With ClientVersion "auto" meowgate fetches the current WhatsApp
// Web version at start, daily and whenever an instance is refused, applies
// it and logs the refused instances in again, once.
//
// whatsmeow builds the login payload from a copy of its version made at
// init (store.BaseClientPayload), so store.SetWAVersion alone changes only
// the registration's build hash. meowgate sets the version in each
// client's own payload (applyVersion, called from GetClientPayload), which
// needs no write to whatsmeow's globals while clients run; SetWAVersion is
// called once, at start, before any client exists.

// Client version modes (Options.ClientVersion); anything else is a pinned
// version "2.3000.N".
const (
	ClientVersionAuto = "auto"
	ClientVersionOff  = "off"
)

const (
	versionMetaKey  = "wa_version"
	versionInterval = 24 * time.Hour
	versionTimeout  = 30 * time.Second
)

var versionRE = regexp.MustCompile(`^(\d{1,9})\.(\d{1,9})\.(\d{1,10})$`)

// ParseClientVersion parses a WhatsApp Web version "2.3000.1031080782".
func ParseClientVersion(s string) (wastore.WAVersionContainer, error) {
	var v wastore.WAVersionContainer
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return v, fmt.Errorf(`must be "auto", "off" or a WhatsApp Web version such as "2.3000.1031080782", not %q`, s)
	}
	for i := range v {
		n, err := strconv.ParseUint(m[i+1], 10, 32)
		if err != nil {
			return v, fmt.Errorf("version part %q is too large", m[i+1])
		}
		v[i] = uint32(n)
	}
	if v.IsZero() {
		return v, fmt.Errorf("version %q is zero", s)
	}
	return v, nil
}

// ValidClientVersion checks a ClientVersion option.
func ValidClientVersion(s string) error {
	if s == "" || s == ClientVersionAuto || s == ClientVersionOff {
		return nil
	}
	_, err := ParseClientVersion(s)
	return err
}

// versioner holds the version every client logs in with.
type versioner struct {
	mu   sync.Mutex
	cur  wastore.WAVersionContainer // zero: whatsmeow's compiled-in one
	kick chan string                // an instance was refused as outdated: its proxy URL
}

func newerVersion(a, b wastore.WAVersionContainer) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return false
}

// current is the version clients log in with.
func (m *Manager) currentVersion() wastore.WAVersionContainer {
	m.ver.mu.Lock()
	defer m.ver.mu.Unlock()
	if m.ver.cur.IsZero() {
		return wastore.GetWAVersion()
	}
	return m.ver.cur
}

// applyVersion puts the current version in a client's login or
// registration payload (see the comment at the top of this file).
func (m *Manager) applyVersion(p *waWa6.ClientPayload) {
	m.ver.mu.Lock()
	v := m.ver.cur
	m.ver.mu.Unlock()
	if v.IsZero() {
		return
	}
	if p.UserAgent != nil {
		p.UserAgent.AppVersion = v.ProtoAppVersion()
	}
	if reg := p.GetDevicePairingData(); reg != nil {
		h := v.Hash()
		reg.BuildHash = h[:]
	}
}

// initVersion sets the version before any client starts: the pinned one,
// or the last one fetched (kept in the store, so a restart does not fall
// back to the compiled-in one). With "auto" it starts the checker.
func (m *Manager) initVersion(ctx context.Context) {
	m.ver.kick = make(chan string, 1)
	mode := m.opts.ClientVersion
	var v wastore.WAVersionContainer
	switch mode {
	case "", ClientVersionOff:
		return
	case ClientVersionAuto:
		saved, err := m.store.Meta(ctx, versionMetaKey)
		if err != nil {
			m.log.Warn("cannot read the stored WhatsApp Web version", "err", err)
		}
		if sv, err := ParseClientVersion(saved); err == nil && newerVersion(sv, wastore.GetWAVersion()) {
			v = sv
		}
	default:
		var err error
		if v, err = ParseClientVersion(mode); err != nil {
			m.log.Error("ignoring the pinned WhatsApp Web version", "err", err) // config validation refuses it first
			return
		}
	}
	if !v.IsZero() {
		m.ver.cur = v
		if wastore.GetWAVersion() != v {
			wastore.SetWAVersion(v) // no client runs yet
		}
		m.log.Info("WhatsApp Web version", "version", v.String(), "mode", mode)
	}
	if mode == ClientVersionAuto {
		start := false // actors do not run yet: the rows are ours to read
		for _, inst := range m.order {
			start = start || inst.row.Desired == store.DesiredRunning
		}
		m.calls.Add(1)
		go func() {
			defer m.calls.Done()
			m.runVersionCheck(start)
		}()
	}
}

// clientOutdated is called by an instance WhatsApp refused as outdated;
// proxy is the instance's proxy URL ("" for none), which the fetch uses.
func (m *Manager) clientOutdated(proxy string) {
	if m.opts.ClientVersion != ClientVersionAuto {
		m.log.Warn("WhatsApp refuses this client version; set [whatsapp] client_version = \"auto\" or a newer pinned version",
			"version", m.currentVersion().String())
		return
	}
	select {
	case m.ver.kick <- proxy:
	default:
	}
}

// runVersionCheck fetches the version at start (if start: an instance
// is to log in), daily and when kicked.
func (m *Manager) runVersionCheck(start bool) {
	t := time.NewTicker(versionInterval)
	defer t.Stop()
	proxy, kicked := "", start
	for {
		// A gateway with no instance to run does not call WhatsApp.
		if kicked || m.anyActive() {
			m.checkVersion(proxy)
		}
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
			proxy, kicked = "", false
		case proxy = <-m.ver.kick:
			kicked = true
		}
	}
}

// anyActive reports whether some instance is connected or trying to.
func (m *Manager) anyActive() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, inst := range m.order {
		switch inst.snapshot().info.State {
		case event.StateStarting, event.StateScanQR, event.StateConnected, event.StateFailed:
			return true
		}
	}
	return false
}

// checkVersion fetches the current WhatsApp Web version and applies it if
// it is newer than the one in use. It goes the way the instances go: the
// sandbox's client, else the refused instance's proxy (http, https or
// socks5), else the environment's HTTPS_PROXY.
func (m *Manager) checkVersion(proxy string) {
	ctx, cancel := context.WithTimeout(m.ctx, versionTimeout)
	defer cancel()
	hc := m.opts.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if u, err := url.Parse(proxy); err == nil && proxy != "" {
			tr.Proxy = http.ProxyURL(u)
		}
		hc = &http.Client{Timeout: versionTimeout, Transport: tr}
		defer tr.CloseIdleConnections()
	}
	v, err := whatsmeow.GetLatestVersion(ctx, hc)
	if err != nil {
		if m.ctx.Err() == nil {
			m.log.Warn("cannot fetch the current WhatsApp Web version", "err", err)
		}
		return
	}
	prev := m.currentVersion()
	if !newerVersion(*v, prev) {
		m.log.Debug("WhatsApp Web version is current", "version", prev.String(), "fetched", v.String())
		return
	}
	m.ver.mu.Lock()
	m.ver.cur = *v
	m.ver.mu.Unlock()
	if err := m.store.SetMeta(ctx, versionMetaKey, v.String()); err != nil {
		m.log.Warn("cannot store the WhatsApp Web version", "err", err)
	}
	m.log.Info("WhatsApp Web version updated", "version", v.String(), "previous", prev.String())
	m.mu.RLock()
	insts := append([]*instance(nil), m.order...)
	m.mu.RUnlock()
	for _, inst := range insts {
		inst.post(func() { inst.versionChanged(v.String(), prev.String()) })
	}
}

// versionChanged records the new version in the instance's event log and
// logs an instance WhatsApp refused as outdated in again.
func (i *instance) versionChanged(version, previous string) {
	retry := i.row.State == event.StateFailed && i.row.Reason == event.ReasonClientOutdated &&
		i.row.Desired == store.DesiredRunning
	data, _ := json.Marshal(event.ClientVersion{Version: version, Previous: previous, Source: "fetched", Reconnecting: retry})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if _, err := i.m.store.AppendEvent(ctx, store.Event{InstanceID: i.id, Type: event.TypeClientVersion, Data: data}); err != nil {
		i.log.Error("cannot record the client version event", "err", err)
	}
	cancel()
	if retry {
		i.start(event.ReasonClientVersionUpdated)
	}
}
