package wasim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// social is the simulator's state for LIDs, presence and blocking; its
// maps are guarded by Server.mu.
type social struct {
	lids     map[string]*user               // by LID user
	presence map[string]presenceState       // by phone; absent: unavailable, never seen
	subs     map[string]map[*conn]types.JID // phone → subscribed connections → the JID they asked for
	drops    map[string]int                 // messages dropped because the account blocked the sender
}

type presenceState struct {
	available bool
	last      int64 // last seen (Unix), when unavailable
}

// subscribePresence is a linked device asking for a contact's presence
// (whatsmeow SubscribePresence): it gets the current one now and every
// change while this connection lasts.
func (c *conn) subscribePresence(to types.JID) {
	if !isUserJID(to) || to.Server == types.DefaultUserServer && !onWhatsApp(to.User) {
		return
	}
	u, err := c.s.accountOf(c.ctx, to)
	if err != nil {
		return
	}
	s := c.s
	s.mu.Lock()
	if s.soc.subs == nil {
		s.soc.subs = map[string]map[*conn]types.JID{}
	}
	if s.soc.subs[u.phone] == nil {
		s.soc.subs[u.phone] = map[*conn]types.JID{}
	}
	s.soc.subs[u.phone][c] = to.ToNonAD()
	st := s.soc.presence[u.phone]
	s.mu.Unlock()
	_ = c.send(presenceNode(to.ToNonAD(), st))
}

func presenceNode(from types.JID, st presenceState) waBinary.Node {
	attrs := waBinary.Attrs{"from": from}
	if !st.available {
		attrs["type"] = "unavailable"
		if st.last != 0 {
			attrs["last"] = st.last
		}
	}
	return waBinary.Node{Tag: "presence", Attrs: attrs}
}

// SetPresence makes an account (a simulated contact) come online or go
// offline; subscribed linked devices get a presence update, and going
// offline sets its last seen.
func (s *Server) SetPresence(phone string, available bool) error {
	u, err := s.userFor(s.ctx, phone)
	if err != nil {
		return err
	}
	st := presenceState{available: available}
	if !available {
		st.last = time.Now().Unix()
	}
	s.mu.Lock()
	if s.soc.presence == nil {
		s.soc.presence = map[string]presenceState{}
	}
	s.soc.presence[u.phone] = st
	type sub struct {
		c   *conn
		jid types.JID
	}
	var subs []sub
	for c, jid := range s.soc.subs[u.phone] {
		if c.ctx.Err() != nil {
			delete(s.soc.subs[u.phone], c) // subscriptions end with the connection
			continue
		}
		subs = append(subs, sub{c, jid})
	}
	s.mu.Unlock()
	for _, x := range subs {
		_ = x.c.send(presenceNode(x.jid, st))
	}
	return nil
}

// SetChatState makes contact show a chat state in its chat with the
// account to: composing (typing), recording (a voice note) or paused.
// Connected linked devices of the account get it; it is not queued.
func (s *Server) SetChatState(contact, to, state string) error {
	child := waBinary.Node{Tag: state}
	switch state {
	case "composing", "paused":
	case "recording":
		child = waBinary.Node{Tag: "composing", Attrs: waBinary.Attrs{"media": "audio"}}
	default:
		return specErr("state", "must be composing, recording or paused, not %q", state)
	}
	from, err := s.userFor(s.ctx, contact)
	if err != nil {
		return err
	}
	acct, err := s.userFor(s.ctx, to)
	if err != nil {
		return err
	}
	if s.blocked(s.ctx, acct.phone, from.phone) {
		return nil
	}
	n := waBinary.Node{Tag: "chatstate", Attrs: waBinary.Attrs{"from": from.jid()}, Content: []waBinary.Node{child}}
	for _, d := range s.devicesOf(acct)[1:] {
		if c := s.connOf(d); c != nil {
			_ = c.send(n)
		}
	}
	return nil
}

// blocked reports whether account blocked other (both phone digits).
func (s *Server) blocked(ctx context.Context, account, other string) bool {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM wasim_blocks WHERE account = ? AND blocked = ?`, account, other).Scan(&one)
	return err == nil
}

func (s *Server) countBlockedDrop(account string) {
	s.mu.Lock()
	if s.soc.drops == nil {
		s.soc.drops = map[string]int{}
	}
	s.soc.drops[account]++
	s.notify()
	s.mu.Unlock()
}

// BlockedDrops counts the messages to an account that were dropped because
// it blocked the sender.
func (s *Server) BlockedDrops(phone string) int {
	digits, err := normalizePhone(phone)
	if err != nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.soc.drops[digits]
}

// Blocklist returns the phones an account blocked.
func (s *Server) Blocklist(phone string) ([]string, error) {
	digits, err := normalizePhone(phone)
	if err != nil {
		return nil, err
	}
	return s.blocklist(s.ctx, digits)
}

func (s *Server) blocklist(ctx context.Context, account string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT blocked FROM wasim_blocks WHERE account = ? ORDER BY blocked`, account)
	if err != nil {
		return nil, fmt.Errorf("wasim: blocklist: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("wasim: blocklist: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// handleBlocklist answers GetBlocklist (get) and UpdateBlocklist (set,
// <item jid action=block|unblock>) with the account's whole list.
func (c *conn) handleBlocklist(id, typ string, item waBinary.Node, dev types.JID) {
	s := c.s
	if typ == "set" {
		jid, _ := item.Attrs["jid"].(types.JID)
		action, _ := item.Attrs["action"].(string)
		u, err := s.accountOf(c.ctx, jid)
		if item.Tag != "item" || err != nil || action != "block" && action != "unblock" {
			c.iqError(id, 400, "bad-request")
			return
		}
		q := `INSERT INTO wasim_blocks (account, blocked) VALUES (?, ?) ON CONFLICT DO NOTHING`
		if action == "unblock" {
			q = `DELETE FROM wasim_blocks WHERE account = ? AND blocked = ?`
		}
		if _, err := s.db.ExecContext(c.ctx, q, dev.User, u.phone); err != nil {
			s.log.Error("wasim: blocklist", "err", err)
			c.iqError(id, 500, "internal-error")
			return
		}
	}
	list, err := s.blocklist(c.ctx, dev.User)
	if err != nil {
		s.log.Error("wasim: blocklist", "err", err)
		c.iqError(id, 500, "internal-error")
		return
	}
	h := sha256.New()
	var items []waBinary.Node
	for _, p := range list {
		h.Write([]byte(p))
		items = append(items, waBinary.Node{Tag: "item", Attrs: waBinary.Attrs{"jid": types.NewJID(p, types.DefaultUserServer)}})
	}
	c.result(id, waBinary.Node{Tag: "list", Attrs: waBinary.Attrs{"dhash": hex.EncodeToString(h.Sum(nil))[:16]}, Content: items})
}
