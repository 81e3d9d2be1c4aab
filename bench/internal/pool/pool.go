// Package pool is a bounded worker pool for the bench programs.
package pool

import "sync"

// ForEach runs f(i) for i in [0, n) on a pool of workers and returns the
// errors (at most one per i).
func ForEach(n, workers int, f func(i int) error) []error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan int)
	)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}
