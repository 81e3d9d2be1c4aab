package instance

import (
	"context"
	"encoding/json"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/store"
)

// receive stores a message that arrived (or that the phone sent) with its
// event. It runs on whatsmeow's event goroutine, which acks the message to
// WhatsApp only if it returns true (see newClient). Plain messages go to
// the inbox, which commits them in batches and acks them itself (false
// here keeps whatsmeow from acking); the others are committed here, after
// the inbox has caught up, so a reaction or an edit finds its message. A
// message that could not be committed is not acked, and WhatsApp delivers
// it again on the next login. Settings and name come from the published
// snapshot; the actor gets the follow-up work.
func (i *instance) receive(gen int, cli *whatsmeow.Client, ib *inbox, e *events.Message) bool {
	// Taken for every message, so that a stale one never travels with a
	// message that was not decrypted through the buffer.
	hash := ib.hash.Swap(nil)
	snap := i.snapshot()
	settings := snap.info.Settings
	info := e.Info
	group := info.Chat.Server == types.GroupServer
	broadcast := info.Chat.Server == types.BroadcastServer
	if (group && settings.IgnoreGroups) || (broadcast && settings.IgnoreBroadcasts) {
		return true
	}
	if e.Message == nil {
		return true
	}
	d := digest(e.Message)
	if d.typ == "" {
		return true
	}
	if d.target == "" {
		if queued, ok := ib.take(e, d, hash); queued || !ok {
			return false
		}
	}
	ib.flush()
	if ib.broken() {
		return false // keep the order: nothing after a failed batch is acked
	}
	ctx, cancel := context.WithTimeout(i.m.ctx, 10*time.Second)
	defer cancel()
	m, evType := i.incomingRow(ctx, &info, d)
	if d.target != "" {
		return i.receiveRelated(gen, cli, e, m, d)
	}
	data, _ := json.Marshal(viewMessage(snap.info.Name, m))
	dup, err := i.m.store.StoreMessage(ctx, m, evType, data)
	if err != nil {
		i.log.Error("cannot store message; not acking it, WhatsApp will deliver it again", "id", info.ID, "err", err)
		i.post(func() { i.unackedInbound(gen) })
		return false
	}
	i.post(func() {
		i.afterMessage(gen, cli, e, dup)
		if gen == i.gen && !dup && d.content.Media != nil && settings.AutoDownload && d.content.Media.Size <= settings.MaxDownloadMB<<20 {
			i.autoDownload(cli, m)
		}
	})
	return true
}

// afterMessage applies the settings about a stored message.
func (i *instance) afterMessage(gen int, cli *whatsmeow.Client, e *events.Message, dup bool) {
	i.countsChanged()
	info := e.Info
	if gen != i.gen || dup || info.IsFromMe {
		return
	}
	i.heardFrom(info.IsGroup)
	broadcast := info.Chat.Server == types.BroadcastServer
	status := info.Chat == types.StatusBroadcastJID
	if (status && i.settings.ReadStatus) || (!status && !broadcast && i.settings.MarkRead) {
		i.goCall(func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(i.m.ctx), 30*time.Second)
			defer cancel()
			if err := cli.MarkRead(ctx, []types.MessageID{info.ID}, time.Now(), info.Chat, info.Sender); err != nil {
				i.log.Debug("cannot mark read", "id", info.ID, "err", err)
				return
			}
			_ = i.m.store.MarkIncomingRead(ctx, i.id, []string{info.ID})
		})
	}
}

// onReceipt moves our outgoing messages forward when the other side
// received, read or played them.
func (i *instance) onReceipt(e *events.Receipt) {
	if e.IsFromMe {
		return // our own other devices reading the chat
	}
	var status string
	switch e.Type {
	case types.ReceiptTypeDelivered:
		status = event.StatusDelivered
	case types.ReceiptTypeRead:
		status = event.StatusRead
	case types.ReceiptTypePlayed:
		status = event.StatusPlayed
	default:
		return
	}
	at := e.Timestamp.UTC()
	for _, id := range e.MessageIDs {
		i.rcpts = append(i.rcpts, store.Receipt{ID: id, Status: status, At: at})
	}
	if e.IsGroup {
		i.groupReceipt(e, status, at)
	}
	// Receipts arriving while the actor is busy are applied together, in
	// one transaction: under load a send's delivered and read receipts
	// share a commit with their neighbours'.
	if !i.rcptsPosted {
		i.rcptsPosted = true
		i.post(i.flushReceipts)
	}
}

func (i *instance) flushReceipts() {
	rs, gs := i.rcpts, i.grcpts
	i.rcpts, i.grcpts, i.rcptsPosted = nil, nil, false
	i.applyReceipts(rs)
	if len(gs) > 0 {
		i.applyGroupReceipts(gs)
	}
}

func (i *instance) applyReceipts(rs []store.Receipt) {
	now := i.flight.sort(rs)
	if len(now) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	held, err := i.m.store.ApplyReceipts(ctx, i.id, now)
	if err != nil {
		i.log.Error("cannot apply receipts", "err", err)
		return
	}
	// Still queued or sending: kept until the sender has recorded the ack.
	i.flight.hold(held)
}

// releaseReceipts applies the receipts held for id once the sender has
// recorded its outcome; those still early (a retry is under way) stay held.
func (i *instance) releaseReceipts(id string) {
	if rs := i.flight.release(id); len(rs) > 0 {
		i.applyReceipts(rs)
	}
}

// onCall rejects the call if the settings say so, and publishes it either way.
func (i *instance) onCall(cli *whatsmeow.Client, e *events.CallOffer) {
	caller := e.CallCreator
	if caller.Server != types.DefaultUserServer && e.CallCreatorAlt.Server == types.DefaultUserServer {
		caller = e.CallCreatorAlt
	}
	rejected := i.settings.RejectCalls
	if rejected {
		from, callID, msg := e.From, e.CallID, i.settings.RejectCallMessage
		i.goCall(func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(i.m.ctx), 30*time.Second)
			defer cancel()
			if err := cli.RejectCall(ctx, from, callID); err != nil {
				i.log.Warn("cannot reject call", "err", err)
			}
		})
		if msg != "" && caller.Server == types.DefaultUserServer {
			go func() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(i.m.ctx), 30*time.Second)
				defer cancel()
				if _, _, err := i.m.Send(ctx, i.id, SendParams{To: "+" + caller.User, Text: msg}, ""); err != nil {
					i.log.Warn("cannot queue the reject-call message", "err", err)
				}
			}()
		}
	}
	data, _ := json.Marshal(event.Call{
		CallID: e.CallID, From: "+" + caller.User, FromJID: caller.String(), Rejected: rejected, At: e.Timestamp.UTC(),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := i.m.store.AppendEvent(ctx, store.Event{InstanceID: i.id, Type: event.TypeCallReceived, Data: data}); err != nil {
		i.log.Error("cannot record call", "err", err)
	}
}

// groupRcpt is one member's receipt of a sent group message.
type groupRcpt struct {
	id     string
	who    event.Person
	status string
	at     time.Time
}

// groupReceipt queues one member's receipt; flushReceipts writes the batch:
// a group of 50 answers each message with up to 100 receipts, and one
// write per message per batch keeps that from costing a transaction each.
func (i *instance) groupReceipt(e *events.Receipt, status string, at time.Time) {
	ctx, cancel := context.WithTimeout(i.m.ctx, 10*time.Second)
	defer cancel()
	who := i.m.person(ctx, e.Sender, e.SenderAlt)
	for _, id := range e.MessageIDs {
		i.grcpts = append(i.grcpts, groupRcpt{id: id, who: who, status: status, at: at})
	}
}

// applyGroupReceipts records members' receipts on their messages, each
// message's content decoded and written once.
func (i *instance) applyGroupReceipts(rs []groupRcpt) {
	byID := map[string][]groupRcpt{}
	var ids []string
	for _, r := range rs {
		if _, ok := byID[r.id]; !ok {
			ids = append(ids, r.id)
		}
		byID[r.id] = append(byID[r.id], r)
	}
	ctx, cancel := context.WithTimeout(i.m.ctx, 10*time.Second)
	defer cancel()
	err := i.m.store.ChangeMessages(ctx, i.id, ids, func(t *store.Message) ([]store.Event, error) {
		if t.Direction != "out" {
			return nil, nil
		}
		c, err := decodeContent(t)
		if err != nil {
			return nil, err
		}
		for _, r := range byID[t.ID] {
			c.Receipts = setReceipt(c.Receipts, event.Receipt{Person: r.who, Status: r.status, At: r.at})
		}
		t.Content = marshalOrNil(c)
		return nil, nil
	})
	if err != nil {
		i.log.Warn("cannot record group receipts", "err", err)
	}
}

// setReceipt keeps each member's most advanced receipt.
func setReceipt(list []event.Receipt, r event.Receipt) []event.Receipt {
	rank := map[string]int{event.StatusDelivered: 1, event.StatusRead: 2, event.StatusPlayed: 3}
	for k, x := range list {
		if (x.Phone != "" && x.Phone == r.Phone) || (x.LID != "" && x.LID == r.LID) {
			if rank[r.Status] > rank[x.Status] {
				list[k] = r
			}
			return list
		}
	}
	return append(list, r)
}
