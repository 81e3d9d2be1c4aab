package instance

import (
	"context"
	"encoding/binary"
	"math/bits"
	"sync"
)

// bufferFilter remembers the ciphertexts in whatsmeow's decrypted-event
// buffer, so that the question whatsmeow asks before every decryption
// ("was this decrypted before?") needs no query for a new message, which a
// message nearly always is: a tenth of the CPU of taking one in.
//
// It is a Bloom filter over the ciphertext hashes (SHA-256, so their bytes
// serve as the filter's hash functions): never a false "no", and a false
// "yes" costs only the query it would have saved. It grows by layers, each
// twice the last, and is loaded from the buffer table on first use: the
// rows of messages decrypted before a restart are what WhatsApp's
// redeliveries must find. One per instance, shared by its successive
// clients, so that a decryption still finishing on an old client is noted.
type bufferFilter struct {
	mu     sync.Mutex
	owner  string // the device JID the layers belong to
	layers []bloom
	// pending are hashes added before the load (an old client still
	// decrypting): the load may not see their rows committed yet.
	pending [][32]byte
	// load lists the hashes in the buffer of a device.
	load func(ctx context.Context, ourJID string, each func(hash []byte)) error
}

// bloom is one layer: k bits per hash in a power-of-two bit array.
type bloom struct {
	bits     []uint64
	mask     uint32
	n, limit int
}

const (
	bloomK        = 7  // bits per hash: 32 bytes give eight 32-bit indexes
	bloomBitsPer  = 10 // bits per element at the limit: about 1 % false "yes"
	bloomMinLimit = 4096
)

func newBloom(limit int) bloom {
	limit = max(limit, bloomMinLimit)
	m := uint64(1) << bits.Len64(uint64(limit*bloomBitsPer-1))
	return bloom{bits: make([]uint64, m/64), mask: uint32(m - 1), limit: limit}
}

func (b *bloom) add(h *[32]byte) {
	for k := range bloomK {
		i := binary.LittleEndian.Uint32(h[4*k:]) & b.mask
		b.bits[i/64] |= 1 << (i % 64)
	}
	b.n++
}

func (b *bloom) has(h *[32]byte) bool {
	for k := range bloomK {
		i := binary.LittleEndian.Uint32(h[4*k:]) & b.mask
		if b.bits[i/64]&(1<<(i%64)) == 0 {
			return false
		}
	}
	return true
}

// mayHave reports whether hash may be in the buffer of device ourJID. A
// filter that cannot be loaded answers yes (ask the database).
func (f *bufferFilter) mayHave(ctx context.Context, ourJID string, hash [32]byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.owner != ourJID {
		if !f.loadLocked(ctx, ourJID) {
			return true
		}
	}
	for k := range f.layers {
		if f.layers[k].has(&hash) {
			return true
		}
	}
	return false
}

// add notes a hash whatsmeow is about to buffer for device ourJID.
func (f *bufferFilter) add(ourJID string, hash [32]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.owner != ourJID {
		f.pending = append(f.pending, hash)
		return
	}
	f.addLocked(&hash)
}

func (f *bufferFilter) addLocked(h *[32]byte) {
	if len(f.layers) == 0 || f.layers[len(f.layers)-1].n >= f.layers[len(f.layers)-1].limit {
		limit := bloomMinLimit
		if len(f.layers) > 0 {
			limit = 2 * f.layers[len(f.layers)-1].limit
		}
		f.layers = append(f.layers, newBloom(limit))
	}
	f.layers[len(f.layers)-1].add(h)
}

func (f *bufferFilter) loadLocked(ctx context.Context, ourJID string) bool {
	f.owner, f.layers = "", nil
	var hashes [][32]byte
	err := f.load(ctx, ourJID, func(h []byte) {
		if len(h) == 32 {
			hashes = append(hashes, [32]byte(h))
		}
	})
	if err != nil {
		return false
	}
	hashes = append(hashes, f.pending...)
	f.pending = nil
	f.layers = []bloom{newBloom(2 * len(hashes))}
	for k := range hashes {
		f.addLocked(&hashes[k])
	}
	f.owner = ourJID
	return true
}
