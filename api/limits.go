package api

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter keeps a token bucket per key (the admin key, or an instance
// token), and a slower one for instance creation.
type limiter struct {
	mu        sync.Mutex
	general   map[string]*rate.Limiter
	create    map[string]*rate.Limiter
	r         rate.Limit
	burst     int
	perMin    int
	failBurst int
}

func newLimiter(perSecond float64, burst, createPerMinute int) *limiter {
	return &limiter{general: map[string]*rate.Limiter{}, create: map[string]*rate.Limiter{},
		r: rate.Limit(perSecond), burst: burst, perMin: createPerMinute}
}

// allow takes a token for key and returns 0, or how long to wait.
func (l *limiter) allow(key string) time.Duration {
	return take(&l.mu, l.general, key, func() *rate.Limiter { return rate.NewLimiter(l.r, l.burst) })
}

// allowCreate takes a creation token for key.
func (l *limiter) allowCreate(key string) time.Duration {
	return take(&l.mu, l.create, key, func() *rate.Limiter {
		return rate.NewLimiter(rate.Every(time.Minute/time.Duration(l.perMin)), l.perMin)
	})
}

func take(mu *sync.Mutex, m map[string]*rate.Limiter, key string, mk func() *rate.Limiter) time.Duration {
	mu.Lock()
	lim := m[key]
	if lim == nil {
		lim = mk()
		m[key] = lim
	}
	mu.Unlock()
	now := time.Now()
	res := lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}

// allowFailure takes a token for a failed authentication from host: a
// burst of failBurst, then one per second.
func (l *limiter) allowFailure(host string) time.Duration {
	return take(&l.mu, l.create, "fail:"+host, func() *rate.Limiter { return rate.NewLimiter(1, l.failBurst) })
}

// forget drops a key's buckets (a rotated or deleted token).
func (l *limiter) forget(key string) {
	l.mu.Lock()
	delete(l.general, key)
	delete(l.create, key)
	l.mu.Unlock()
}
