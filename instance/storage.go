package instance

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	wastore "go.mau.fi/whatsmeow/store"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// A full disk is a state, not a crash. The instance keeps what it could not
// write and writes it once space returns: a state change stays pending and
// is retried, and incoming messages that could not be stored were not
// acked, so the instance logs in again for WhatsApp to deliver them again.

// storageRetry is how often unwritten work is tried again.
const storageRetry = 2 * time.Second

// ErrStorageFull is store.ErrFull: new work is refused until space returns.
var ErrStorageFull = store.ErrFull

// Space reports the free space of the database's filesystem.
func (m *Manager) Space() store.Space { return m.store.Space() }

// writeState records the current state and its event. previous is the last
// state written, so the event log tells the story it stored.
func (i *instance) writeState() error {
	r := i.row
	st := event.State{
		State: r.State, Previous: i.stored, Reason: r.Reason, Connection: Connection(r.State), Since: r.StateSince,
	}
	if !i.until.IsZero() {
		u := i.until.UTC()
		st.Until = &u
	}
	data, _ := json.Marshal(st)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := i.m.store.SetState(ctx, i.id, r.State, r.Reason, r.StateSince, &store.Event{Type: event.TypeState, Data: data}); err != nil {
		if !i.statePending {
			i.log.Error("cannot record state; will retry", "state", r.State, "err", err)
		}
		i.statePending = true
		i.retryStorage()
		return err
	}
	if i.statePending {
		i.log.Info("state recorded after a failed write", "state", r.State, "previous", i.stored)
	}
	i.statePending = false
	i.stored = r.State
	return nil
}

// unackedInbound notes that a message from the client of generation gen
// could not be stored and was not acked.
func (i *instance) unackedInbound(gen int) {
	if gen == i.gen {
		i.redeliver = true
		i.retryStorage()
	}
}

// retryStorage schedules flushStorage, once.
func (i *instance) retryStorage() {
	if i.storageTimer != nil {
		return
	}
	i.storageTimer = time.AfterFunc(storageRetry, func() { i.post(i.flushStorage) })
}

// flushStorage writes a pending state change and, once there is room again,
// logs in anew if incoming messages were left unacked.
func (i *instance) flushStorage() {
	i.storageTimer = nil
	if i.desiredPending {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := i.saveRow(ctx, func(*store.Instance) {})
		cancel()
		if err != nil {
			i.retryStorage()
			return
		}
		i.desiredPending = false
	}
	if i.statePending && i.writeState() != nil {
		return // retried
	}
	if !i.redeliver {
		return
	}
	if i.cli == nil {
		i.redeliver = false // the next login gets them anyway
		return
	}
	if i.m.store.Space().Full {
		i.retryStorage()
		return
	}
	i.redeliver = false
	i.log.Info("storage has room again; logging in anew so WhatsApp delivers the unacked messages again")
	i.start(event.ReasonRedeliver)
}

// bufferHooks wraps whatsmeow's decrypted-event buffer. A decryption it
// could not commit for lack of room is made to look cancelled: neither
// acked nor answered with a retry receipt (its only path that keeps a
// message pending at WhatsApp), and since the transaction rolled back, the
// redelivered copy decrypts. And the inbox learns the buffer row of the
// message about to be dispatched (inbox.go).
type bufferHooks struct {
	wastore.EventBuffer
	onFull func()
	seen   func(hash [32]byte)
	// lookup answers GetBufferedEvent off the write connection (nil: the
	// wrapped store answers).
	lookup func(ctx context.Context, hash [32]byte) (*wastore.BufferedEvent, error)
	// filter answers "never buffered" without a query (bufferfilter.go);
	// ourJID names the device, "" before pairing.
	filter *bufferFilter
	ourJID func() string
	// identities is the device's identity store, cached (identitycache.go).
	identities *identityCache
}

// wrapStores installs bufferHooks on dev's event buffer and h.identities
// on its identity store. A new device gets its stores when pairing saves
// it (sqlstore's PutDevice), so its container is wrapped to install them
// then, before the first login.
func wrapStores(dev *wastore.Device, h bufferHooks) {
	if dev.EventBuffer != nil {
		if _, done := dev.EventBuffer.(bufferHooks); !done {
			h.EventBuffer = dev.EventBuffer
			dev.EventBuffer = h
		}
		if _, done := dev.Identities.(*identityCache); !done && h.identities != nil && dev.Identities != nil {
			h.identities.IdentityStore = dev.Identities
			dev.Identities = h.identities
		}
		return
	}
	if _, done := dev.Container.(wrapOnPut); !done && dev.Container != nil {
		dev.Container = wrapOnPut{dev.Container, h}
	}
}

type wrapOnPut struct {
	wastore.DeviceContainer
	hooks bufferHooks
}

func (c wrapOnPut) PutDevice(ctx context.Context, dev *wastore.Device) error {
	err := c.DeviceContainer.PutDevice(ctx, dev)
	if dev.EventBuffer != nil {
		wrapStores(dev, c.hooks)
	}
	return err
}

// GetBufferedEvent is whatsmeow's first step of every decryption: a row
// with plaintext (a redelivery) or none (a new message) is the one the
// next dispatch carries; a cleared row is not dispatched at all.
func (b bufferHooks) GetBufferedEvent(ctx context.Context, hash [32]byte) (*wastore.BufferedEvent, error) {
	if b.filter != nil {
		if jid := b.ourJID(); jid != "" && !b.filter.mayHave(ctx, jid, hash) {
			if b.seen != nil {
				b.seen(hash)
			}
			return nil, nil
		}
	}
	get := b.EventBuffer.GetBufferedEvent
	if b.lookup != nil {
		get = b.lookup
	}
	buf, err := get(ctx, hash)
	if err == nil && (buf == nil || buf.Plaintext != nil) && b.seen != nil {
		b.seen(hash)
	}
	return buf, err
}

func (b bufferHooks) PutBufferedEvent(ctx context.Context, hash [32]byte, plaintext []byte, serverTimestamp time.Time) error {
	if b.filter != nil {
		if jid := b.ourJID(); jid != "" {
			b.filter.add(jid, hash)
		}
	}
	return b.EventBuffer.PutBufferedEvent(ctx, hash, plaintext, serverTimestamp)
}

func (b bufferHooks) DoDecryptionTxn(ctx context.Context, fn func(context.Context) error) error {
	err := b.EventBuffer.DoDecryptionTxn(ctx, fn)
	if err != nil && b.identities != nil {
		b.identities.forget()
	}
	if store.IsFull(err) {
		b.onFull()
		return fmt.Errorf("%w: %w", context.Canceled, err)
	}
	return err
}
