package localauth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// ThrottleConfig sets how failed logins (and registrations) slow down.
//
// Each failure is counted under two keys: the account (its canonical
// username, whether or not it exists, so that throttling tells nothing about
// which accounts exist) and the client's IP address (IPv6 by its /64, the
// block one subscriber usually holds). Once a key has more failures than its
// free allowance, the next attempt must wait BaseDelay, doubling with every
// further failure up to MaxDelay. A successful login clears the account's
// count; the client's count only fades after ForgetAfter, so that an
// attacker cannot clear it by logging in to an account of its own between
// guesses at others.
type ThrottleConfig struct {
	// Disabled turns throttling off. Default false.
	Disabled bool

	// AccountFree is how many failures an account takes before delays
	// start. Default 5.
	AccountFree int

	// ClientFree is how many failures one client address makes before
	// delays start. Default 20, for offices and homes behind one address.
	ClientFree int

	// RegistrationsFree is how many registrations one client address makes
	// before delays start; registration reveals whether a username is
	// taken, so it is throttled too. Default 10.
	RegistrationsFree int

	// BaseDelay is the first delay. Default 1s.
	BaseDelay time.Duration

	// MaxDelay caps the delay. Default 15 minutes.
	MaxDelay time.Duration

	// ForgetAfter is how long after its last failure a count is dropped.
	// Default 24 hours.
	ForgetAfter time.Duration

	// MaxEntries bounds the in-memory counters; when full, the least
	// recently failed of a few sampled entries is evicted. Default 100,000.
	// It does not apply to a shared Store.
	MaxEntries int

	// Store holds the counters. Default: in process memory. Set a shared
	// store (pgstore provides one) when several instances serve the same
	// users, so that they count together.
	Store ThrottleStore
}

// ThrottleStore holds failure counters. Implementations must count
// atomically: n concurrent Fail calls on one key raise its count by n.
type ThrottleStore interface {
	// Failures returns the key's count and the time of its last failure,
	// or zero values when it has none (or it was forgotten).
	Failures(ctx context.Context, key string) (count int, last time.Time, err error)
	// Fail adds one failure at now. A count whose last failure is older
	// than forgetBefore starts again from zero.
	Fail(ctx context.Context, key string, now, forgetBefore time.Time) error
	// Reset drops the key's count.
	Reset(ctx context.Context, key string) error
}

type throttle struct {
	cfg   ThrottleConfig
	now   func() time.Time
	store ThrottleStore
}

func newThrottle(cfg ThrottleConfig, now func() time.Time) (*throttle, error) {
	if cfg.AccountFree == 0 {
		cfg.AccountFree = 5
	}
	if cfg.ClientFree == 0 {
		cfg.ClientFree = 20
	}
	if cfg.RegistrationsFree == 0 {
		cfg.RegistrationsFree = 10
	}
	if cfg.BaseDelay == 0 {
		cfg.BaseDelay = time.Second
	}
	if cfg.MaxDelay == 0 {
		cfg.MaxDelay = 15 * time.Minute
	}
	if cfg.ForgetAfter == 0 {
		cfg.ForgetAfter = 24 * time.Hour
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = 100_000
	}
	if cfg.AccountFree < 0 || cfg.ClientFree < 0 || cfg.RegistrationsFree < 0 || cfg.BaseDelay < 0 ||
		cfg.MaxDelay < cfg.BaseDelay || cfg.ForgetAfter < 0 || cfg.MaxEntries < 0 {
		return nil, fmt.Errorf("localauth: invalid throttle configuration")
	}
	t := &throttle{cfg: cfg, now: now, store: cfg.Store}
	if t.store == nil {
		t.store = newMemThrottle(cfg.MaxEntries)
	}
	return t, nil
}

// throttleKey is one counter and its free allowance.
type throttleKey struct {
	key  string
	free int
}

func (t *throttle) accountKey(canonical string) throttleKey {
	return throttleKey{"account:" + canonical, t.cfg.AccountFree}
}

func (t *throttle) clientKey(ip string) throttleKey {
	if ip == "" {
		return throttleKey{}
	}
	return throttleKey{"client:" + clientBucket(ip), t.cfg.ClientFree}
}

func (t *throttle) registrationKey(ip string) throttleKey {
	if ip == "" {
		return throttleKey{}
	}
	return throttleKey{"register:" + clientBucket(ip), t.cfg.RegistrationsFree}
}

// clientBucket groups IPv6 addresses by /64 and leaves IPv4 as it is.
func clientBucket(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// delay returns how long after the last failure the next attempt must wait.
func (t *throttle) delay(count, free int) time.Duration {
	over := count - free
	if over <= 0 {
		return 0
	}
	d := t.cfg.BaseDelay
	for i := 1; i < over && d < t.cfg.MaxDelay; i++ {
		d *= 2
	}
	return min(d, t.cfg.MaxDelay)
}

// check returns a *RateLimitError when any of keys must still wait.
func (t *throttle) check(ctx context.Context, keys ...throttleKey) error {
	if t.cfg.Disabled {
		return nil
	}
	now := t.now()
	var wait time.Duration
	for _, k := range keys {
		if k.key == "" {
			continue
		}
		count, last, err := t.store.Failures(ctx, k.key)
		if err != nil {
			return storeErr(err)
		}
		if last.Before(now.Add(-t.cfg.ForgetAfter)) {
			continue
		}
		if until := last.Add(t.delay(count, k.free)); until.After(now) {
			wait = max(wait, until.Sub(now))
		}
	}
	if wait > 0 {
		return &RateLimitError{RetryAfter: wait}
	}
	return nil
}

// fail counts a failure under each key.
func (t *throttle) fail(ctx context.Context, keys ...throttleKey) error {
	if t.cfg.Disabled {
		return nil
	}
	now := t.now()
	for _, k := range keys {
		if k.key == "" {
			continue
		}
		if err := t.store.Fail(ctx, k.key, now, now.Add(-t.cfg.ForgetAfter)); err != nil {
			return storeErr(err)
		}
	}
	return nil
}

func (t *throttle) reset(ctx context.Context, k throttleKey) error {
	if t.cfg.Disabled || k.key == "" {
		return nil
	}
	return storeErr(t.store.Reset(ctx, k.key))
}

// sweep drops forgotten in-memory counters.
func (t *throttle) sweep() {
	if m, ok := t.store.(*memThrottle); ok {
		m.sweep(t.now().Add(-t.cfg.ForgetAfter))
	}
}

// memThrottle is the in-process ThrottleStore.
type memThrottle struct {
	mu      sync.Mutex
	max     int
	entries map[string]memCount
}

type memCount struct {
	count int
	last  time.Time
}

func newMemThrottle(max int) *memThrottle {
	return &memThrottle{max: max, entries: make(map[string]memCount)}
}

func (m *memThrottle) Failures(_ context.Context, key string) (int, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[key]
	return e.count, e.last, nil
}

func (m *memThrottle) Fail(_ context.Context, key string, now, forgetBefore time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok && len(m.entries) >= m.max {
		m.evictLocked()
	}
	if e.last.Before(forgetBefore) {
		e.count = 0
	}
	e.count++
	e.last = now
	m.entries[key] = e
	return nil
}

// evictLocked removes the oldest of a few entries taken at random (map
// iteration order is random): close to least-recently-failed eviction at a
// constant cost.
func (m *memThrottle) evictLocked() {
	var oldest string
	var oldestAt time.Time
	n := 0
	for k, e := range m.entries {
		if n == 0 || e.last.Before(oldestAt) {
			oldest, oldestAt = k, e.last
		}
		if n++; n == 8 {
			break
		}
	}
	delete(m.entries, oldest)
}

func (m *memThrottle) Reset(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
	return nil
}

func (m *memThrottle) sweep(forgetBefore time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, e := range m.entries {
		if e.last.Before(forgetBefore) {
			delete(m.entries, k)
		}
	}
}

func (m *memThrottle) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// fallbackAccount is the account key for a username that is not valid: it
// still throttles, exactly as a valid unknown username does.
func fallbackAccount(username string) string {
	if len(username) > 4*MaxUsernameLength {
		username = username[:4*MaxUsernameLength]
	}
	return "invalid:" + strings.ToLower(username)
}
