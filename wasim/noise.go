package wasim

import (
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/hkdf"

	"go.mau.fi/whatsmeow/socket"
	"go.mau.fi/whatsmeow/util/gcmutil"
)

// noiseState is the server half of WhatsApp's Noise_XX_25519_AESGCM_SHA256
// handshake. whatsmeow's socket.NoiseHandshake cannot be finished server-side
// (its salt is unexported), so the few lines of state are kept here.
type noiseState struct {
	hash    []byte
	salt    []byte
	key     cipher.AEAD
	counter uint32
}

func newNoiseState() *noiseState {
	ns := &noiseState{hash: []byte(socket.NoiseStartPattern)}
	ns.salt = ns.hash
	ns.key, _ = gcmutil.Prepare(ns.hash)
	ns.authenticate(socket.WAConnHeader)
	return ns
}

func (ns *noiseState) authenticate(data []byte) {
	h := sha256.Sum256(append(append([]byte{}, ns.hash...), data...))
	ns.hash = h[:]
}

func (ns *noiseState) encrypt(plaintext []byte) []byte {
	ct := ns.key.Seal(nil, counterIV(ns.counter), plaintext, ns.hash)
	ns.counter++
	ns.authenticate(ct)
	return ct
}

func (ns *noiseState) decrypt(ciphertext []byte) ([]byte, error) {
	pt, err := ns.key.Open(nil, counterIV(ns.counter), ciphertext, ns.hash)
	ns.counter++
	if err != nil {
		return nil, err
	}
	ns.authenticate(ciphertext)
	return pt, nil
}

func (ns *noiseState) mixDH(priv, pub [32]byte) error {
	secret, err := curve25519.X25519(priv[:], pub[:])
	if err != nil {
		return fmt.Errorf("x25519: %w", err)
	}
	ns.counter = 0
	write, read, err := expand(ns.salt, secret)
	if err != nil {
		return err
	}
	ns.salt = write
	ns.key, err = gcmutil.Prepare(read)
	return err
}

// split returns the transport ciphers. The client writes with the first key
// and reads with the second, so the server reads with the first.
func (ns *noiseState) split() (read, write cipher.AEAD, err error) {
	k1, k2, err := expand(ns.salt, nil)
	if err != nil {
		return nil, nil, err
	}
	if read, err = gcmutil.Prepare(k1); err != nil {
		return nil, nil, err
	}
	write, err = gcmutil.Prepare(k2)
	return read, write, err
}

func expand(salt, data []byte) (a, b []byte, err error) {
	h := hkdf.New(sha256.New, data, salt, nil)
	a, b = make([]byte, 32), make([]byte, 32)
	if _, err = io.ReadFull(h, a); err == nil {
		_, err = io.ReadFull(h, b)
	}
	return a, b, err
}

func counterIV(n uint32) []byte {
	iv := make([]byte, 12)
	binary.BigEndian.PutUint32(iv[8:], n)
	return iv
}
