package wasim

import (
	"bytes"
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/socket"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

const writeTimeout = 10 * time.Second

// conn is one websocket from a whatsmeow client.
type conn struct {
	s      *Server
	ws     *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc

	buf        []byte
	headerSeen bool
	frames     [][]byte

	readKey  cipher.AEAD
	readCtr  uint32
	wmu      sync.Mutex
	writeKey cipher.AEAD
	writeCtr uint32

	clientStatic []byte
	reg          *waWa6.ClientPayload_DevicePairingRegistrationData // set while pairing
	refs         []string

	mu       sync.Mutex
	device   types.JID              // set once logged in
	unacked  map[string]int         // "tag/id" of stanzas the client has yet to ack
	inflight map[string]inflightMsg // messages sent but not yet acked, by id
	sentSeq  int64
	waiters  map[string]chan *waBinary.Node
	codeHook chan *waBinary.Node // companion_finish of a code pairing
	pairCode *pairCodeState
	closed   bool
	gone     chan struct{} // closed once cleanup has kept the unacked messages
}

func accept(s *Server, w http.ResponseWriter, r *http.Request) (*conn, error) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(socket.FrameMaxSize + 64)
	c := &conn{s: s, ws: ws, waiters: map[string]chan *waBinary.Node{}, unacked: map[string]int{}, inflight: map[string]inflightMsg{}, gone: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	s.mu.Lock()
	s.allConns[c] = struct{}{}
	s.mu.Unlock()
	return c, nil
}

func (c *conn) serve() {
	defer c.cleanup()
	if err := c.handshake(); err != nil {
		c.s.log.Debug("wasim: handshake failed", "err", err)
		return
	}
	for {
		frame, err := c.readFrame()
		if err != nil {
			return
		}
		pt, err := c.readKey.Open(nil, counterIV(c.readCtr), frame, nil)
		c.readCtr++
		if err != nil {
			c.s.log.Warn("wasim: decrypt frame", "err", err)
			return
		}
		data, err := waBinary.Unpack(pt)
		if err != nil {
			c.s.log.Warn("wasim: unpack frame", "err", err)
			continue
		}
		node, err := waBinary.Unmarshal(data)
		if err != nil {
			c.s.log.Warn("wasim: decode node", "err", err)
			continue
		}
		c.handle(node)
	}
}

func (c *conn) cleanup() {
	defer close(c.gone)
	c.closeNow()
	s := c.s
	c.requeueUnacked()
	s.mu.Lock()
	delete(s.allConns, c)
	for _, ref := range c.refs {
		if s.pairing[ref] == c {
			delete(s.pairing, ref)
		}
	}
	for phone, pc := range s.codePairs {
		if pc == c {
			delete(s.codePairs, phone)
		}
	}
	c.mu.Lock()
	dev := c.device
	c.mu.Unlock()
	if !dev.IsEmpty() && s.conns[dev.String()] == c {
		delete(s.conns, dev.String())
	}
	s.notify()
	s.mu.Unlock()
}

// closeNow drops the socket at once, as a lost network would.
func (c *conn) closeNow() {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	if !already {
		c.cancel()
		_ = c.ws.CloseNow()
	}
}

// streamError sends a stream error and closes the socket shortly after,
// leaving the client time to handle the error before it sees the close.
func (c *conn) streamError(code, conflict string) {
	n := waBinary.Node{Tag: "stream:error", Attrs: waBinary.Attrs{}}
	if code != "" {
		n.Attrs["code"] = code
	}
	if conflict != "" {
		n.Content = []waBinary.Node{{Tag: "conflict", Attrs: waBinary.Attrs{"type": conflict}}}
	}
	_ = c.send(n)
	c.closeSoon(300 * time.Millisecond)
}

func (c *conn) closeSoon(d time.Duration) {
	go func() {
		select {
		case <-time.After(d):
		case <-c.ctx.Done():
		}
		c.closeNow()
	}()
}

// readFrame returns the next length-prefixed frame. Only the client's first
// websocket message carries the "WA" header.
func (c *conn) readFrame() ([]byte, error) {
	for len(c.frames) == 0 {
		_, msg, err := c.ws.Read(c.ctx)
		if err != nil {
			return nil, err
		}
		c.buf = append(c.buf, msg...)
		if !c.headerSeen {
			if len(c.buf) < len(socket.WAConnHeader) {
				continue
			}
			if !bytes.Equal(c.buf[:len(socket.WAConnHeader)], socket.WAConnHeader) {
				return nil, errors.New("missing WA header")
			}
			c.buf = c.buf[len(socket.WAConnHeader):]
			c.headerSeen = true
		}
		for len(c.buf) >= 3 {
			n := int(c.buf[0])<<16 | int(c.buf[1])<<8 | int(c.buf[2])
			if len(c.buf) < 3+n {
				break
			}
			c.frames = append(c.frames, c.buf[3:3+n:3+n])
			c.buf = c.buf[3+n:]
		}
	}
	f := c.frames[0]
	c.frames = c.frames[1:]
	return f, nil
}

// writeFrame sends one whole frame per websocket message: the client
// miscounts a frame split across messages.
func (c *conn) writeFrame(data []byte) error {
	frame := make([]byte, 3+len(data))
	frame[0], frame[1], frame[2] = byte(len(data)>>16), byte(len(data)>>8), byte(len(data))
	copy(frame[3:], data)
	ctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageBinary, frame)
}

func (c *conn) handshake() error {
	ns := newNoiseState()
	frame, err := c.readFrame()
	if err != nil {
		return err
	}
	var hello waWa6.HandshakeMessage
	if err := proto.Unmarshal(frame, &hello); err != nil {
		return fmt.Errorf("client hello: %w", err)
	}
	ce := hello.GetClientHello().GetEphemeral()
	if len(ce) != 32 {
		return errors.New("client hello without ephemeral key")
	}
	ns.authenticate(ce)
	se := keys.NewKeyPair()
	ns.authenticate(se.Pub[:])
	if err := ns.mixDH(*se.Priv, [32]byte(ce)); err != nil {
		return err
	}
	staticCT := ns.encrypt(c.s.static.Pub[:])
	if err := ns.mixDH(*c.s.static.Priv, [32]byte(ce)); err != nil {
		return err
	}
	certCT := ns.encrypt(c.s.cert)
	resp, err := proto.Marshal(&waWa6.HandshakeMessage{ServerHello: &waWa6.HandshakeMessage_ServerHello{
		Ephemeral: se.Pub[:], Static: staticCT, Payload: certCT,
	}})
	if err != nil {
		return err
	}
	if err := c.writeFrame(resp); err != nil {
		return err
	}
	if frame, err = c.readFrame(); err != nil {
		return err
	}
	var finish waWa6.HandshakeMessage
	if err := proto.Unmarshal(frame, &finish); err != nil {
		return fmt.Errorf("client finish: %w", err)
	}
	clientStatic, err := ns.decrypt(finish.GetClientFinish().GetStatic())
	if err != nil || len(clientStatic) != 32 {
		return fmt.Errorf("client static: %v", err)
	}
	if err := ns.mixDH(*se.Priv, [32]byte(clientStatic)); err != nil {
		return err
	}
	payloadBytes, err := ns.decrypt(finish.GetClientFinish().GetPayload())
	if err != nil {
		return fmt.Errorf("client payload: %w", err)
	}
	var payload waWa6.ClientPayload
	if err := proto.Unmarshal(payloadBytes, &payload); err != nil {
		return fmt.Errorf("client payload: %w", err)
	}
	if c.readKey, c.writeKey, err = ns.split(); err != nil {
		return err
	}
	c.clientStatic = clientStatic
	if reg := payload.GetDevicePairingData(); reg != nil {
		c.reg = reg
		return c.startPairing()
	}
	return c.login(&payload)
}

func (c *conn) login(p *waWa6.ClientPayload) error {
	s := c.s
	device := types.NewADJID(fmt.Sprint(p.GetUsername()), 0, uint8(p.GetDevice()))
	s.record(func(o *observations) { o.loginAttempts[device.String()]++ })
	comp := s.companionOf(device)
	s.mu.Lock()
	outdated := s.outdated
	s.mu.Unlock()
	if f := s.loginFailure(device, p); f != nil {
		_ = c.send(*f)
		c.closeSoon(300 * time.Millisecond)
		return nil
	}
	var reason string
	switch {
	case outdated:
		reason = "405"
	case comp == nil, !bytes.Equal(comp.noisePub, c.clientStatic):
		reason = "401"
	}
	if reason != "" {
		_ = c.send(waBinary.Node{Tag: "failure", Attrs: waBinary.Attrs{"reason": reason, "location": "wasim"}})
		c.closeSoon(300 * time.Millisecond)
		return nil
	}
	u := s.lookupUser(device.User)
	c.mu.Lock()
	c.device = device
	c.mu.Unlock()
	s.mu.Lock()
	old := s.conns[device.String()]
	s.conns[device.String()] = c
	s.obs.logins[device.String()]++
	s.notify()
	s.mu.Unlock()
	if old != nil && old != c {
		old.streamError("", "replaced")
	}
	if err := c.send(waBinary.Node{Tag: "success", Attrs: waBinary.Attrs{
		"t": time.Now().Unix(), "lid": types.NewADJID(u.lid, types.LIDDomain, uint8(device.Device)), "props": "1", "location": "wasim",
	}}); err != nil {
		return err
	}
	go func() {
		// The replaced connection's unacked messages go first in the queue:
		// wait for them (redeliver.go).
		if old != nil && old != c {
			select {
			case <-old.gone:
			case <-time.After(5 * time.Second):
			case <-c.ctx.Done():
				return
			}
		}
		s.flushOffline(c, device)
	}()
	return nil
}

// send marshals, encrypts and writes a node. Encryption and writing happen
// under one lock so the frame counter matches the order on the wire.
func (c *conn) send(n waBinary.Node) error {
	if c.deafened() {
		return errDeaf // deaf.go: deliver keeps it for the next login
	}
	data, err := waBinary.Marshal(n)
	if err != nil {
		return fmt.Errorf("marshal %s: %w", n.Tag, err)
	}
	kept := false
	if id, _ := n.Attrs["id"].(string); id != "" && ackedTags[n.Tag] {
		// Recorded before the write, so the answer cannot come first.
		if n.Tag == "message" {
			kept = c.keepInflight(id, data)
		}
		c.track(n.Tag+"/"+id, 1)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	ct := c.writeKey.Seal(nil, counterIV(c.writeCtr), data, nil)
	c.writeCtr++
	err = c.writeFrame(ct)
	if id, _ := n.Attrs["id"].(string); err != nil && kept && !c.dropInflight(id) {
		return nil // already kept for the next login by requeueUnacked
	}
	return err
}

// iq sends a server-initiated iq and waits for the client's answer.
func (c *conn) iq(ctx context.Context, n waBinary.Node) (*waBinary.Node, error) {
	id := randomID(8)
	n.Attrs["id"] = id
	ch := make(chan *waBinary.Node, 1)
	c.mu.Lock()
	c.waiters[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiters, id)
		c.mu.Unlock()
	}()
	if err := c.send(n); err != nil {
		return nil, err
	}
	select {
	case resp := <-ch:
		return resp, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, errors.New("wasim: connection closed")
	}
}

// ackedTags are the stanzas a client answers with an <ack> (or, for a
// message, with a <receipt>); Idle waits for those answers.
var ackedTags = map[string]bool{"message": true, "receipt": true, "notification": true, "call": true}

// track counts a stanza sent (+1) or answered (-1) on this connection.
func (c *conn) track(key string, delta int) {
	c.mu.Lock()
	if n := c.unacked[key] + delta; n > 0 {
		c.unacked[key] = n
	} else {
		delete(c.unacked, key)
		if id, ok := strings.CutPrefix(key, "message/"); ok && delta < 0 {
			delete(c.inflight, id)
		}
	}
	c.mu.Unlock()
	c.s.mu.Lock()
	c.s.notify()
	c.s.mu.Unlock()
}

// quiet reports whether the client answered everything sent to it.
func (c *conn) quiet() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed || len(c.unacked) == 0
}

func (c *conn) loggedIn() types.JID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.device
}
