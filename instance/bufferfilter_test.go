package instance

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
)

// The filter never says "no" for a hash it was loaded with or given, also
// across its growth, answers "no" for nearly all others, and asks the
// database again when it could not load.
func TestBufferFilter(t *testing.T) {
	ctx := context.Background()
	hash := func(k int) [32]byte { return sha256.Sum256(fmt.Appendf(nil, "ciphertext %d", k)) }
	const stored, added = 3000, 30000
	fail := true
	f := &bufferFilter{load: func(_ context.Context, jid string, each func([]byte)) error {
		if fail {
			return errors.New("database unavailable")
		}
		if jid != "dev" {
			return nil
		}
		for k := range stored {
			h := hash(k)
			each(h[:])
		}
		return nil
	}}
	// An old client's hash noted before the first load is kept.
	f.add("dev", hash(-1))
	if !f.mayHave(ctx, "dev", hash(stored+added+1)) {
		t.Fatal("a filter that could not load said no")
	}
	fail = false
	if !f.mayHave(ctx, "dev", hash(0)) {
		t.Fatal("a stored hash: no")
	}
	for k := stored; k < stored+added; k++ {
		f.add("dev", hash(k))
	}
	for k := -1; k < stored+added; k++ {
		if !f.mayHave(ctx, "dev", hash(k)) {
			t.Fatalf("hash %d: no", k)
		}
	}
	yes := 0
	for k := range 20000 {
		if f.mayHave(ctx, "dev", hash(1_000_000+k)) {
			yes++
		}
	}
	if yes > 400 {
		t.Fatalf("%d false yeses in 20000", yes)
	}
	if len(f.layers) < 2 {
		t.Fatalf("%d layers after %d hashes: no growth", len(f.layers), stored+added)
	}
	// Another device (the instance paired again): loaded anew.
	if f.mayHave(ctx, "other", hash(5)) {
		t.Fatal("a hash of the old device is in the new one's filter")
	}
}
