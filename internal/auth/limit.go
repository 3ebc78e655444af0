package auth

import (
	"sync"
	"time"
)

// Limiter bounds failed sign-in attempts per client, so a password cannot
// be guessed quickly. Successful attempts do not count.
type Limiter struct {
	Max    int
	Window time.Duration

	mu       sync.Mutex
	failures map[string][]time.Time
	now      func() time.Time
}

// NewLimiter allows max failures per window per key.
func NewLimiter(max int, window time.Duration) *Limiter {
	return &Limiter{Max: max, Window: window, failures: map[string][]time.Time{}, now: time.Now}
}

// Allow reports whether key may try again now, and if not, how long to wait.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.prune(key)
	if len(recent) < l.Max {
		return true, 0
	}
	return false, recent[0].Add(l.Window).Sub(l.now())
}

// Fail records a failed attempt by key.
func (l *Limiter) Fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures[key] = append(l.prune(key), l.now())
}

func (l *Limiter) prune(key string) []time.Time {
	cut := l.now().Add(-l.Window)
	fs := l.failures[key]
	i := 0
	for i < len(fs) && fs[i].Before(cut) {
		i++
	}
	fs = fs[i:]
	if len(fs) == 0 {
		delete(l.failures, key)
	}
	return fs
}
