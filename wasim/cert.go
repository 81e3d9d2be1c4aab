package wasim

import (
	"crypto/sha256"
	"log/slog"
	"sync"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCert"
	"go.mau.fi/whatsmeow/util/keys"
	"google.golang.org/protobuf/proto"

	"github.com/meowgate/meowgate/internal/signallog"
)

// The simulator's certificate root is derived from a fixed, public seed, so
// every simulator (in-process or in another process) chains to the same root
// and one whatsmeow.WACertPubKey serves them all. It trusts nothing but the
// simulator, so it must only be installed when a simulator is asked for.
var trustOnce sync.Once

func seededKeyPair(label string) *keys.KeyPair {
	seed := sha256.Sum256([]byte("meowgate wasim " + label))
	return keys.NewKeyPairFromPrivateKey(seed)
}

// TrustRoot makes whatsmeow trust the simulator's certificate root instead of
// WhatsApp's. It changes process-global state, once: call it only in tests
// and in sandbox mode, before any whatsmeow client connects.
func TrustRoot() {
	trustOnce.Do(func() {
		whatsmeow.WACertPubKey = *seededKeyPair("root").Pub
		// Simulated phones and clients encrypt concurrently: libsignal's
		// logger must be in place first (a no-op if the process installed
		// one already).
		signallog.Install(slog.Default())
	})
}

// certChain returns the marshalled chain root → intermediate → leaf, where the
// leaf certifies the server's static Noise key.
func certChain(static *keys.KeyPair) ([]byte, error) {
	root := seededKeyPair("root")
	inter := seededKeyPair("intermediate")
	interDetails, err := proto.Marshal(&waCert.CertChain_NoiseCertificate_Details{
		Serial:       proto.Uint32(1),
		IssuerSerial: proto.Uint32(0),
		Key:          inter.Pub[:],
		NotBefore:    proto.Uint64(0),
		NotAfter:     proto.Uint64(1 << 40),
	})
	if err != nil {
		return nil, err
	}
	leafDetails, err := proto.Marshal(&waCert.CertChain_NoiseCertificate_Details{
		Serial:       proto.Uint32(2),
		IssuerSerial: proto.Uint32(1),
		Key:          static.Pub[:],
		NotBefore:    proto.Uint64(0),
		NotAfter:     proto.Uint64(1 << 40),
	})
	if err != nil {
		return nil, err
	}
	interSig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(*root.Priv), interDetails)
	leafSig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(*inter.Priv), leafDetails)
	return proto.Marshal(&waCert.CertChain{
		Intermediate: &waCert.CertChain_NoiseCertificate{Details: interDetails, Signature: interSig[:]},
		Leaf:         &waCert.CertChain_NoiseCertificate{Details: leafDetails, Signature: leafSig[:]},
	})
}
