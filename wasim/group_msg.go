package wasim

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.mau.fi/libsignal/groups"
	"go.mau.fi/libsignal/protocol"
	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

// groupSendRefusal is the ack error of a group message the server does not
// take: 404 for a group that does not exist, 403 for a sender who is not a
// member, or not an admin of an announcement group. Any ack error fails
// the client's SendMessage at once (whatsmeow send.go:438-443).
func groupSendRefusal(g *groupRow, sender string) int {
	switch {
	case g == nil:
		return 404
	case g.member(sender) == nil:
		return 403
	case g.Announce && !g.isAdmin(sender):
		return 403
	}
	return 0
}

// groupDevices lists every device of every member as the group addresses
// them (PN or LID JIDs): phones, simulated extra devices and linked devices.
func (s *Server) groupDevices(ctx context.Context, g *groupRow) []types.JID {
	var out []types.JID
	for _, m := range g.Members {
		u := s.lookupUser(m.Phone)
		if u == nil {
			continue
		}
		base := s.memberJID(ctx, g, m.Phone)
		for _, d := range s.allDevicesOf(u) {
			j := base
			j.Device = d.Device
			out = append(out, j)
		}
	}
	return out
}

// participantHash is whatsmeow's participantListHashV2 (phash).
func participantHash(devices []types.JID) string {
	list := make([]string, len(devices))
	for i, d := range devices {
		list[i] = d.ADString()
	}
	sort.Strings(list)
	sum := sha256.Sum256([]byte(strings.Join(list, "")))
	return "2:" + base64.RawStdEncoding.EncodeToString(sum[:6])
}

// groupAttrs are the attributes of a group message or receipt delivered
// from a member's device: participant in the group's addressing mode and
// the other JID in participant_pn / participant_lid.
func (s *Server) groupAttrs(ctx context.Context, g *groupRow, from types.JID) waBinary.Attrs {
	pn, lid := s.pnAndLID(ctx, from.User)
	a := waBinary.Attrs{"from": g.jid()}
	if g.LID {
		p := lid
		p.Device = from.Device
		a["participant"], a["participant_pn"], a["addressing_mode"] = p, pn, string(types.AddressingModeLID)
	} else {
		p := pn
		p.Device = from.Device
		a["participant"], a["addressing_mode"] = p, string(types.AddressingModePN)
		if !lid.IsEmpty() {
			a["participant_lid"] = lid
		}
	}
	return a
}

// handleGroupMessage routes a message a linked device sent to a group:
// every <to> device but the sender gets its pkmsg/msg (the sender key)
// followed by the skmsg; phones and simulated devices decrypt theirs.
func (c *conn) handleGroupMessage(n *waBinary.Node) {
	s := c.s
	sender := c.loggedIn()
	id, _ := n.Attrs["id"].(string)
	to, _ := n.Attrs["to"].(types.JID)
	if sender.IsEmpty() || id == "" {
		return
	}
	ack := waBinary.Attrs{"class": "message", "id": id, "from": to}
	g := s.group(to)
	if code := groupSendRefusal(g, sender.User); code != 0 {
		s.record(func(o *observations) {
			o.rejected = append(o.rejected, Rejected{Device: sender, ID: id, To: to.String()})
		})
		ack["error"] = fmt.Sprint(code)
		ack["t"] = time.Now().Unix()
		_ = c.send(waBinary.Node{Tag: "ack", Attrs: ack})
		return
	}
	if requester, ok := n.Attrs["participant"].(types.JID); ok {
		// A resend for one member that asked for it (retry receipt).
		ack["t"] = time.Now().Unix()
		if enc, ok := n.GetOptionalChildByTag("enc"); ok {
			s.routeGroupEnc(c.ctx, g, sender, requester, id, n, []waBinary.Node{enc}, time.Now().Unix())
		}
		c.sendMessageAck(sender.User, ack)
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
	if want := participantHash(s.groupDevices(c.ctx, g)); n.Attrs["phash"] != want {
		// The client's member or device list is stale: it drops its cache
		// and asks again before its next send.
		ack["phash"] = want
		s.record(func(o *observations) { o.phashMismatches++ })
	}
	var skmsg *waBinary.Node
	for _, e := range n.GetChildrenByTag("enc") {
		if t, _ := e.Attrs["type"].(string); t == "skmsg" {
			skmsg = &e
		}
	}
	got := map[string]bool{}
	for _, p := range kids(n.GetChildByTag("participants")) {
		dest, ok := p.Attrs["jid"].(types.JID)
		if !ok || p.Tag != "to" {
			continue
		}
		encs := p.GetChildrenByTag("enc")
		if skmsg != nil {
			encs = append(encs, *skmsg)
		}
		if s.routeGroupEnc(c.ctx, g, sender, dest, id, n, encs, t) {
			got[s.phoneOfJID(dest)+":"+fmt.Sprint(dest.Device)] = true
		}
	}
	if skmsg != nil {
		// Member devices the client did not list get the skmsg alone; a
		// linked device asks the sender for the key with a retry receipt.
		for _, m := range g.Members {
			u := s.lookupUser(m.Phone)
			if u == nil {
				continue
			}
			for _, d := range s.devicesOf(u)[1:] {
				if d == sender || got[d.User+":"+fmt.Sprint(d.Device)] {
					continue
				}
				s.routeGroupEnc(c.ctx, g, sender, d, id, n, []waBinary.Node{*skmsg}, t)
			}
		}
	}
	if err := s.markSeen(c.ctx, sender.User, id, t); err != nil {
		s.log.Error("wasim: mark seen", "err", err)
		return
	}
	c.sendMessageAck(sender.User, ack)
}

// routeGroupEnc delivers the encs of one device (sender key first, then
// the skmsg). It reports false for a device the server does not route to:
// the sender itself or the device of someone not in the group.
func (s *Server) routeGroupEnc(ctx context.Context, g *groupRow, sender, dest types.JID, id string, n *waBinary.Node, encs []waBinary.Node, t int64) bool {
	phone := s.phoneOfJID(dest)
	if phone == "" || g.member(phone) == nil || (phone == sender.User && dest.Device == sender.Device) {
		return false
	}
	u := s.lookupUser(phone)
	if u == nil {
		return false
	}
	if dest.Device != 0 && s.companionOf(types.JID{User: phone, Server: types.DefaultUserServer, Device: dest.Device}) != nil {
		attrs := s.groupAttrs(ctx, g, sender)
		attrs["id"], attrs["t"] = id, t
		for _, k := range []string{"type", "edit", "mediatype"} {
			if v, ok := n.Attrs[k]; ok {
				attrs[k] = v
			}
		}
		if su := s.lookupUser(sender.User); su != nil && su.pushName != "" {
			attrs["notify"] = su.pushName
		}
		s.deliver(ctx, types.JID{User: phone, Server: types.DefaultUserServer, Device: dest.Device}, waBinary.Node{Tag: "message", Attrs: attrs, Content: encs})
		return true
	}
	sd := s.simDeviceFor(u, dest.Device)
	if sd == nil {
		return false
	}
	m, err := s.simDecryptGroup(ctx, sd, g.jid(), sender, encs)
	if err != nil {
		s.log.Warn("wasim: phone cannot decrypt a group message", "device", sd.jid, "from", sender, "id", id, "err", err)
		s.record(func(o *observations) { o.decryptFailures++ })
		return true
	}
	if m != nil && sd.jid.Device == 0 {
		s.phoneTake(ctx, u, sender, g.jid(), id, m)
	} else if m != nil {
		s.record(func(o *observations) { o.simDeviceMessages[sd.jid.String()]++ })
	}
	return true
}

// simDecryptGroup is a simulated device (a phone or a contact's extra
// device) taking its encs of a group message: a pkmsg/msg with the sender
// key (or, for a retry, the whole message), then the skmsg. It returns
// the content, or nil if there was only a sender key.
func (s *Server) simDecryptGroup(ctx context.Context, sd *simDevice, group, sender types.JID, encs []waBinary.Node) (*waE2E.Message, error) {
	var content *waE2E.Message
	for _, enc := range encs {
		typ, _ := enc.Attrs["type"].(string)
		if typ != "skmsg" {
			m, err := s.simDecrypt(ctx, sd, sender, enc)
			if err != nil {
				return nil, err
			}
			if skdm := m.GetSenderKeyDistributionMessage(); skdm != nil {
				if err := s.processSKDM(ctx, sd, group, sender, skdm.GetAxolotlSenderKeyDistributionMessage()); err != nil {
					return nil, err
				}
			}
			if textOf(m) != "" || !onlySenderKey(m) {
				content = m
			}
			continue
		}
		plain, err := s.skDecrypt(ctx, sd, group, sender, enc)
		if err != nil {
			return nil, err
		}
		var m waE2E.Message
		if err := proto.Unmarshal(plain, &m); err != nil {
			return nil, fmt.Errorf("unmarshal group message: %w", err)
		}
		content = &m
	}
	return content, nil
}

// onlySenderKey reports whether m carries nothing but a sender key.
func onlySenderKey(m *waE2E.Message) bool {
	c := proto.Clone(m).(*waE2E.Message)
	c.SenderKeyDistributionMessage = nil
	c.MessageContextInfo = nil
	return proto.Size(c) == 0
}

func (s *Server) processSKDM(ctx context.Context, sd *simDevice, group, sender types.JID, axolotl []byte) error {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	dev, err := s.simStore(ctx, sd)
	if err != nil {
		return err
	}
	msg, err := protocol.NewSenderKeyDistributionMessageFromBytes(axolotl, serializer.SenderKeyDistributionMessage)
	if err != nil {
		return fmt.Errorf("parse sender key: %w", err)
	}
	name := protocol.NewSenderKeyName(group.String(), sender.SignalAddress())
	return groups.NewGroupSessionBuilder(dev, serializer).Process(ctx, name, msg)
}

func (s *Server) skDecrypt(ctx context.Context, sd *simDevice, group, sender types.JID, enc waBinary.Node) ([]byte, error) {
	content, _ := enc.Content.([]byte)
	sd.mu.Lock()
	defer sd.mu.Unlock()
	dev, err := s.simStore(ctx, sd)
	if err != nil {
		return nil, err
	}
	msg, err := protocol.NewSenderKeyMessageFromBytes(content, serializer.SenderKeyMessage)
	if err != nil {
		return nil, fmt.Errorf("parse skmsg: %w", err)
	}
	name := protocol.NewSenderKeyName(group.String(), sender.SignalAddress())
	plain, err := groups.NewGroupCipher(groups.NewGroupSessionBuilder(dev, serializer), name, dev).Decrypt(ctx, msg)
	if err != nil {
		return nil, fmt.Errorf("decrypt skmsg: %w", err)
	}
	return unpad(plain)
}

// scheduleGroupReceipts is scheduleReceipts for a group message: the
// receipts come from the group with the reader as participant.
func (s *Server) scheduleGroupReceipts(reader *user, group types.JID, to types.JID, id string) {
	g := s.group(group)
	if g == nil {
		return
	}
	s.receiptsLater(to, func() waBinary.Attrs {
		attrs := s.groupAttrs(s.ctx, g, reader.jid())
		delete(attrs, "addressing_mode")
		attrs["id"], attrs["t"] = id, time.Now().Unix()
		return attrs
	})
}

// forwardGroupReceipt passes a linked device's receipt for a group message
// on to the account that sent it.
func (s *Server) forwardGroupReceipt(ctx context.Context, dev, group, participant types.JID, id, typ string) {
	g := s.group(group)
	phone := s.phoneOfJID(participant)
	if g == nil || phone == "" || phone == dev.User {
		return
	}
	attrs := s.groupAttrs(ctx, g, dev.ToNonAD())
	delete(attrs, "addressing_mode")
	attrs["id"], attrs["t"] = id, time.Now().Unix()
	if typ != "" {
		attrs["type"] = typ
	}
	s.deliverToAccount(ctx, phone, waBinary.Node{Tag: "receipt", Attrs: attrs})
}
