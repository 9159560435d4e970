package throttle

import (
	"sync"
	"time"
)

// LoginRate limits successful logins per key (a client address) with a
// token bucket: a burst, then a steady rate. The caller asks Wait before a
// login is let in to hashing and calls Spend when the login succeeded.
//
// It holds at most max buckets. A bucket that has refilled is the same as
// none, so it is what gives way; when none has, a new client goes
// unrecorded and keeps its burst: the failure counters, not this rate, are
// what stop guessing.
type LoginRate struct {
	mu      sync.Mutex
	per     time.Duration // one token per
	burst   float64
	max     int
	buckets map[string]bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLoginRate returns a LoginRate of perMinute logins after a burst of
// burst, holding at most max buckets. perMinute <= 0 lets every login go.
func NewLoginRate(perMinute, burst, max int) *LoginRate {
	per := time.Duration(0)
	if perMinute > 0 {
		per = time.Minute / time.Duration(perMinute)
	}
	return &LoginRate{per: per, burst: float64(burst), max: max, buckets: make(map[string]bucket)}
}

// fillLocked returns the bucket of key as it stands at now.
func (l *LoginRate) fillLocked(key string, now time.Time) bucket {
	b, ok := l.buckets[key]
	if !ok {
		return bucket{tokens: l.burst, at: now}
	}
	if l.per > 0 && now.After(b.at) {
		b.tokens = min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.per))
	}
	b.at = now
	return b
}

// Wait returns how long key must wait at now for its next successful
// login: zero when it has one left, or when key is empty.
func (l *LoginRate) Wait(key string, now time.Time) time.Duration {
	if key == "" || l.per <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.fillLocked(key, now)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(l.per))
}

// Spend charges one successful login to key at now.
func (l *LoginRate) Spend(key string, now time.Time) {
	if key == "" || l.per <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.fillLocked(key, now)
	b.tokens--
	if _, ok := l.buckets[key]; !ok && len(l.buckets) >= l.max && !l.evictFullLocked(now) {
		return
	}
	l.buckets[key] = b
}

// evictFullLocked removes one sampled bucket that has refilled and reports
// whether it found one.
func (l *LoginRate) evictFullLocked(now time.Time) bool {
	n := 0
	for k := range l.buckets {
		if l.fillLocked(k, now).tokens >= l.burst {
			delete(l.buckets, k)
			return true
		}
		if n++; n == 8 {
			break
		}
	}
	return false
}

// Sweep drops the buckets that have refilled by now.
func (l *LoginRate) Sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.buckets {
		if l.fillLocked(k, now).tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}
