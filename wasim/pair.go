package wasim

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/libsignal/ecc"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/pbkdf2"
	"google.golang.org/protobuf/proto"

	"go.mau.fi/whatsmeow"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/hkdfutil"
	"go.mau.fi/whatsmeow/util/keys"
)

// startPairing offers a registering client six QR references. A client
// that connects again gets fresh ones.
func (c *conn) startPairing() error {
	refs := make([]string, 6)
	nodes := make([]waBinary.Node, 6)
	for i := range refs {
		refs[i] = "2@" + randomID(12)
		nodes[i] = waBinary.Node{Tag: "ref", Content: []byte(refs[i])}
	}
	c.refs = refs
	c.s.mu.Lock()
	for _, r := range refs {
		c.s.pairing[r] = c
	}
	c.s.notify()
	c.s.mu.Unlock()
	return c.send(waBinary.Node{
		Tag:     "iq",
		Attrs:   waBinary.Attrs{"from": types.ServerJID, "type": "set", "id": randomID(8), "xmlns": "md"},
		Content: []waBinary.Node{{Tag: "pair-device", Content: nodes}},
	})
}

// PendingQRs is the number of connections currently showing a QR code.
func (s *Server) PendingQRs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[*conn]bool{}
	for _, c := range s.pairing {
		seen[c] = true
	}
	return len(seen)
}

// Scan is the phone of the given number scanning a QR code the client shows
// (the whole string of an events.QR code). An empty phone gets a new number.
// It returns the linked device's JID once the client has accepted the pairing.
func (s *Server) Scan(ctx context.Context, qr, phone string) (types.JID, error) {
	parts := strings.Split(qr, ",")
	if len(parts) != 4 {
		return types.EmptyJID, fmt.Errorf("%w: malformed QR code", ErrNoPendingQR)
	}
	s.mu.Lock()
	c := s.pairing[parts[0]]
	s.mu.Unlock()
	if c == nil {
		return types.EmptyJID, ErrNoPendingQR
	}
	noise, err1 := base64.StdEncoding.DecodeString(parts[1])
	ident, err2 := base64.StdEncoding.DecodeString(parts[2])
	adv, err3 := base64.StdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil || err3 != nil || !bytes.Equal(noise, c.clientStatic) || !bytes.Equal(ident, c.reg.GetEIdent()) {
		return types.EmptyJID, fmt.Errorf("%w: QR code does not match the connection", ErrNoPendingQR)
	}
	return s.completePairing(ctx, c, phone, adv)
}

func newPhoneNumber(s *Server) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.users); ; i++ {
		p := fmt.Sprintf("1555%07d", 100+i)
		if s.users[p] == nil {
			return p
		}
	}
}

// completePairing links c to the phone's account: pair-success with an ADV
// identity signed by the phone, the client's pair-device-sign, then 515.
func (s *Server) completePairing(ctx context.Context, c *conn, phone string, advSecret []byte) (types.JID, error) {
	if phone == "" {
		phone = newPhoneNumber(s)
	}
	u, err := s.userFor(ctx, phone)
	if err != nil {
		return types.EmptyJID, err
	}
	s.mu.Lock()
	for _, r := range c.refs {
		delete(s.pairing, r)
	}
	s.mu.Unlock()
	phoneKey, err := s.phoneIdentity(ctx, u)
	if err != nil {
		return types.EmptyJID, err
	}
	devNum, err := s.allocDevice(ctx, u)
	if err != nil {
		return types.EmptyJID, err
	}
	jid := types.NewADJID(u.phone, 0, uint8(devNum))
	lid := types.NewADJID(u.lid, types.LIDDomain, uint8(devNum))

	details, err := proto.Marshal(&waAdv.ADVDeviceIdentity{
		RawID:       proto.Uint32(uint32(time.Now().UnixNano())),
		Timestamp:   proto.Uint64(uint64(time.Now().Unix())),
		KeyIndex:    proto.Uint32(uint32(devNum)),
		AccountType: waAdv.ADVEncryptionType_E2EE.Enum(),
		DeviceType:  waAdv.ADVEncryptionType_E2EE.Enum(),
	})
	if err != nil {
		return types.EmptyJID, err
	}
	msg := append(append(append([]byte{}, whatsmeow.AdvAccountSignaturePrefix...), details...), c.reg.GetEIdent()...)
	accSig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(*phoneKey.Priv), msg)
	signed, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentity{
		Details:             details,
		AccountSignatureKey: phoneKey.Pub[:],
		AccountSignature:    accSig[:],
	})
	if err != nil {
		return types.EmptyJID, err
	}
	mac := hmac.New(sha256.New, advSecret)
	mac.Write(signed)
	container, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentityHMAC{
		Details:     signed,
		HMAC:        mac.Sum(nil),
		AccountType: waAdv.ADVEncryptionType_E2EE.Enum(),
	})
	if err != nil {
		return types.EmptyJID, err
	}
	// The client answers pair-success from its own goroutine; this waits here,
	// off the connection's reader.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := c.iq(ctx, waBinary.Node{
		Tag:   "iq",
		Attrs: waBinary.Attrs{"from": types.ServerJID, "type": "set", "xmlns": "md"},
		Content: []waBinary.Node{{Tag: "pair-success", Content: []waBinary.Node{
			{Tag: "device-identity", Content: container},
			{Tag: "platform", Attrs: waBinary.Attrs{"name": "android"}},
			{Tag: "device", Attrs: waBinary.Attrs{"jid": jid, "lid": lid}},
		}}},
	})
	if err != nil {
		return types.EmptyJID, fmt.Errorf("wasim: pairing: %w", err)
	}
	if t, _ := resp.Attrs["type"].(string); t != "result" {
		return types.EmptyJID, fmt.Errorf("wasim: client rejected pairing: %s", resp.XMLString())
	}
	sign := resp.GetChildByTag("pair-device-sign", "device-identity")
	signedBytes, _ := sign.Content.([]byte)
	var devIdent waAdv.ADVSignedDeviceIdentity
	if err := proto.Unmarshal(signedBytes, &devIdent); err != nil || len(devIdent.GetDeviceSignature()) != 64 {
		return types.EmptyJID, fmt.Errorf("wasim: bad pair-device-sign from client")
	}
	devMsg := append(append(append(append([]byte{}, whatsmeow.AdvDeviceSignaturePrefix...), details...), c.reg.GetEIdent()...), phoneKey.Pub[:]...)
	if !ecc.VerifySignature(ecc.NewDjbECPublicKey([32]byte(c.reg.GetEIdent())), devMsg, [64]byte(devIdent.GetDeviceSignature())) {
		return types.EmptyJID, fmt.Errorf("wasim: client's device signature does not verify")
	}
	reg := c.reg
	comp := &companion{
		jid:      jid,
		noisePub: c.clientStatic,
		regID:    fromBE(reg.GetERegid()),
		identPub: reg.GetEIdent(),
		skeyID:   fromBE(reg.GetESkeyID()),
		skeyPub:  reg.GetESkeyVal(),
		skeySig:  reg.GetESkeySig(),
		platform: "whatsmeow",
	}
	if err := s.addCompanion(ctx, u, comp); err != nil {
		return types.EmptyJID, err
	}
	s.recordDeviceProps(jid, reg.GetDeviceProps())
	// 515: "restart the stream"; the client reconnects and logs in.
	_ = c.send(waBinary.Node{Tag: "stream:error", Attrs: waBinary.Attrs{"code": "515"}})
	c.closeSoon(5 * time.Second)
	return jid, nil
}

// pairCodeState is a client's pending "link with phone number" request.
type pairCodeState struct {
	phone      string
	wrappedEph []byte
	ref        []byte
}

// handleLinkCode answers the client's link_code_companion_reg stages.
func (c *conn) handleLinkCode(n *waBinary.Node, reg waBinary.Node) {
	id, _ := n.Attrs["id"].(string)
	switch stage, _ := reg.Attrs["stage"].(string); stage {
	case "companion_hello":
		jid, _ := reg.Attrs["jid"].(types.JID)
		wrapped, _ := reg.GetChildByTag("link_code_pairing_wrapped_companion_ephemeral_pub").Content.([]byte)
		if len(wrapped) != 80 || jid.User == "" || !onWhatsApp(jid.User) {
			c.iqError(id, 400, "bad-request")
			return
		}
		st := &pairCodeState{phone: jid.User, wrappedEph: wrapped, ref: []byte(randomID(16))}
		c.mu.Lock()
		c.pairCode = st
		c.codeHook = make(chan *waBinary.Node, 1)
		c.mu.Unlock()
		c.s.mu.Lock()
		c.s.codePairs[st.phone] = c
		c.s.notify()
		c.s.mu.Unlock()
		_ = c.send(waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{"from": types.ServerJID, "id": id, "type": "result"},
			Content: []waBinary.Node{{Tag: "link_code_companion_reg", Content: []waBinary.Node{{Tag: "link_code_pairing_ref", Content: st.ref}}}}})
	case "companion_finish":
		c.mu.Lock()
		hook := c.codeHook
		c.mu.Unlock()
		c.result(id)
		if hook != nil {
			select {
			case hook <- &reg:
			default:
			}
		}
	default:
		c.result(id)
	}
}

// PendingCode reports whether a client is waiting for the phone of that
// number to enter a pairing code.
func (s *Server) PendingCode(phone string) bool {
	digits, err := normalizePhone(phone)
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.codePairs[digits] != nil
}

// EnterCode is the phone of the given number entering the 8-character code
// a client displays ("ABCD-EFGH" or "ABCDEFGH"). A wrong code is detected
// as WhatsApp's phone detects it: the client's key bundle does not decrypt.
func (s *Server) EnterCode(ctx context.Context, phone, code string) (types.JID, error) {
	digits, err := normalizePhone(phone)
	if err != nil {
		return types.EmptyJID, err
	}
	s.mu.Lock()
	c := s.codePairs[digits]
	if c != nil {
		delete(s.codePairs, digits)
	}
	s.mu.Unlock()
	if c == nil {
		return types.EmptyJID, ErrNoPendingCode
	}
	code = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(code), "-", ""))
	c.mu.Lock()
	st, hook := c.pairCode, c.codeHook
	c.mu.Unlock()
	u, err := s.userFor(ctx, digits)
	if err != nil {
		return types.EmptyJID, err
	}
	phoneKey, err := s.phoneIdentity(ctx, u)
	if err != nil {
		return types.EmptyJID, err
	}
	// Unwrap the companion's ephemeral key with the code the user typed.
	companionEph := linkCodeXOR(code, st.wrappedEph[:32], st.wrappedEph[32:48], st.wrappedEph[48:80])
	primaryEph := keys.NewKeyPair()
	salt, iv := make([]byte, 32), make([]byte, 16)
	_, _ = rand.Read(salt)
	_, _ = rand.Read(iv)
	wrapped := append(append(append([]byte{}, salt...), iv...), linkCodeXOR(code, salt, iv, primaryEph.Pub[:])...)
	if err := c.send(waBinary.Node{
		Tag:   "notification",
		Attrs: waBinary.Attrs{"from": types.ServerJID, "id": randomID(8), "type": "link_code_companion_reg", "t": time.Now().Unix()},
		Content: []waBinary.Node{{Tag: "link_code_companion_reg", Attrs: waBinary.Attrs{"stage": "primary_hello"}, Content: []waBinary.Node{
			{Tag: "link_code_pairing_ref", Content: st.ref},
			{Tag: "link_code_pairing_wrapped_primary_ephemeral_pub", Content: wrapped},
			{Tag: "primary_identity_pub", Content: phoneKey.Pub[:]},
		}}},
	}); err != nil {
		return types.EmptyJID, err
	}
	var finish *waBinary.Node
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case finish = <-hook:
	case <-wctx.Done():
		return types.EmptyJID, fmt.Errorf("wasim: waiting for companion_finish: %w", wctx.Err())
	case <-c.ctx.Done():
		return types.EmptyJID, fmt.Errorf("wasim: client went away during code pairing")
	}
	bundle, _ := finish.GetChildByTag("link_code_pairing_wrapped_key_bundle").Content.([]byte)
	companionIdent, _ := finish.GetChildByTag("companion_identity_public").Content.([]byte)
	if len(bundle) < 32+12+16 || len(companionIdent) != 32 {
		return types.EmptyJID, fmt.Errorf("wasim: malformed companion_finish")
	}
	ephShared, err := curve25519.X25519(primaryEph.Priv[:], companionEph)
	if err != nil {
		return types.EmptyJID, ErrWrongCode
	}
	key := hkdfutil.SHA256(ephShared, bundle[:32], []byte("link_code_pairing_key_bundle_encryption_key"), 32)
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	plain, err := gcm.Open(nil, bundle[32:44], bundle[44:], nil)
	if err != nil || len(plain) != 96 {
		// Let the client give up, as after a failed attempt on a real phone.
		c.closeSoon(0)
		return types.EmptyJID, ErrWrongCode
	}
	identShared, err := curve25519.X25519(phoneKey.Priv[:], companionIdent)
	if err != nil {
		return types.EmptyJID, err
	}
	advInput := append(append(append([]byte{}, ephShared...), identShared...), plain[64:96]...)
	advSecret := hkdfutil.SHA256(advInput, nil, []byte("adv_secret"), 32)
	return s.completePairing(ctx, c, digits, advSecret)
}

func linkCodeXOR(code string, salt, iv, data []byte) []byte {
	key := pbkdf2.Key([]byte(code), salt, 2<<16, 32, sha256.New)
	block, _ := aes.NewCipher(key)
	out := make([]byte, len(data))
	cipher.NewCTR(block, iv).XORKeyStream(out, data)
	return out
}
