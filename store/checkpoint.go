package store

import (
	"context"
	"sync"
	"time"
)

// checkpointEvery is how often the WAL is copied into the database file.
const checkpointEvery = time.Second

// walHardLimit (pages) is where the committing writer checkpoints by
// itself, as SQLite does by default at 1000: only if the checkpointer
// cannot keep up.
const walHardLimit = 10000

// checkpointer copies the WAL into the database file from a read
// connection, off the writers' path. SQLite's automatic checkpoint runs in
// the commit that crosses its threshold, with two fsyncs, while that writer
// holds the write lock: taking in a burst of messages, a fifth of the time
// went there, every writer waiting. A passive checkpoint on another
// connection runs alongside the writers instead.
type checkpointer struct {
	once sync.Once
	stop chan struct{}
	done chan struct{}
}

func (s *Store) startCheckpointer() {
	c := &s.ckpt
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(c.done)
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
			}
			s.checkpoint()
		}
	}()
}

func (s *Store) checkpoint() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var busy, frames, copied int
	if err := s.read.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		s.log.Debug("store: checkpoint", "err", err)
	}
}

func (s *Store) stopCheckpointer() {
	c := &s.ckpt
	c.once.Do(func() {
		if c.stop != nil {
			close(c.stop)
			<-c.done
		}
	})
}
