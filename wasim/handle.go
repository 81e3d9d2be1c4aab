package wasim

import (
	"context"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// handle dispatches one node from the client. It runs on the connection's
// reader goroutine; anything that waits for the client runs elsewhere.
func (c *conn) handle(n *waBinary.Node) {
	switch n.Tag {
	case "iq":
		c.handleIQ(n)
	case "message":
		c.handleMessage(n)
	case "receipt":
		c.handleReceipt(n)
	case "presence":
		c.handlePresence(n)
	case "chatstate":
		c.handleChatState(n)
	case "call":
		c.handleCall(n)
	case "ack":
		class, _ := n.Attrs["class"].(string)
		id, _ := n.Attrs["id"].(string)
		c.track(class+"/"+id, -1)
	case "ib":
	default:
		c.s.log.Debug("wasim: unhandled node", "tag", n.Tag)
	}
}

func (c *conn) result(id string, content ...waBinary.Node) {
	n := waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{"from": types.ServerJID, "id": id, "type": "result"}}
	if len(content) > 0 {
		n.Content = content
	}
	_ = c.send(n)
}

func (c *conn) iqError(id string, code int, text string) {
	_ = c.send(waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{"from": types.ServerJID, "id": id, "type": "error"},
		Content: []waBinary.Node{{Tag: "error", Attrs: waBinary.Attrs{"code": code, "text": text}}}})
}

func (c *conn) handleIQ(n *waBinary.Node) {
	id, _ := n.Attrs["id"].(string)
	typ, _ := n.Attrs["type"].(string)
	if typ == "result" || typ == "error" {
		c.mu.Lock()
		ch := c.waiters[id]
		c.mu.Unlock()
		if ch != nil {
			ch <- n
		}
		return
	}
	xmlns, _ := n.Attrs["xmlns"].(string)
	ctx := c.ctx
	children := n.GetChildren()
	var first waBinary.Node
	if len(children) > 0 {
		first = children[0]
	}
	dev := c.loggedIn()
	switch {
	case xmlns == "encrypt" && first.Tag == "count" && !dev.IsEmpty():
		cnt, err := c.s.preKeyCount(ctx, dev)
		if err != nil {
			c.iqError(id, 500, "internal-error")
			return
		}
		c.result(id, waBinary.Node{Tag: "count", Attrs: waBinary.Attrs{"value": cnt}})
	case xmlns == "encrypt" && typ == "set" && !dev.IsEmpty():
		c.handlePreKeyUpload(id, n, dev)
	case xmlns == "encrypt" && first.Tag == "key":
		c.handlePreKeyFetch(id, first)
	case xmlns == "usync":
		c.handleUsync(id, first)
	case xmlns == "md" && first.Tag == "remove-companion-device" && !dev.IsEmpty():
		// The client's own logout.
		_ = c.s.removeCompanion(ctx, dev)
		c.result(id)
	case xmlns == "w:m" && first.Tag == "media_conn":
		c.result(id, c.s.mediaConnNode())
	case xmlns == "w:g2":
		c.handleGroupIQ(id, typ, n, first)
	case xmlns == "privacy" && typ == "get":
		c.result(id, privacySettings())
	case xmlns == "md" && first.Tag == "link_code_companion_reg":
		go c.handleLinkCode(n, first)
	case c.handleSocialIQ(id, xmlns, typ, n, first, dev):
		// Profiles, business profiles, status text, blocklist (profile.go).
	default:
		// WhatsApp answers many queries the simulator does not model; an
		// empty result keeps the client from waiting 75 s for each.
		c.result(id)
	}
}

func (c *conn) handlePreKeyUpload(id string, n *waBinary.Node, dev types.JID) {
	var ids []uint32
	var pubs [][]byte
	for _, k := range kids(n.GetChildByTag("list")) {
		kid, _ := k.GetChildByTag("id").Content.([]byte)
		val, _ := k.GetChildByTag("value").Content.([]byte)
		if len(val) == 32 {
			ids = append(ids, fromBE(kid))
			pubs = append(pubs, val)
		}
	}
	skey := n.GetChildByTag("skey")
	if sid, ok := skey.GetChildByTag("id").Content.([]byte); ok {
		val, _ := skey.GetChildByTag("value").Content.([]byte)
		sig, _ := skey.GetChildByTag("signature").Content.([]byte)
		c.s.updateSignedPreKey(c.ctx, dev, fromBE(sid), val, sig)
	}
	if err := c.s.storePreKeys(c.ctx, dev, ids, pubs); err != nil {
		c.s.log.Error("wasim: prekey upload", "err", err)
		c.iqError(id, 500, "internal-error")
		return
	}
	c.result(id)
}

func (s *Server) updateSignedPreKey(ctx context.Context, dev types.JID, id uint32, pub, sig []byte) {
	if len(pub) != 32 || len(sig) != 64 {
		return
	}
	s.mu.Lock()
	comp := s.companionOf0(dev)
	if comp != nil {
		comp.skeyID, comp.skeyPub, comp.skeySig = id, pub, sig
	}
	s.mu.Unlock()
	if comp != nil {
		_, _ = s.db.ExecContext(ctx, `UPDATE wasim_companions SET skey_id = ?, skey_pub = ?, skey_sig = ? WHERE jid = ?`, id, pub, sig, dev.String())
	}
}

// companionOf0 is companionOf for callers holding s.mu.
func (s *Server) companionOf0(device types.JID) *companion {
	if u := s.users[device.User]; u != nil {
		return u.companions[device.Device]
	}
	return nil
}

func (c *conn) handlePreKeyFetch(id string, key waBinary.Node) {
	var list []waBinary.Node
	for _, req := range key.GetChildren() {
		jid, ok := req.Attrs["jid"].(types.JID)
		if !ok {
			continue
		}
		node, err := c.s.bundleNode(c.ctx, jid)
		if err != nil {
			c.s.log.Debug("wasim: prekey bundle", "jid", jid, "err", err)
			node = waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid},
				Content: []waBinary.Node{{Tag: "error", Attrs: waBinary.Attrs{"code": "404", "text": "item-not-found"}}}}
		}
		list = append(list, node)
	}
	c.result(id, waBinary.Node{Tag: "list", Content: list})
}

func (c *conn) handleUsync(id string, usync waBinary.Node) {
	queries := map[string]bool{}
	for _, q := range kids(usync.GetChildByTag("query")) {
		queries[q.Tag] = true
	}
	wantDevices, wantContact := queries["devices"], queries["contact"]
	var out []waBinary.Node
	for _, un := range kids(usync.GetChildByTag("list")) {
		jid, hasJID := un.Attrs["jid"].(types.JID)
		var query string
		if cn, ok := un.GetOptionalChildByTag("contact"); ok {
			switch v := cn.Content.(type) {
			case []byte:
				query = string(v)
			case string:
				query = v
			}
			if !hasJID {
				digits, err := normalizePhone(query)
				if err != nil {
					continue
				}
				jid = types.NewJID(digits, types.DefaultUserServer)
			}
		}
		if jid.User == "" {
			continue
		}
		jid = jid.ToNonAD()
		if jid.Server == types.LegacyUserServer {
			jid.Server = types.DefaultUserServer
		}
		// A PN or a known LID (devices of LID JIDs echo the LID).
		var u *user
		if jid.Server == types.HiddenUserServer || jid.Server == types.DefaultUserServer && onWhatsApp(jid.User) {
			u, _ = c.s.accountOf(c.ctx, jid)
		}
		exists := u != nil
		var content []waBinary.Node
		if wantContact {
			typ := "out"
			if exists {
				typ = "in"
			}
			content = append(content, waBinary.Node{Tag: "contact", Attrs: waBinary.Attrs{"type": typ}, Content: []byte(query)})
		}
		if wantDevices {
			var devs []waBinary.Node
			if exists {
				for _, d := range c.s.allDevicesOf(u) {
					a := waBinary.Attrs{"id": int(d.Device)}
					if d.Device != 0 {
						a["key-index"] = int(d.Device)
					}
					devs = append(devs, waBinary.Node{Tag: "device", Attrs: a})
				}
			}
			content = append(content, waBinary.Node{Tag: "devices", Content: []waBinary.Node{{Tag: "device-list", Content: devs}}})
		}
		if exists {
			content = append(content, c.s.userInfoNodes(c.ctx, u, jid, queries)...)
		}
		out = append(out, waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}, Content: content})
	}
	c.result(id, waBinary.Node{Tag: "usync", Attrs: usync.Attrs, Content: []waBinary.Node{
		{Tag: "result"},
		{Tag: "list", Content: out},
	}})
}

func (c *conn) handlePresence(n *waBinary.Node) {
	dev := c.loggedIn()
	if dev.IsEmpty() {
		return
	}
	typ, _ := n.Attrs["type"].(string)
	if typ == "" {
		typ = "available"
	}
	name, _ := n.Attrs["name"].(string)
	if to, subscribe := n.Attrs["to"].(types.JID); subscribe && typ == "subscribe" {
		c.subscribePresence(to)
		return
	}
	c.s.record(func(o *observations) {
		o.presences = append(o.presences, Presence{Device: dev, Type: typ, Name: name, At: time.Now()})
	})
}

func (c *conn) handleChatState(n *waBinary.Node) {
	dev := c.loggedIn()
	to, _ := n.Attrs["to"].(types.JID)
	children := n.GetChildren()
	if dev.IsEmpty() || len(children) == 0 {
		return
	}
	state := children[0].Tag
	if media, _ := children[0].Attrs["media"].(string); media == "audio" && state == "composing" {
		state = "recording"
	}
	c.s.record(func(o *observations) {
		o.chatStates = append(o.chatStates, ChatState{Device: dev, To: to.String(), State: state, At: time.Now()})
	})
}

func (c *conn) handleCall(n *waBinary.Node) {
	dev := c.loggedIn()
	children := n.GetChildren()
	if dev.IsEmpty() || len(children) == 0 {
		return
	}
	child := children[0]
	if child.Tag == "reject" {
		callID, _ := child.Attrs["call-id"].(string)
		creator, _ := child.Attrs["call-creator"].(types.JID)
		c.s.record(func(o *observations) {
			o.callRejects = append(o.callRejects, CallReject{Device: dev, CallID: callID, Caller: creator.ToNonAD().String(), At: time.Now()})
		})
	}
	id, _ := n.Attrs["id"].(string)
	_ = c.send(waBinary.Node{Tag: "ack", Attrs: waBinary.Attrs{"id": id, "class": "call", "from": types.ServerJID}})
}

// kids returns a node value's children (GetChildren needs an addressable node).
func kids(n waBinary.Node) []waBinary.Node { return n.GetChildren() }
