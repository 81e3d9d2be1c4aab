package instance

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"go.mau.fi/whatsmeow/proto/waAdv"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"

	"github.com/meowgate/meowgate/store"
)

// countingIdentities counts the writes reaching the real store.
type countingIdentities struct {
	wastore.IdentityStore
	puts int
}

func (c *countingIdentities) PutIdentity(ctx context.Context, address string, key [32]byte) error {
	c.puts++
	return c.IdentityStore.PutIdentity(ctx, address, key)
}

// The cache writes an identity key once per change, answers trust as the
// store does, and forgets what a failed decryption transaction wrote.
func TestIdentityCache(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "m.db"), testLog())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dev := st.Devices().NewDevice()
	jid := types.NewJID("4915100000901", types.DefaultUserServer)
	dev.ID = &jid
	dev.Account = &waAdv.ADVSignedDeviceIdentity{Details: []byte{1}, AccountSignature: make([]byte, 64), AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64)}
	if err := st.Devices().PutDevice(ctx, dev); err != nil {
		t.Fatal(err)
	}
	real := &countingIdentities{IdentityStore: dev.Identities}
	dev.Identities = real
	cache := newIdentityCache()
	wrapStores(dev, bufferHooks{onFull: func() {}, identities: cache})
	if dev.Identities != cache {
		t.Fatalf("identities not wrapped: %T", dev.Identities)
	}
	k1, k2 := [32]byte{1}, [32]byte{2}
	const addr = "4915100000902.0:0"
	for range 3 {
		if err := dev.Identities.PutIdentity(ctx, addr, k1); err != nil {
			t.Fatal(err)
		}
	}
	if real.puts != 1 {
		t.Fatalf("%d writes of an unchanged key, want 1", real.puts)
	}
	for _, tc := range []struct {
		key  [32]byte
		want bool
	}{{k1, true}, {k2, false}} {
		got, err := dev.Identities.IsTrustedIdentity(ctx, addr, tc.key)
		stored, serr := real.IsTrustedIdentity(ctx, addr, tc.key)
		if err != nil || serr != nil || got != tc.want || stored != tc.want {
			t.Fatalf("trusted %x: cache %v, store %v (%v %v)", tc.key[0], got, stored, err, serr)
		}
	}
	// A decryption transaction that fails: what it wrote is forgotten.
	boom := errors.New("boom")
	err = dev.EventBuffer.DoDecryptionTxn(ctx, func(ctx context.Context) error {
		if err := dev.Identities.PutIdentity(ctx, addr, k2); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("transaction: %v", err)
	}
	if ok, _ := dev.Identities.IsTrustedIdentity(ctx, addr, k1); !ok {
		t.Fatal("after the rollback the cache does not answer as the store does")
	}
	if err := dev.Identities.PutIdentity(ctx, addr, k2); err != nil || real.puts != 3 {
		t.Fatalf("a key whose write rolled back was not written again: %d writes, %v", real.puts, err)
	}
	if err := dev.Identities.DeleteIdentity(ctx, addr); err != nil {
		t.Fatal(err)
	}
	if ok, _ := dev.Identities.IsTrustedIdentity(ctx, addr, k1); !ok {
		t.Fatal("a deleted identity is not trusted anew")
	}
}
