package instance

import (
	"context"
	"sync"

	wastore "go.mau.fi/whatsmeow/store"
)

// identityCache keeps the identity keys whatsmeow's Signal store wrote, so
// that the key every prekey message carries is checked in memory and
// written only when it changed: whatsmeow otherwise reads it and upserts
// the same 32 bytes inside every such decryption, on the one write
// connection. Writes happen in whatsmeow's decryption transaction, so a
// transaction that fails empties the cache (bufferHooks.DoDecryptionTxn).
type identityCache struct {
	wastore.IdentityStore
	mu   sync.Mutex
	keys map[string][32]byte
}

func newIdentityCache() *identityCache { return &identityCache{keys: map[string][32]byte{}} }

func (c *identityCache) cached(address string) ([32]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.keys[address]
	return k, ok
}

func (c *identityCache) PutIdentity(ctx context.Context, address string, key [32]byte) error {
	if k, ok := c.cached(address); ok && k == key {
		return nil
	}
	if err := c.IdentityStore.PutIdentity(ctx, address, key); err != nil {
		return err
	}
	c.mu.Lock()
	c.keys[address] = key
	c.mu.Unlock()
	return nil
}

// IsTrustedIdentity answers as whatsmeow's store does for a known address
// (trusted if the key is the one stored); it asks the store otherwise.
func (c *identityCache) IsTrustedIdentity(ctx context.Context, address string, key [32]byte) (bool, error) {
	if k, ok := c.cached(address); ok {
		return k == key, nil
	}
	return c.IdentityStore.IsTrustedIdentity(ctx, address, key)
}

func (c *identityCache) DeleteIdentity(ctx context.Context, address string) error {
	c.mu.Lock()
	delete(c.keys, address)
	c.mu.Unlock()
	return c.IdentityStore.DeleteIdentity(ctx, address)
}

func (c *identityCache) DeleteAllIdentities(ctx context.Context, phone string) error {
	c.forget()
	return c.IdentityStore.DeleteAllIdentities(ctx, phone)
}

// forget empties the cache: a write it recorded may have rolled back.
func (c *identityCache) forget() {
	c.mu.Lock()
	clear(c.keys)
	c.mu.Unlock()
}
