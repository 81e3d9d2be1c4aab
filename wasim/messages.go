package wasim

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

// handleMessage routes a message a linked device sent: every <to> entry is
// delivered to its device, the phones decrypt theirs, and the sender gets
// the server ack. A resent id is acknowledged again but delivered once.
func (c *conn) handleMessage(n *waBinary.Node) {
	s := c.s
	sender := c.loggedIn()
	id, _ := n.Attrs["id"].(string)
	to, _ := n.Attrs["to"].(types.JID)
	if sender.IsEmpty() || id == "" {
		return
	}
	if to.Server == types.GroupServer {
		c.handleGroupMessage(n)
		return
	}
	ack := waBinary.Attrs{"class": "message", "id": id, "from": to}
	if code := s.dmRefusal(c.ctx, sender, to); code != "" {
		s.record(func(o *observations) {
			o.rejected = append(o.rejected, Rejected{Device: sender, ID: id, To: to.String()})
		})
		ack["error"] = code
		ack["t"] = time.Now().Unix()
		_ = c.send(waBinary.Node{Tag: "ack", Attrs: ack})
		return
	}
	if c.retryResend(n, sender, to, id) {
		return
	}
	t, dup, err := s.seenBefore(c.ctx, sender.User, id)
	if err != nil {
		s.log.Error("wasim: seen", "err", err)
		return
	}
	ack["t"] = t
	if dup {
		s.record(func(o *observations) { o.duplicates[sender.User+"/"+id]++ })
		c.sendMessageAck(sender.User, ack)
		return
	}
	msgType, _ := n.Attrs["type"].(string)
	for _, p := range kids(n.GetChildByTag("participants")) {
		dest, ok := p.Attrs["jid"].(types.JID)
		if !ok || p.Tag != "to" {
			continue
		}
		for _, enc := range p.GetChildrenByTag("enc") {
			s.routeEnc(c.ctx, sender, to, dest, id, msgType, t, enc)
		}
	}
	// Marked seen only once delivered, as a server stores before it acks: a
	// simulator killed in between gets the resend and delivers it (a phone
	// that already had it counts a duplicate), instead of dropping it.
	if err := s.markSeen(c.ctx, sender.User, id, t); err != nil {
		s.log.Error("wasim: mark seen", "err", err)
		return
	}
	c.sendMessageAck(sender.User, ack)
}

// routeEnc delivers one encrypted copy: to a phone, which decrypts it, or to
// another linked device, which gets it as an incoming message.
func (s *Server) routeEnc(ctx context.Context, sender, chat, dest types.JID, id, msgType string, t int64, enc waBinary.Node) {
	dest = s.pnDevice(dest) // a LID-addressed device is the same device
	if isUserJID(chat) && dest.User != sender.User && s.blocked(ctx, dest.User, sender.User) {
		return // the recipient blocked the sender: WhatsApp drops it
	}
	if s.simDeviceTake(ctx, sender, dest, enc) {
		return
	}
	if dest.Device != 0 {
		attrs := waBinary.Attrs{"from": sender, "id": id, "t": t, "type": msgType}
		u := s.lookupUser(sender.User)
		if isUserJID(chat) && u != nil {
			s.dmAddressing(ctx, attrs, u, sender.Device, chat, dest.User == sender.User)
		} else if dest.User == sender.User {
			// Another device of the sender's own account: a copy of what it sent.
			attrs["from"] = sender
			attrs["recipient"] = chat
		}
		if u != nil && u.pushName != "" {
			attrs["notify"] = u.pushName
		}
		s.deliver(ctx, dest, waBinary.Node{Tag: "message", Attrs: attrs, Content: []waBinary.Node{enc}})
		return
	}
	u := s.lookupUser(dest.User)
	if u == nil {
		var err error
		if u, err = s.userFor(ctx, dest.User); err != nil {
			return
		}
	}
	if ready, fail := s.takeFailDecrypt(u.phone); fail && isUserJID(chat) {
		s.askRetry(u, sender, id, t, ready)
		return
	}
	m, err := s.phoneDecrypt(ctx, u, sender, enc)
	if err != nil {
		s.log.Warn("wasim: phone cannot decrypt", "phone", dest.User, "from", sender, "id", id, "err", err)
		s.record(func(o *observations) { o.decryptFailures++ })
		return
	}
	s.phoneReceive(ctx, u, sender, id, m)
}

func textOf(m *waE2E.Message) string {
	if m == nil {
		return ""
	}
	if t := m.GetConversation(); t != "" {
		return t
	}
	return m.GetExtendedTextMessage().GetText()
}

// seenBefore reports whether the sending account already sent id, with the
// first time stamp, and counts the resend: WhatsApp's server dedupes by id.
// For a new id it returns the time stamp to use.
func (s *Server) seenBefore(ctx context.Context, account, id string) (t int64, dup bool, err error) {
	err = s.db.QueryRowContext(ctx, `UPDATE wasim_seen SET dups = dups + 1 WHERE sender = ? AND id = ? RETURNING t`, account, id).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Now().Unix(), false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return t, true, nil
}

// markSeen records a delivered message id of a sending account.
func (s *Server) markSeen(ctx context.Context, account, id string, t int64) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO wasim_seen (sender, id, t) VALUES (?, ?, ?) ON CONFLICT (sender, id) DO NOTHING`, account, id, t)
	return err
}

// scheduleReceipts makes a contact's phone send "delivered", then "read",
// to every device of the account that sent the message.
func (s *Server) scheduleReceipts(contact *user, to types.JID, id string) {
	s.receiptsLater(to, func() waBinary.Attrs {
		return waBinary.Attrs{"from": contact.jid(), "id": id, "t": time.Now().Unix()}
	})
}

// receiptsLater sends a contact's "delivered" receipt after DeliveryDelay
// and its "read" receipt ReadDelay later (unless NoReadReceipts) to every
// device of the account to; attrs makes each receipt's attributes.
func (s *Server) receiptsLater(to types.JID, attrs func() waBinary.Attrs) {
	send := func(typ string) {
		if s.ctx.Err() != nil {
			return
		}
		a := attrs()
		if typ != "" {
			a["type"] = typ
		}
		s.deliverToAccount(s.ctx, to.User, waBinary.Node{Tag: "receipt", Attrs: a})
	}
	s.addScheduled(1)
	time.AfterFunc(s.opts.DeliveryDelay, func() {
		send("")
		if s.opts.NoReadReceipts {
			s.addScheduled(-1)
			return
		}
		time.AfterFunc(s.opts.ReadDelay, func() {
			send("read")
			s.addScheduled(-1)
		})
	})
}

// handleReceipt forwards a linked device's receipt to the other party's
// devices and records it for inspection.
func (c *conn) handleReceipt(n *waBinary.Node) {
	s := c.s
	dev := c.loggedIn()
	id, _ := n.Attrs["id"].(string)
	to, _ := n.Attrs["to"].(types.JID)
	typ, _ := n.Attrs["type"].(string)
	if dev.IsEmpty() {
		return
	}
	if typ == "server-error" {
		c.handleMediaRetry(n)
		return
	}
	ids := []string{id}
	for _, item := range kids(n.GetChildByTag("list")) {
		if iid, ok := item.Attrs["id"].(string); ok {
			ids = append(ids, iid)
		}
	}
	for _, rid := range ids {
		c.track("message/"+rid, -1)
	}
	participant, _ := n.Attrs["participant"].(types.JID)
	s.record(func(o *observations) {
		o.receipts = append(o.receipts, SentReceipt{Device: dev, To: to.String(), Participant: participant.String(), Type: typ, IDs: ids, At: time.Now()})
	})
	_ = c.send(waBinary.Node{Tag: "ack", Attrs: waBinary.Attrs{"class": "receipt", "id": id, "from": to}})
	// Another linked device (of another account) learns its message arrived.
	if to.Server == types.DefaultUserServer && to.User != dev.User && typ != "sender" && typ != "retry" {
		attrs := waBinary.Attrs{"from": dev.ToNonAD(), "id": id, "t": time.Now().Unix()}
		if typ != "" {
			attrs["type"] = typ
		}
		s.deliverToAccount(c.ctx, to.User, waBinary.Node{Tag: "receipt", Attrs: attrs})
	}
	if to.Server == types.GroupServer && typ != "sender" && typ != "retry" {
		s.forwardGroupReceipt(c.ctx, dev, to, participant, id, typ)
	}
}

// deliverToAccount sends a node to every linked device of an account.
func (s *Server) deliverToAccount(ctx context.Context, phone string, n waBinary.Node) {
	u := s.lookupUser(phone)
	if u == nil {
		return
	}
	for _, d := range s.devicesOf(u)[1:] {
		s.deliver(ctx, d, n)
	}
}

// deliver sends a node to a linked device now, or keeps it in the offline
// queue until the device logs in again, as WhatsApp does.
func (s *Server) deliver(ctx context.Context, device types.JID, n waBinary.Node) {
	s.mu.Lock()
	c := s.conns[device.String()]
	queued := s.offlinePending[device.String()]
	s.mu.Unlock()
	if c != nil && !queued && c.send(n) == nil {
		return
	}
	data, err := waBinary.Marshal(n)
	if err != nil {
		return
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO wasim_offline (jid, node) VALUES (?, ?)`, device.String(), data); err != nil {
		s.log.Error("wasim: queue offline", "err", err)
		return
	}
	s.mu.Lock()
	s.offlinePending[device.String()] = true
	c = s.conns[device.String()]
	s.mu.Unlock()
	if c != nil {
		go s.flushOffline(c, device)
	}
}

// flushOffline sends a device's queued stanzas in order after it logs in.
func (s *Server) flushOffline(c *conn, device types.JID) {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	ctx := c.ctx
	for {
		var seq int64
		var data []byte
		err := s.db.QueryRowContext(ctx, `SELECT seq, node FROM wasim_offline WHERE jid = ? ORDER BY seq LIMIT 1`, device.String()).Scan(&seq, &data)
		if errors.Is(err, sql.ErrNoRows) {
			s.mu.Lock()
			var more int
			_ = s.db.QueryRowContext(ctx, `SELECT count(*) FROM wasim_offline WHERE jid = ?`, device.String()).Scan(&more)
			if more == 0 {
				delete(s.offlinePending, device.String())
			}
			s.mu.Unlock()
			if more == 0 {
				return
			}
			continue
		} else if err != nil {
			return
		}
		// The row holds waBinary.Marshal output, which starts with the
		// frame's flag byte: Unpack strips it before Unmarshal.
		plain, err := waBinary.Unpack(data)
		var node *waBinary.Node
		if err == nil {
			node, err = waBinary.Unmarshal(plain)
		}
		if err != nil {
			s.log.Error("wasim: dropping unreadable queued stanza", "device", device, "err", err)
			_, _ = s.db.ExecContext(ctx, `DELETE FROM wasim_offline WHERE seq = ?`, seq)
			continue
		}
		if err := c.send(*node); err != nil {
			return
		}
		_, _ = s.db.ExecContext(ctx, `DELETE FROM wasim_offline WHERE seq = ?`, seq)
	}
}

// Incoming is a contact sending text to an account: its phone encrypts for
// every linked device (pkmsg first, msg once a session exists). It returns
// the message id.
func (s *Server) Incoming(ctx context.Context, from, to, text, pushName string) (string, error) {
	s.noteWrote(from, to)
	return s.sendFromPhone(ctx, from, to, types.EmptyJID, &waE2E.Message{Conversation: &text}, pushName)
}

// GroupMessage is a contact sending text into a group the account is in: the
// sender key goes out in a pkmsg/msg, the text in a skmsg.
func (s *Server) GroupMessage(ctx context.Context, group, from, to, text, pushName string) (string, error) {
	gid, err := types.ParseJID(group)
	if err != nil || gid.Server != types.GroupServer {
		return "", fmt.Errorf("wasim: invalid group JID %q", group)
	}
	return s.sendFromPhone(ctx, from, to, gid, &waE2E.Message{Conversation: &text}, pushName)
}

// StatusUpdate is a contact posting a text status that the account sees.
func (s *Server) StatusUpdate(ctx context.Context, from, to, text, pushName string) (string, error) {
	return s.sendFromPhone(ctx, from, to, types.StatusBroadcastJID, &waE2E.Message{Conversation: &text}, pushName)
}

func (s *Server) sendFromPhone(ctx context.Context, from, to string, chat types.JID, m *waE2E.Message, pushName string) (string, error) {
	sender, err := s.userFor(ctx, from)
	if err != nil {
		return "", err
	}
	rcpt, err := s.userFor(ctx, to)
	if err != nil {
		return "", err
	}
	id := "3EB0" + randomID(8)
	return id, s.phoneDeliver(ctx, sender, rcpt, id, chat, m, pushName, nil)
}

// phoneDeliver is sendFromPhone with the id chosen and extra attributes of
// the message node (type, edit) and of the enc nodes (mediatype).
func (s *Server) phoneDeliver(ctx context.Context, sender, rcpt *user, id string, chat types.JID, m *waE2E.Message, pushName string, wire *wireAttrs) error {
	if g := s.group(chat); g != nil {
		return s.phoneDeliverGroup(ctx, sender, g, id, m, pushName, wire)
	}
	devices := s.devicesOf(rcpt)[1:]
	if len(devices) == 0 {
		return fmt.Errorf("%w: +%s", ErrNotLinked, rcpt.phone)
	}
	if wire == nil {
		wire = &wireAttrs{msgType: "text"}
	}
	if chat.Server != types.GroupServer && s.blocked(ctx, rcpt.phone, sender.phone) {
		s.countBlockedDrop(rcpt.phone)
		return nil // the account blocked the contact: WhatsApp drops it
	}
	if pushName == "" {
		pushName = s.profilePushName(ctx, sender.phone)
	}
	t := time.Now().Unix()
	var skmsg *waBinary.Node
	dm := m
	if !chat.IsEmpty() {
		dist, sk, err := s.groupEncrypt(ctx, sender, chat, m)
		if err != nil {
			return err
		}
		if wire.mediaType != "" {
			sk.Attrs["mediatype"] = wire.mediaType
		}
		dm, skmsg = dist, &sk
	}
	for _, d := range devices {
		enc, err := s.phoneEncrypt(ctx, sender, d, dm)
		if err != nil {
			return err
		}
		if wire.mediaType != "" && skmsg == nil {
			enc.Attrs["mediatype"] = wire.mediaType
		}
		attrs := waBinary.Attrs{"from": sender.jid(), "id": id, "t": t, "type": wire.msgType}
		if chat.IsEmpty() {
			dmChat := rcpt.jid()
			if wire.fromLID {
				dmChat = rcpt.lidJID()
			}
			s.dmAddressing(ctx, attrs, sender, 0, dmChat, false)
		}
		if wire.edit != "" {
			attrs["edit"] = wire.edit
		}
		if pushName != "" {
			attrs["notify"] = pushName
		}
		content := []waBinary.Node{enc}
		if skmsg != nil {
			attrs["from"] = chat
			attrs["participant"] = sender.jid()
			content = append(content, *skmsg)
		}
		s.deliver(ctx, d, waBinary.Node{Tag: "message", Attrs: attrs, Content: content})
	}
	return nil
}

// CallOffer is a contact calling an account; the linked devices get the
// offer and may reject it.
func (s *Server) CallOffer(ctx context.Context, from, to string) (string, error) {
	caller, err := s.userFor(ctx, from)
	if err != nil {
		return "", err
	}
	callee, err := s.userFor(ctx, to)
	if err != nil {
		return "", err
	}
	callID := randomID(16)
	s.deliverToAccount(ctx, callee.phone, waBinary.Node{
		Tag:   "call",
		Attrs: waBinary.Attrs{"from": caller.jid(), "id": randomID(8), "t": time.Now().Unix(), "platform": "android", "version": "2.25.1.1"},
		Content: []waBinary.Node{{Tag: "offer", Attrs: waBinary.Attrs{"call-id": callID, "call-creator": caller.jid()},
			Content: []waBinary.Node{{Tag: "audio", Attrs: waBinary.Attrs{"enc": "opus", "rate": "16000"}}}}},
	})
	return callID, nil
}
