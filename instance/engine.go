package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCompanionReg"
	"go.mau.fi/whatsmeow/proto/waWa6"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

const (
	retryBase = time.Second
	retryMax  = time.Minute
)

// start (re)creates the whatsmeow client and connects it: a linked
// instance logs in, an unlinked one asks for a QR code.
func (i *instance) start(reason string) {
	i.stopClient()
	cli, err := i.newClient()
	if err != nil {
		i.log.Error("cannot create client", "err", err)
		i.setState(event.StateFailed, event.ReasonConnectFailure)
		return
	}
	i.gen++
	gen := i.gen
	i.cli = cli
	i.calls = new(sync.WaitGroup)
	i.setState(event.StateStarting, reason)
	if cli.Store.ID == nil {
		ctx, cancel := context.WithCancel(i.m.ctx)
		i.qrCancel = cancel
		ch, err := cli.GetQRChannel(ctx)
		if err != nil {
			cancel()
			i.log.Error("cannot get QR channel", "err", err)
			i.setState(event.StateFailed, event.ReasonConnectFailure)
			return
		}
		paired := make(chan struct{})
		var once sync.Once
		shown := func() { once.Do(func() { close(paired) }) }
		i.handshake = paired
		go func() {
			for item := range ch {
				shown()
				i.post(func() { i.onQR(gen, item) })
			}
			shown()
		}()
		go func() {
			err := cli.ConnectContext(i.m.ctx)
			if err != nil {
				shown()
			}
			i.post(func() { i.onConnectResult(gen, err) })
		}()
		return
	}
	go func() {
		err := cli.ConnectContext(i.m.ctx)
		i.post(func() { i.onConnectResult(gen, err) })
	}()
}

// newClient builds a whatsmeow client over the instance's device keys.
func (i *instance) newClient() (*whatsmeow.Client, error) {
	ctx, cancel := context.WithTimeout(i.m.ctx, 10*time.Second)
	defer cancel()
	container := i.m.store.Devices()
	var dev *wastore.Device
	if i.row.JID != "" {
		jid, err := types.ParseJID(i.row.JID)
		if err == nil {
			dev, err = container.GetDevice(ctx, jid)
		}
		if err != nil {
			return nil, fmt.Errorf("load device %s: %w", i.row.JID, err)
		}
		if dev == nil {
			// The keys are gone (e.g. WhatsApp logged the device out while we
			// were offline and whatsmeow deleted them): link anew.
			i.log.Warn("device keys missing; a new QR code is needed", "jid", i.row.JID)
			i.forgetLink(ctx)
		}
	}
	if dev == nil {
		dev = container.NewDevice()
	}
	cli := whatsmeow.NewClient(dev, store.WALogger(i.m.opts.WALog.With("instance", i.row.Name), "whatsmeow"))
	cli.EnableAutoReconnect = true
	cli.AutoReconnectHook = func(error) bool {
		// whatsmeow waits errors×2 s between tries; cap it at a minute.
		if cli.AutoReconnectErrors > 30 {
			cli.AutoReconnectErrors = 30
		}
		return true
	}
	if hc := i.m.opts.HTTPClient; hc != nil {
		cli.SetPreLoginHTTPClient(hc)
		cli.SetWebsocketHTTPClient(hc)
		cli.SetMediaHTTPClient(hc)
	} else if i.row.ProxyURL != "" {
		if err := cli.SetProxyAddress(i.row.ProxyURL); err != nil {
			return nil, fmt.Errorf("proxy %s: %w", MaskURL(i.row.ProxyURL), err)
		}
	}
	// The device name shown on the phone and the history request are part of
	// the registration payload, which whatsmeow builds from a global; build a
	// per-instance copy instead.
	deviceName := i.row.DeviceName
	if deviceName == "" {
		deviceName = i.m.opts.DeviceName
	}
	fullSync := i.settings.SyncFullHistory
	cli.GetClientPayload = func() *waWa6.ClientPayload {
		payload := dev.GetClientPayload()
		i.m.applyVersion(payload)
		if reg := payload.GetDevicePairingData(); reg != nil {
			props := proto.Clone(wastore.DeviceProps).(*waCompanionReg.DeviceProps)
			props.Os = proto.String(deviceName)
			props.RequireFullSync = proto.Bool(fullSync)
			if fullSync {
				props.HistorySyncConfig = &waCompanionReg.DeviceProps_HistorySyncConfig{
					FullSyncDaysLimit:   proto.Uint32(3650),
					FullSyncSizeMbLimit: proto.Uint32(102400),
					StorageQuotaMb:      proto.Uint32(102400),
				}
			}
			reg.DeviceProps, _ = proto.Marshal(props)
		}
		return payload
	}
	gen := i.gen + 1
	// The ack follows the commit: with SynchronousAck whatsmeow acks a
	// message only after this handler returned true, and with the
	// decrypted-event buffer it keeps the plaintext of one that was not, so
	// WhatsApp's redelivery after the next login is stored then (see
	// receive). Other events go to the actor and are acked at once.
	cli.SynchronousAck = true
	cli.EnableDecryptedEventBuffer = true
	cli.GetMessageForRetry = i.messageForRetry(cli)
	ib := newInbox(i, cli, gen)
	i.inbox = ib
	wrapStores(dev, bufferHooks{
		onFull: func() { i.post(func() { i.unackedInbound(gen) }) },
		seen:   func(hash [32]byte) { ib.hash.Store(&hash) },
		lookup: func(ctx context.Context, hash [32]byte) (*wastore.BufferedEvent, error) {
			if dev.ID == nil {
				return nil, errors.New("instance: buffered event of an unpaired device")
			}
			return i.m.store.BufferedEvent(ctx, dev.ID.String(), hash)
		},
		filter:     i.bufFilter,
		identities: newIdentityCache(),
		ourJID: func() string {
			if dev.ID == nil {
				return ""
			}
			return dev.ID.String()
		},
	})
	cli.AddEventHandlerWithSuccessStatus(func(evt any) bool {
		if e, ok := evt.(*events.MediaRetry); ok {
			i.m.onMediaRetry(i.id, e) // a download is waiting, off the actor
			return true
		}
		if e, ok := evt.(*events.Message); ok {
			return i.receive(gen, cli, ib, e)
		}
		i.post(func() { i.onEvent(gen, cli, evt) })
		return true
	})
	return cli, nil
}

// settleWait bounds how long a stop waits for calls into whatsmeow.
const settleWait = 2 * time.Second

// goCall runs fn, a call into the current client, on its own goroutine,
// tracked so that a stop can let it finish first: whatsmeow's socket
// writes race with its Disconnect (FrameSocket.SendFrame reads the
// connection that Close clears without a lock).
func (i *instance) goCall(fn func()) {
	if i.calls != nil {
		i.m.track(i.calls, fn)
	}
}

// track runs fn on its own goroutine, counted in the client's calls and in
// the Manager's, which Close waits for.
func (m *Manager) track(calls *sync.WaitGroup, fn func()) {
	calls.Add(1)
	m.calls.Add(1)
	go func() {
		defer m.calls.Done()
		defer calls.Done()
		fn()
	}()
}

// settle stops the sender and waits, up to settleWait, for the calls into
// the client to return. A call stuck on a dead connection does not hold
// the stop longer; Manager.Close waits for it.
func (i *instance) settle() {
	i.stopSender()
	if i.calls == nil {
		return
	}
	// The field is cleared once the wait gives up: wait on this client's.
	calls, done := i.calls, make(chan struct{})
	go func() { calls.Wait(); close(done) }()
	if !closedWithin(done, settleWait) {
		i.log.Debug("stopping with a call into WhatsApp still running")
	}
}

// closedWithin waits up to d for ch to be closed and reports whether it was.
func closedWithin(ch <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// handshakeWait bounds how long a stop waits for a pairing connection's
// first QR code.
const handshakeWait = 3 * time.Second

// awaitHandshake waits (briefly) until a new, unpaired connection has
// answered WhatsApp's pair-device request, which whatsmeow does just before
// it hands out the first QR code: whatsmeow's FrameSocket.Close races with
// a SendFrame still writing that answer (a data race inside the library).
func (i *instance) awaitHandshake() {
	ch := i.handshake
	i.handshake = nil
	if ch != nil {
		closedWithin(ch, handshakeWait)
	}
}

// stopClient disconnects and drops the client; its later events are ignored.
func (i *instance) stopClient() {
	if i.retryTimer != nil {
		i.retryTimer.Stop()
		i.retryTimer = nil
	}
	if i.qrCancel != nil {
		i.qrCancel()
		i.qrCancel = nil
	}
	if i.inbox != nil {
		i.inbox.close(settleWait)
		i.inbox = nil
	}
	if i.cli != nil {
		i.settle()
		i.awaitHandshake()
		i.cli.Disconnect()
		i.cli = nil
		i.calls = nil
	}
	i.gen++
	i.qr = nil
}

func (i *instance) deleteDevice(ctx context.Context) {
	if i.row.JID == "" {
		return
	}
	jid, err := types.ParseJID(i.row.JID)
	if err != nil {
		return
	}
	container := i.m.store.Devices()
	dev, err := container.GetDevice(ctx, jid)
	if err == nil && dev != nil {
		err = container.DeleteDevice(ctx, dev)
	}
	if err != nil {
		i.log.Error("cannot delete device keys", "jid", i.row.JID, "err", err)
	}
}

func (i *instance) onConnectResult(gen int, err error) {
	if gen != i.gen || err == nil {
		return
	}
	reason, state := event.ReasonNetwork, event.StateDisconnected
	if i.row.ProxyURL != "" && i.m.opts.HTTPClient == nil {
		reason, state = event.ReasonProxyError, event.StateFailed
	}
	i.log.Warn("connect failed", "err", err, "retry", i.retries+1)
	i.scheduleRetry(state, reason)
}

// scheduleRetry records the failure and tries again with exponential
// backoff while the instance should run.
func (i *instance) scheduleRetry(state, reason string) {
	i.stopClient()
	i.setState(state, reason)
	if i.row.Desired != store.DesiredRunning {
		return
	}
	d := retryBase << min(i.retries, 6)
	if d > retryMax {
		d = retryMax
	}
	i.retries++
	gen := i.gen
	i.retryTimer = time.AfterFunc(d, func() {
		i.post(func() {
			if gen == i.gen && i.row.Desired == store.DesiredRunning {
				i.start(event.ReasonNetwork)
			}
		})
	})
}

func (i *instance) onQR(gen int, item whatsmeow.QRChannelItem) {
	if gen != i.gen {
		return
	}
	switch item.Event {
	case whatsmeow.QRChannelEventCode:
		i.qr = &QR{Code: item.Code, ExpiresAt: time.Now().Add(item.Timeout).UTC()}
		data, _ := json.Marshal(event.QR{Code: i.qr.Code, ExpiresAt: i.qr.ExpiresAt})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := i.m.store.AppendEvent(ctx, store.Event{InstanceID: i.id, Type: event.TypeQR, Data: data}); err != nil {
			i.log.Error("cannot record QR event", "err", err)
		}
		cancel()
		if i.row.State != event.StateScanQR {
			i.setState(event.StateScanQR, "")
		}
		i.publish()
	case "timeout":
		if i.row.JID == "" {
			i.stopClient()
			i.setDesired(context.Background(), store.DesiredStopped)
			i.setState(event.StateDisconnected, event.ReasonQRTimeout)
		}
	case "error", "err-unexpected-state", "err-scanned-without-multidevice":
		if i.row.JID == "" && i.cli != nil && i.row.State != event.StateConnected {
			i.log.Warn("pairing failed", "event", item.Event, "err", item.Error)
			i.stopClient()
			i.setDesired(context.Background(), store.DesiredStopped)
			i.setState(event.StateFailed, event.ReasonPairError)
		}
	}
}

func (i *instance) onEvent(gen int, cli *whatsmeow.Client, evt any) {
	if gen != i.gen {
		return
	}
	ctx := context.Background()
	switch e := evt.(type) {
	case *events.PairSuccess:
		phone := "+" + e.ID.User
		if err := i.saveRow(ctx, func(r *store.Instance) {
			r.JID, r.LID, r.Phone = e.ID.String(), e.LID.String(), phone
		}); err != nil {
			i.log.Error("cannot record pairing", "err", err)
		}
		i.qr = nil
		i.setState(event.StateStarting, event.ReasonPaired)
	case *events.Connected:
		i.retries = 0
		if cli.Store.PushName == "" {
			// WhatsApp sends the profile name by app-state sync, which can take
			// a while; presence updates need one meanwhile.
			cli.Store.PushName = i.row.Name
		}
		if jid := cli.Store.GetJID(); !jid.IsEmpty() && (i.row.JID != jid.String() || i.row.PushName != cli.Store.PushName) {
			_ = i.saveRow(ctx, func(r *store.Instance) {
				r.JID, r.PushName = jid.String(), cli.Store.PushName
				if r.Phone == "" {
					r.Phone = "+" + jid.User
				}
			})
		}
		i.setState(event.StateConnected, event.ReasonLoggedIn)
		i.showRestriction(time.Time{})
		i.startSender(cli)
	case *events.Receipt:
		i.onReceipt(e)
	case *events.Presence:
		state := PresenceAvailable
		if e.Unavailable {
			state = PresenceUnavailable
		}
		i.onPresence(e.From, types.EmptyJID, "", state, e.LastSeen)
	case *events.ChatPresence:
		state := PresencePaused
		if e.State == types.ChatPresenceComposing {
			state = PresenceComposing
			if e.Media == types.ChatPresenceMediaAudio {
				state = PresenceRecording
			}
		}
		chat := ""
		if e.IsGroup {
			chat = e.Chat.String()
		}
		i.onPresence(e.Sender, e.SenderAlt, chat, state, time.Time{})
	case *events.JoinedGroup:
		i.onJoinedGroup(cli, e)
	case *events.GroupInfo:
		i.onGroupInfo(cli, e)
	case *events.CallOffer:
		i.onCall(cli, e)
	case *events.Disconnected:
		i.stopSender()
		if i.row.JID != "" && i.row.Desired == store.DesiredRunning {
			// whatsmeow reconnects by itself.
			i.setState(event.StateDisconnected, event.ReasonNetwork)
		}
	case *events.KeepAliveTimeout:
		i.onKeepAliveTimeout(e) // deaf.go
	case *events.LoggedOut:
		if i.loggingOut {
			return
		}
		i.log.Warn("logged out by WhatsApp", "on_connect", e.OnConnect, "reason", e.Reason.String())
		i.stopClient()
		i.forgetLink(ctx)
		i.setDesired(ctx, store.DesiredStopped)
		i.setState(event.StateLoggedOut, logoutReason(e))
	case *events.StreamReplaced:
		i.stopClient()
		i.setDesired(ctx, store.DesiredStopped)
		i.setState(event.StateDisconnected, event.ReasonStreamReplaced)
	case *events.ClientOutdated:
		i.stopClient()
		i.setState(event.StateFailed, event.ReasonClientOutdated)
		i.m.clientOutdated(i.row.ProxyURL)
	case *events.TemporaryBan:
		i.onTempBan(e)
	case *events.ConnectFailure:
		i.log.Warn("connect failure", "reason", e.Reason, "message", e.Message)
		i.scheduleRetry(event.StateFailed, event.ReasonConnectFailure)
	}
}

// pairCode asks for a phone-number pairing code; the instance must be
// showing a QR code (the same registration connection is used).
func (i *instance) pairCode(ctx context.Context, phone string) (string, error) {
	if i.row.State != event.StateScanQR || i.cli == nil {
		return "", &StateError{Err: ErrNotAwaitingQR, State: i.row.State}
	}
	code, err := i.cli.PairPhone(ctx, phone, true, whatsmeow.PairClientChrome, "Chrome (Linux)")
	if err != nil {
		var iqErr *whatsmeow.IQError
		if errors.Is(err, whatsmeow.ErrPhoneNumberTooShort) || errors.Is(err, whatsmeow.ErrPhoneNumberIsNotInternational) {
			return "", invalid("phone", err.Error())
		} else if errors.As(err, &iqErr) && iqErr.Code >= 400 && iqErr.Code < 500 {
			return "", invalid("phone", fmt.Sprintf("WhatsApp refused the number (%d %s): is it on WhatsApp?", iqErr.Code, iqErr.Text))
		}
		return "", fmt.Errorf("instance: pair code: %w", err)
	}
	if i.row.Phone != phone {
		_ = i.saveRow(ctx, func(r *store.Instance) { r.Phone = phone })
	}
	return code, nil
}
