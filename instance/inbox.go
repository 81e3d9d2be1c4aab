package instance

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"go.mau.fi/whatsmeow"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// inbox commits a connection's received messages in batches, off
// whatsmeow's event goroutine, and acks each to WhatsApp only once its
// batch is committed.
//
// whatsmeow handles a connection's stanzas one at a time and, with
// SynchronousAck, acks a message when the handler returns. Committing in
// the handler put a transaction on the path of every message (a quarter of
// a bare client's receive rate). So the handler queues the message and
// returns false, which makes whatsmeow neither ack it nor clear its
// plaintext from the decrypted-event buffer; the inbox stores the batch,
// clears those buffer rows in the same transaction and then sends the
// receipts whatsmeow would have sent. A crash before the commit leaves the
// messages unacked and buffered: WhatsApp delivers them again and whatsmeow
// hands back their plaintext. A crash after it: the redelivered copies find
// their buffer rows cleared and are only acked.
type inbox struct {
	i      *instance
	cli    *whatsmeow.Client
	gen    int
	ourJID string
	// hash is the buffer row of the message whatsmeow is decrypting; set
	// by the event buffer (bufferTap) just before the message's dispatch,
	// on the same goroutine.
	hash atomic.Pointer[[32]byte]

	mu      sync.Mutex
	cond    sync.Cond
	queue   []inboxItem
	queued  uint64        // items ever queued
	settled uint64        // items committed or given up
	idle    chan struct{} // closed when the draining goroutine ends
	closed  bool          // no more items; receipts muted once mute is set
	mute    bool
	failed  bool // a batch could not be committed: nothing more is acked
}

type inboxItem struct {
	e    *events.Message
	d    digested
	hash *[32]byte
}

// inboxBatch bounds one transaction.
const inboxBatch = 256

func newInbox(i *instance, cli *whatsmeow.Client, gen int) *inbox {
	b := &inbox{i: i, cli: cli, gen: gen}
	b.cond.L = &b.mu
	return b
}

// take queues e, whose plaintext whatsmeow buffered under hash, if the
// inbox can ack it; queued false means the caller handles it as before
// (commit, then let whatsmeow ack). ok is false when the message must stay
// unacked (the inbox is closed or failed).
func (b *inbox) take(e *events.Message, d digested, hash *[32]byte) (queued, ok bool) {
	if hash == nil || !ackable(&e.Info) {
		return false, true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.failed {
		return false, false
	}
	if b.ourJID == "" && b.cli.Store.ID != nil {
		b.ourJID = b.cli.Store.ID.String()
	}
	b.queue = append(b.queue, inboxItem{e: e, d: d, hash: hash})
	b.queued++
	if b.idle == nil {
		b.idle = make(chan struct{})
		b.i.m.calls.Add(1)
		go b.drain(b.idle)
	}
	return true, true
}

// flush waits until everything queued so far is committed or given up, so
// a message handled outside the inbox (a reaction, an edit) finds the one
// it refers to.
func (b *inbox) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for target := b.queued; b.settled < target; {
		b.cond.Wait()
	}
}

// broken reports whether a batch failed on this connection.
func (b *inbox) broken() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failed
}

// close refuses new items and waits up to wait for the queued ones; after
// that their receipts are no longer sent (the connection is going away and
// WhatsApp delivers them again).
func (b *inbox) close(wait time.Duration) {
	b.mu.Lock()
	b.closed = true
	idle := b.idle
	b.mu.Unlock()
	if idle != nil && !closedWithin(idle, wait) {
		b.mu.Lock()
		b.mute = true
		b.mu.Unlock()
	}
}

func (b *inbox) drain(idle chan struct{}) {
	defer b.i.m.calls.Done()
	for {
		b.mu.Lock()
		n := min(len(b.queue), inboxBatch)
		if n == 0 {
			b.idle = nil
			close(idle)
			b.cond.Broadcast()
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()

		b.commit(batch)

		b.mu.Lock()
		b.settled += uint64(n)
		b.cond.Broadcast()
		b.mu.Unlock()
	}
}

// commit stores a batch, then acks it.
func (b *inbox) commit(batch []inboxItem) {
	i := b.i
	ctx, cancel := context.WithTimeout(context.WithoutCancel(i.m.ctx), 30*time.Second)
	defer cancel()
	snap := i.snapshot()
	items := make([]store.Inbound, len(batch))
	rows := make([]*store.Message, len(batch))
	for k, it := range batch {
		m, evType := i.incomingRow(ctx, &it.e.Info, it.d)
		data, _ := json.Marshal(viewMessage(snap.info.Name, m))
		items[k] = store.Inbound{Message: m, EventType: evType, Data: data, BufferHash: it.hash[:]}
		rows[k] = m
	}
	dup, err := i.m.store.StoreInbound(ctx, b.ourJID, items)
	if err != nil {
		i.log.Error("cannot store incoming messages; not acking them, WhatsApp will deliver them again", "messages", len(batch), "err", err)
		b.mu.Lock()
		b.failed = true
		b.mu.Unlock()
		i.post(func() { i.unackedInbound(b.gen) })
		return
	}
	b.mu.Lock()
	mute := b.mute
	b.mu.Unlock()
	if !mute {
		internals := b.cli.DangerousInternals() //lint:ignore SA1019 whatsmeow exports its message receipt only here; see ackable
		for _, it := range batch {
			internals.SendMessageReceipt(ctx, &it.e.Info, receiptNode(&it.e.Info))
		}
	}
	settings := snap.info.Settings
	i.post(func() {
		for k, it := range batch {
			i.afterMessage(b.gen, b.cli, it.e, dup[k])
			m := rows[k]
			if b.gen == i.gen && !dup[k] && it.d.content.Media != nil && settings.AutoDownload && it.d.content.Media.Size <= settings.MaxDownloadMB<<20 {
				i.autoDownload(b.cli, m)
			}
		}
	})
}

// ackable reports whether receiptNode rebuilds the addressing of e's
// stanza faithfully: messages from phones' and linked devices' user or LID
// JIDs into a DM or a group. Newsletters, broadcasts, bots and hosted
// (Cloud API) senders, whose stanzas whatsmeow rewrites while parsing, are
// committed in the handler and acked by whatsmeow itself.
func ackable(info *types.MessageInfo) bool {
	switch info.Chat.Server {
	case types.DefaultUserServer, types.HiddenUserServer, types.GroupServer:
	default:
		return false
	}
	switch info.Sender.Server {
	case types.DefaultUserServer, types.HiddenUserServer:
	default:
		return false
	}
	return info.Sender.Device != hostedDevice && !info.Sender.IsBot()
}

// hostedDevice is the device number of hosted (Cloud API) accounts, whose
// "hosted" server whatsmeow rewrites to the user server while parsing.
const hostedDevice = 99

// receiptNode rebuilds the attributes of a message stanza that whatsmeow's
// receipt reads (buildBaseReceipt: from, recipient, participant), inverting
// parseMessageSource for the stanzas ackable admits.
func receiptNode(info *types.MessageInfo) *waBinary.Node {
	attrs := waBinary.Attrs{}
	switch {
	case info.IsGroup:
		attrs["from"] = info.Chat
		attrs["participant"] = info.Sender
	case info.IsFromMe:
		attrs["from"] = info.Sender
		attrs["recipient"] = info.Chat
	default:
		attrs["from"] = info.Sender
	}
	return &waBinary.Node{Tag: "message", Attrs: attrs}
}

// incomingRow builds the stored row of a received message (or one the
// phone sent): one person, one chat — a LID chat or sender is stored under
// the phone JID when WhatsApp told us the number (identity.go).
func (i *instance) incomingRow(ctx context.Context, info *types.MessageInfo, d digested) (*store.Message, string) {
	group := info.Chat.Server == types.GroupServer
	broadcast := info.Chat.Server == types.BroadcastServer
	d.sum.PushName, d.sum.IsGroup = info.PushName, group
	sj, _ := json.Marshal(d.sum)
	chatAlt := info.SenderAlt
	if info.IsFromMe {
		chatAlt = info.RecipientAlt
	}
	chat := info.Chat.ToNonAD().String()
	if !group && !broadcast {
		chat = i.m.chatKey(ctx, info.Chat, chatAlt)
	}
	sender := i.m.person(ctx, info.Sender, info.SenderAlt)
	d.content.Sender = &sender
	senderKey := info.Sender.ToNonAD().String()
	if sender.JID != "" {
		senderKey = sender.JID
	}
	m := &store.Message{
		InstanceID: i.id, ID: info.ID, Direction: "in", Chat: chat, Sender: senderKey,
		Type: d.typ, Text: d.text, Summary: sj, Status: event.StatusReceived, CreatedAt: info.Timestamp.UTC(),
		Content: marshalOrNil(d.content), MediaRef: marshalOrNil(d.ref),
	}
	evType := event.TypeMessageReceived
	if info.IsFromMe {
		// Sent from the phone or another linked device.
		m.Direction, m.Status, m.Recipient, m.SentAt, evType = "out", event.StatusSent, chat, info.Timestamp.UTC(), event.TypeMessageEcho
	}
	return m, evType
}
