package store

import (
	"context"
	"fmt"
	"maps"
	"sync"
)

// Group commit for enqueueing: concurrent POSTs are collected by one
// goroutine and committed in one transaction, each in its own SAVEPOINT so
// one failure undoes only itself. A commit costs the same for one message
// or a hundred, and with one write connection it is what limits enqueueing.

// maxBatch bounds how many enqueues share one commit.
const maxBatch = 128

type batchReq struct {
	ctx  context.Context
	fn   func(tx *Tx) error
	done chan error
}

type batcher struct {
	once sync.Once
	ch   chan batchReq
	stop chan struct{}
	wg   sync.WaitGroup
	end  sync.Once
}

// inBatchTx runs fn inside a shared transaction; it returns once that
// transaction committed (or fn's own error).
func (s *Store) inBatchTx(ctx context.Context, fn func(tx *Tx) error) error {
	b := &s.batch
	b.once.Do(func() {
		b.ch = make(chan batchReq, maxBatch)
		b.stop = make(chan struct{})
		b.wg.Add(1)
		go s.batchLoop()
	})
	if b.ch == nil {
		return fmt.Errorf("store: closed")
	}
	r := batchReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case b.ch <- r:
	case <-b.stop:
		return fmt.Errorf("store: closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	// Wait for the outcome even if ctx ends: the work may be committed.
	// A savepoint's own failure for lack of room is wrapped here.
	return s.noteWrite(<-r.done)
}

func (s *Store) batchLoop() {
	b := &s.batch
	defer b.wg.Done()
	for {
		var first batchReq
		select {
		case first = <-b.ch:
		case <-b.stop:
			return
		}
		reqs := []batchReq{first}
	fill:
		for len(reqs) < maxBatch {
			select {
			case r := <-b.ch:
				reqs = append(reqs, r)
			default:
				break fill
			}
		}
		errs := make([]error, len(reqs))
		if len(reqs) == 1 { // alone: the transaction is its savepoint
			r := reqs[0]
			err := r.ctx.Err()
			if err == nil {
				err = s.inTx(r.ctx, r.fn)
			}
			r.done <- err
			continue
		}
		err := s.inTx(context.Background(), func(tx *Tx) error {
			for i, r := range reqs {
				if err := r.ctx.Err(); err != nil {
					errs[i] = err
					continue
				}
				if _, err := tx.ExecContext(r.ctx, `SAVEPOINT enqueue`); err != nil {
					return err
				}
				tails := maps.Clone(tx.tails)
				if errs[i] = r.fn(tx); errs[i] != nil {
					if _, err := tx.ExecContext(context.Background(), `ROLLBACK TO enqueue`); err != nil {
						return err
					}
					tx.tails = tails
				}
				if _, err := tx.ExecContext(context.Background(), `RELEASE enqueue`); err != nil {
					return err
				}
			}
			return nil
		})
		for i, r := range reqs {
			if err != nil {
				errs[i] = err
			}
			r.done <- errs[i]
		}
	}
}

func (s *Store) closeBatch() {
	b := &s.batch
	b.once.Do(func() {}) // no loop may start after this
	b.end.Do(func() {
		if b.stop != nil {
			close(b.stop)
			b.wg.Wait()
		}
	})
}
