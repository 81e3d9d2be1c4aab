package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrFull means the database's filesystem has no room: a write failed with
// SQLITE_FULL or ENOSPC, or free space is below the configured watermark.
// It is a state, not a crash: the caller may retry once space returns.
var ErrFull = errors.New("storage full")

// spaceTTL bounds how often free space is measured: statfs is cheap, but
// not per request.
const spaceTTL = time.Second

// hitSlack is how much free space must grow after a write failed for lack
// of room before the store counts as having room again without a write
// succeeding first.
const hitSlack = 1 << 20

// Space is the free space of the database's filesystem as last measured.
type Space struct {
	Free    uint64 // bytes available; 0 if unknown
	Known   bool   // Free was measured
	MinFree uint64 // the watermark below which new work is refused
	Full    bool   // below the watermark, or the last write failed for lack of room
}

// space is the cached measurement and the last write failure for lack of room.
type space struct {
	mu      sync.Mutex
	dir     string
	minFree uint64
	free    uint64
	known   bool
	at      time.Time
	hit     bool   // a write failed with ErrFull and none has succeeded since
	hitFree uint64 // free space when it failed
}

// SetMinFree sets the free-space watermark in bytes (0: no watermark).
func (s *Store) SetMinFree(n uint64) {
	s.space.mu.Lock()
	s.space.minFree = n
	s.space.mu.Unlock()
}

// Space measures free space on the database's filesystem, at most once per
// spaceTTL.
func (s *Store) Space() Space {
	sp := &s.space
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if time.Since(sp.at) >= spaceTTL {
		sp.refresh(s.path)
	}
	full := sp.known && sp.free < sp.minFree
	if sp.hit && (!sp.known || sp.free < sp.hitFree+hitSlack) {
		full = true
	}
	return Space{Free: sp.free, Known: sp.known, MinFree: sp.minFree, Full: full}
}

func (sp *space) refresh(path string) {
	if sp.dir == "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			abs = path
		}
		sp.dir = filepath.Dir(abs)
	}
	sp.at = time.Now()
	free, err := freeBytes(sp.dir)
	sp.free, sp.known = free, err == nil
}

// CheckRoom returns an error wrapping ErrFull when new work should be
// refused: free space is below the watermark, or writes are failing for
// lack of room.
func (s *Store) CheckRoom() error {
	if sp := s.Space(); sp.Full {
		return fmt.Errorf("store: %w: %d MB free, %d MB needed", ErrFull, sp.Free>>20, sp.MinFree>>20)
	}
	return nil
}

// IsFull reports whether err is a write that failed for lack of room.
func IsFull(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrFull) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL
}

// noteWrite records a write's outcome: a failure for lack of room is
// wrapped in ErrFull and remembered until a later write succeeds.
func (s *Store) noteWrite(err error) error {
	sp := &s.space
	if err == nil {
		sp.mu.Lock()
		sp.hit = false
		sp.mu.Unlock()
		return nil
	}
	if !IsFull(err) {
		return err
	}
	sp.mu.Lock()
	if !sp.hit {
		sp.refresh(s.path)
		sp.hit, sp.hitFree = true, sp.free
	}
	sp.mu.Unlock()
	if errors.Is(err, ErrFull) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrFull, err)
}
