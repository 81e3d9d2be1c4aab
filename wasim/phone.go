package wasim

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/groups"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/keys/prekey"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/session"
	"go.mau.fi/libsignal/util/optional"
	"google.golang.org/protobuf/proto"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
)

var serializer = store.SignalProtobufSerializer

// bundleNode answers a prekey fetch for one device: a phone's bundle comes
// from its Signal store, a linked device's from what it uploaded.
func (s *Server) bundleNode(ctx context.Context, jid types.JID) (waBinary.Node, error) {
	asked := jid // the answer echoes the JID asked for (PN or LID)
	jid = s.pnDevice(jid)
	if jid.Server != types.DefaultUserServer || !onWhatsApp(jid.User) {
		return waBinary.Node{}, ErrNotOnWhatsApp
	}
	if n, ok, err := s.simDeviceBundle(ctx, jid); ok {
		return n, err
	}
	var regID, skeyID, keyID uint32
	var ident, skeyPub, skeySig, keyPub []byte
	if jid.Device == 0 {
		u, err := s.userFor(ctx, jid.User)
		if err != nil {
			return waBinary.Node{}, err
		}
		u.phoneMu.Lock()
		dev, err := s.phoneDevice(ctx, u)
		if err == nil {
			regID, ident = dev.RegistrationID, dev.IdentityKey.Pub[:]
			skeyID, skeyPub, skeySig = dev.SignedPreKey.KeyID, dev.SignedPreKey.Pub[:], dev.SignedPreKey.Signature[:]
			var pk, perr = dev.PreKeys.GenOnePreKey(ctx)
			if perr != nil {
				err = perr
			} else {
				keyID, keyPub = pk.KeyID, pk.Pub[:]
			}
		}
		u.phoneMu.Unlock()
		if err != nil {
			return waBinary.Node{}, err
		}
	} else {
		comp := s.companionOf(jid)
		if comp == nil {
			return waBinary.Node{}, ErrUnknownDevice
		}
		regID, ident, skeyID, skeyPub, skeySig = comp.regID, comp.identPub, comp.skeyID, comp.skeyPub, comp.skeySig
		id, pub, ok, err := s.takePreKey(ctx, jid)
		if err != nil {
			return waBinary.Node{}, err
		}
		if ok {
			keyID, keyPub = id, pub
		}
	}
	content := []waBinary.Node{
		{Tag: "registration", Content: be32(regID)},
		{Tag: "type", Content: []byte{ecc.DjbType}},
		{Tag: "identity", Content: ident},
		{Tag: "skey", Content: []waBinary.Node{
			{Tag: "id", Content: be24(skeyID)},
			{Tag: "value", Content: skeyPub},
			{Tag: "signature", Content: skeySig},
		}},
	}
	if keyPub != nil {
		content = append(content, waBinary.Node{Tag: "key", Content: []waBinary.Node{
			{Tag: "id", Content: be24(keyID)},
			{Tag: "value", Content: keyPub},
		}})
	}
	return waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": asked}, Content: content}, nil
}

// phoneDecrypt is the account's phone decrypting a pkmsg or msg that sender
// encrypted for it.
func (s *Server) phoneDecrypt(ctx context.Context, u *user, sender types.JID, enc waBinary.Node) (*waE2E.Message, error) {
	u.phoneMu.Lock()
	defer u.phoneMu.Unlock()
	dev, err := s.phoneDevice(ctx, u)
	if err != nil {
		return nil, err
	}
	return signalDecrypt(ctx, dev, sender, enc)
}

// signalDecrypt decrypts a pkmsg or msg with a simulated device's Signal
// store (a phone's or a contact's extra device's); the caller holds the
// device's lock.
func signalDecrypt(ctx context.Context, dev *store.Device, sender types.JID, enc waBinary.Node) (*waE2E.Message, error) {
	content, _ := enc.Content.([]byte)
	typ, _ := enc.Attrs["type"].(string)
	var err error
	addr := sender.SignalAddress()
	cipher := session.NewCipher(session.NewBuilderFromSignal(dev, addr, serializer), addr)
	var plain []byte
	switch typ {
	case "pkmsg":
		msg, err := protocol.NewPreKeySignalMessageFromBytes(content, serializer.PreKeySignalMessage, serializer.SignalMessage)
		if err != nil {
			return nil, fmt.Errorf("parse pkmsg: %w", err)
		}
		if plain, err = cipher.DecryptMessage(ctx, msg); err != nil {
			return nil, fmt.Errorf("decrypt pkmsg: %w", err)
		}
	case "msg":
		msg, err := protocol.NewSignalMessageFromBytes(content, serializer.SignalMessage)
		if err != nil {
			return nil, fmt.Errorf("parse msg: %w", err)
		}
		if plain, err = cipher.Decrypt(ctx, msg); err != nil {
			return nil, fmt.Errorf("decrypt msg: %w", err)
		}
	default:
		return nil, fmt.Errorf("unsupported enc type %q", typ)
	}
	if plain, err = unpad(plain); err != nil {
		return nil, err
	}
	var m waE2E.Message
	if err := proto.Unmarshal(plain, &m); err != nil {
		return nil, fmt.Errorf("unmarshal message: %w", err)
	}
	return &m, nil
}

// phoneEncrypt is the account's phone encrypting a message for one linked
// device, starting a session from the device's prekey bundle if needed.
func (s *Server) phoneEncrypt(ctx context.Context, u *user, to types.JID, m *waE2E.Message) (waBinary.Node, error) {
	plain, err := proto.Marshal(m)
	if err != nil {
		return waBinary.Node{}, err
	}
	u.phoneMu.Lock()
	defer u.phoneMu.Unlock()
	dev, err := s.phoneDevice(ctx, u)
	if err != nil {
		return waBinary.Node{}, err
	}
	addr := to.SignalAddress()
	builder := session.NewBuilderFromSignal(dev, addr, serializer)
	has, err := dev.ContainsSession(ctx, addr)
	if err != nil {
		return waBinary.Node{}, err
	}
	if !has {
		bundle, err := s.companionBundle(ctx, to)
		if err != nil {
			return waBinary.Node{}, err
		}
		if err := builder.ProcessBundle(ctx, bundle); err != nil {
			return waBinary.Node{}, fmt.Errorf("process bundle of %s: %w", to, err)
		}
	}
	ct, err := session.NewCipher(builder, addr).Encrypt(ctx, pad(plain))
	if err != nil {
		return waBinary.Node{}, fmt.Errorf("encrypt for %s: %w", to, err)
	}
	typ := "msg"
	if ct.Type() == protocol.PREKEY_TYPE {
		typ = "pkmsg"
	}
	return waBinary.Node{Tag: "enc", Attrs: waBinary.Attrs{"v": "2", "type": typ}, Content: ct.Serialize()}, nil
}

func (s *Server) companionBundle(ctx context.Context, to types.JID) (*prekey.Bundle, error) {
	comp := s.companionOf(to)
	if comp == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownDevice, to)
	}
	id, pub, ok, err := s.takePreKey(ctx, to)
	if err != nil {
		return nil, err
	}
	ident := identity.NewKey(ecc.NewDjbECPublicKey([32]byte(comp.identPub)))
	skey := ecc.NewDjbECPublicKey([32]byte(comp.skeyPub))
	if !ok {
		return prekey.NewBundle(comp.regID, uint32(to.Device), optional.NewEmptyUint32(), comp.skeyID, nil, skey, [64]byte(comp.skeySig), ident), nil
	}
	return prekey.NewBundle(comp.regID, uint32(to.Device), optional.NewOptionalUint32(id), comp.skeyID,
		ecc.NewDjbECPublicKey([32]byte(pub)), skey, [64]byte(comp.skeySig), ident), nil
}

// groupEncrypt is the phone sending text into a group (or status@broadcast)
// with its sender key; it returns the distribution message that members
// need first and the skmsg itself.
func (s *Server) groupEncrypt(ctx context.Context, u *user, chat types.JID, m *waE2E.Message) (*waE2E.Message, waBinary.Node, error) {
	plain, err := proto.Marshal(m)
	if err != nil {
		return nil, waBinary.Node{}, err
	}
	u.phoneMu.Lock()
	defer u.phoneMu.Unlock()
	dev, err := s.phoneDevice(ctx, u)
	if err != nil {
		return nil, waBinary.Node{}, err
	}
	name := protocol.NewSenderKeyName(chat.String(), u.jid().SignalAddress())
	builder := groups.NewGroupSessionBuilder(dev, serializer)
	skdm, err := builder.Create(ctx, name)
	if err != nil {
		return nil, waBinary.Node{}, fmt.Errorf("sender key: %w", err)
	}
	ct, err := groups.NewGroupCipher(builder, name, dev).Encrypt(ctx, pad(plain))
	if err != nil {
		return nil, waBinary.Node{}, fmt.Errorf("group encrypt: %w", err)
	}
	dist := &waE2E.Message{SenderKeyDistributionMessage: &waE2E.SenderKeyDistributionMessage{
		GroupID:                             proto.String(chat.String()),
		AxolotlSenderKeyDistributionMessage: skdm.Serialize(),
	}}
	return dist, waBinary.Node{Tag: "enc", Attrs: waBinary.Attrs{"v": "2", "type": "skmsg"}, Content: ct.SignedSerialize()}, nil
}

// pad adds WhatsApp's 1–15 bytes of padding, each equal to the pad length.
func pad(b []byte) []byte {
	var r [1]byte
	_, _ = rand.Read(r[:])
	n := r[0] & 0xf
	if n == 0 {
		n = 0xf
	}
	return append(b, bytes.Repeat([]byte{n}, int(n))...)
}

func unpad(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("empty plaintext")
	}
	n := int(b[len(b)-1])
	if n == 0 || n > len(b) {
		return nil, fmt.Errorf("bad padding")
	}
	return b[:len(b)-n], nil
}
