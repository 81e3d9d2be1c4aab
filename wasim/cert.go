package wasim

import (
	"crypto/sha256"
	"log/slog"
	"sync"

	"go.mau.fi/libsignal/ecc"
	signallog "go.mau.fi/libsignal/logger"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCert"
	"go.mau.fi/whatsmeow/util/keys"
	"google.golang.org/protobuf/proto"
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
		// libsignal installs its default logger lazily on first use, which
		// is a data race once several goroutines (simulated phones, clients)
		// use it at the same time; install one up front.
		if signallog.Logger == nil {
			signallog.Logger = signalLogger{}
		}
	})
}

// signalLogger sends libsignal's warnings and errors to slog (its default
// logger prints to stdout) and drops its debug and info chatter.
type signalLogger struct{}

func (signalLogger) Debug(caller, msg string)   {}
func (signalLogger) Info(caller, msg string)    {}
func (signalLogger) Warning(caller, msg string) { slog.Warn("libsignal: "+msg, "caller", caller) }
func (signalLogger) Error(caller, msg string)   { slog.Error("libsignal: "+msg, "caller", caller) }
func (signalLogger) Configure(string)           {}

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
