package wasim

import (
	"crypto/rand"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waMmsRetry"
	"go.mau.fi/whatsmeow/util/gcmutil"
	"go.mau.fi/whatsmeow/util/hkdfutil"
)

func mediaRetryKey(mediaKey []byte) []byte {
	return hkdfutil.SHA256(mediaKey, nil, []byte("WhatsApp Media Retry Notification"), 32)
}

// handleMediaRetry answers a linked device's media retry request (a
// receipt of type server-error): the phone that knows the message's media
// key checks the request, uploads the file again under a new direct path
// and says where in a mediaretry notification; an unknown id gets error 2
// ("not available on the phone").
func (c *conn) handleMediaRetry(n *waBinary.Node) {
	s := c.s
	dev := c.loggedIn()
	id, _ := n.Attrs["id"].(string)
	to := n.Attrs["to"]
	_ = c.send(waBinary.Node{Tag: "ack", Attrs: waBinary.Attrs{"class": "receipt", "id": id, "from": to, "type": "server-error"}})
	rmr := n.GetChildByTag("rmr")
	notif := waBinary.Node{Tag: "notification", Attrs: waBinary.Attrs{
		"type": "mediaretry", "id": id, "t": time.Now().Unix(), "from": dev.ToNonAD(),
	}}
	content, err := s.retryMedia(c, id, n)
	if err != nil {
		s.log.Warn("wasim: media retry", "id", id, "err", err)
		content = []waBinary.Node{{Tag: "error", Attrs: waBinary.Attrs{"code": "2"}}}
	}
	notif.Content = append([]waBinary.Node{{Tag: "rmr", Attrs: rmr.Attrs}}, content...)
	s.record(func(o *observations) { o.mediaRetries++ })
	_ = c.send(notif)
}

func (s *Server) retryMedia(c *conn, id string, n *waBinary.Node) ([]waBinary.Node, error) {
	m, err := s.mediaOf(c.ctx, id)
	if err != nil {
		return nil, err
	}
	ct, _ := n.GetChildByTag("encrypt", "enc_p").Content.([]byte)
	iv, _ := n.GetChildByTag("encrypt", "enc_iv").Content.([]byte)
	key := mediaRetryKey(m.mediaKey)
	plain, err := gcmutil.Decrypt(key, iv, ct, []byte(id))
	if err != nil {
		return nil, fmt.Errorf("decrypt retry request: %w", err)
	}
	var req waMmsRetry.ServerErrorReceipt
	if err := proto.Unmarshal(plain, &req); err != nil {
		return nil, fmt.Errorf("retry request: %w", err)
	}
	if req.GetStanzaID() != id {
		return nil, fmt.Errorf("retry request for %q in the receipt of %q", req.GetStanzaID(), id)
	}
	direct, err := s.reupload(c.ctx, id, m)
	if err != nil {
		return nil, err
	}
	out, err := proto.Marshal(&waMmsRetry.MediaRetryNotification{
		StanzaID: proto.String(id), DirectPath: proto.String(direct),
		Result: waMmsRetry.MediaRetryNotification_SUCCESS.Enum(),
	})
	if err != nil {
		return nil, err
	}
	niv := make([]byte, 12)
	if _, err := rand.Read(niv); err != nil {
		return nil, err
	}
	enc, err := gcmutil.Encrypt(key, niv, out, []byte(id))
	if err != nil {
		return nil, err
	}
	return []waBinary.Node{{Tag: "encrypt", Content: []waBinary.Node{
		{Tag: "enc_p", Content: enc}, {Tag: "enc_iv", Content: niv},
	}}}, nil
}

// MediaRetries counts the media retry requests the server answered.
func (s *Server) MediaRetries() (n int) {
	s.read(func(o *observations) { n = o.mediaRetries })
	return n
}
