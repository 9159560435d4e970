package localauth

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// ThrottleConfig sets how password guessing slows down. SECURITY.md states
// the policy with its numbers.
//
// Every password check is counted when it is admitted, before the hash is
// compared, and given back when the password was right: a burst of guesses
// sent at the same moment cannot all pass the check before the first failure
// is recorded. Attempts are counted under two keys:
//
//   - the account, by canonical username, whether or not it exists (so that
//     throttling tells nothing about which accounts exist). A client that
//     presents a valid device token for the account (a browser that logged in
//     to it before) is counted under that device instead, with its own
//     allowance, so that strangers who lock the account out do not lock out
//     its owner. A device never counts second-factor answers: those are
//     counted per account whatever the client presents (factorKey).
//     These counters live in the store when it offers them (both
//     stores do): a restart or a flood of other keys does not forget a lock.
//   - the client's IP address (IPv6 by its /64). These counters live in
//     memory, bounded so that eviction never drops a counter holding more
//     attempts than the one that replaces it.
//
// Once a key has more attempts than its free allowance, the next attempt
// must wait BaseDelay, doubling with every further one up to MaxDelay. A
// count is forgotten ForgetAfter after its last attempt.
type ThrottleConfig struct {
	// Disabled turns throttling off. Default false.
	Disabled bool

	// AccountFree is how many failed attempts an account takes from clients
	// it does not trust before delays start. Default 5.
	AccountFree int

	// DeviceFree is how many failed attempts one trusted device (a valid
	// device token for the account) makes before its own delays start.
	// Default 10.
	DeviceFree int

	// ClientFree is how many failures one client address makes before
	// delays start. Default 20, for offices and homes behind one address.
	ClientFree int

	// RegistrationsFree is how many registrations and username checks one
	// client address makes before delays start; both reveal whether a
	// username is taken. Default 10.
	RegistrationsFree int

	// ClientLoginsPerMinute is how many successful logins one client
	// address makes per minute, after a burst of ClientLoginBurst: a client
	// that loops correct logins slows itself, not its neighbours. Default
	// 30 per minute after a burst of 30.
	ClientLoginsPerMinute int
	ClientLoginBurst      int

	// BaseDelay is the first delay. Default 1s.
	BaseDelay time.Duration

	// MaxDelay caps the delay. Default 15 minutes.
	MaxDelay time.Duration

	// ForgetAfter is how long after its last attempt a count is dropped.
	// Default 24 hours.
	ForgetAfter time.Duration

	// MaxEntries bounds the in-memory counters of client addresses.
	// Default 100,000. When it is full and no sampled counter may be
	// evicted, new addresses share one overflow counter.
	MaxEntries int

	// Store holds the account and device counters. Default: the Store's
	// own (see ThrottleStoreProvider), else process memory.
	Store ThrottleStore
}

// ThrottleRule is how one kind of key is throttled.
type ThrottleRule struct {
	// Free is how many attempts the key makes before delays start.
	Free int
	// BaseDelay, MaxDelay and ForgetAfter are as in ThrottleConfig.
	BaseDelay, MaxDelay, ForgetAfter time.Duration
}

// Wait returns how long after now a key with count attempts, the last at
// last, must still wait before its next attempt: zero when it may go.
func (r ThrottleRule) Wait(count int, last, now time.Time) time.Duration {
	over := count - r.Free
	if over <= 0 || last.Before(now.Add(-r.ForgetAfter)) {
		return 0
	}
	d := r.BaseDelay
	for i := 1; i < over && d < r.MaxDelay; i++ {
		d *= 2
	}
	return max(last.Add(min(d, r.MaxDelay)).Sub(now), 0)
}

// ThrottleCount is a key's state: how many attempts, and when the last was.
type ThrottleCount struct {
	Count int
	Last  time.Time
}

// ThrottleStore holds attempt counters. Each method is one atomic step:
// n concurrent Admit calls on a key that is free for exactly k more
// attempts admit exactly k.
type ThrottleStore interface {
	// Admit counts one attempt at now under key and returns zero, unless
	// rule says the key must still wait: then it counts nothing and
	// returns how long. A count whose last attempt is older than
	// rule.ForgetAfter starts again from zero.
	Admit(ctx context.Context, key string, now time.Time, rule ThrottleRule) (wait time.Duration, err error)
	// GiveBack takes back one attempt that Admit counted.
	GiveBack(ctx context.Context, key string) error
	// Reset drops the key's count.
	Reset(ctx context.Context, key string) error
	// Count returns the key's state, zero when it has none.
	Count(ctx context.Context, key string) (ThrottleCount, error)
}

// ThrottleStoreProvider is an optional ability of a Store: keeping the
// account and device counters with the accounts, so that every instance
// counts together and a restart does not forget a lock.
type ThrottleStoreProvider interface {
	Throttle() ThrottleStore
}

type throttle struct {
	cfg      ThrottleConfig
	now      func() time.Time
	accounts ThrottleStore // account and device keys
	clients  *memThrottle  // client address keys
	logins   *loginRate
}

func newThrottle(cfg ThrottleConfig, store Store, now func() time.Time) (*throttle, error) {
	if cfg.AccountFree == 0 {
		cfg.AccountFree = 5
	}
	if cfg.DeviceFree == 0 {
		cfg.DeviceFree = 10
	}
	if cfg.ClientFree == 0 {
		cfg.ClientFree = 20
	}
	if cfg.RegistrationsFree == 0 {
		cfg.RegistrationsFree = 10
	}
	if cfg.ClientLoginsPerMinute == 0 {
		cfg.ClientLoginsPerMinute = 30
	}
	if cfg.ClientLoginBurst == 0 {
		cfg.ClientLoginBurst = 30
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
	if cfg.AccountFree < 0 || cfg.DeviceFree < 0 || cfg.ClientFree < 0 || cfg.RegistrationsFree < 0 ||
		cfg.ClientLoginsPerMinute < 0 || cfg.ClientLoginBurst < 0 || cfg.BaseDelay < 0 ||
		cfg.MaxDelay < cfg.BaseDelay || cfg.ForgetAfter < 0 || cfg.MaxEntries < 0 {
		return nil, fmt.Errorf("localauth: invalid throttle configuration")
	}
	t := &throttle{cfg: cfg, now: now, accounts: cfg.Store, clients: newMemThrottle(cfg.MaxEntries)}
	if t.accounts == nil {
		if p, ok := store.(ThrottleStoreProvider); ok {
			t.accounts = p.Throttle()
		} else {
			t.accounts = newMemThrottle(cfg.MaxEntries)
		}
	}
	t.logins = newLoginRate(cfg.ClientLoginsPerMinute, cfg.ClientLoginBurst, cfg.MaxEntries)
	return t, nil
}

// throttleKey is one counter, the store that holds it, and its rule.
type throttleKey struct {
	key   string
	store ThrottleStore
	rule  ThrottleRule
}

func (t *throttle) rule(free int) ThrottleRule {
	return ThrottleRule{Free: free, BaseDelay: t.cfg.BaseDelay, MaxDelay: t.cfg.MaxDelay, ForgetAfter: t.cfg.ForgetAfter}
}

func (t *throttle) accountKey(canonical string) throttleKey {
	return throttleKey{"account:" + canonical, t.accounts, t.rule(t.cfg.AccountFree)}
}

// deviceKey counts the attempts of one trusted device on one account.
func (t *throttle) deviceKey(userID int64, device TokenHash) throttleKey {
	return throttleKey{fmt.Sprintf("device:%d:%x", userID, device[:16]), t.accounts, t.rule(t.cfg.DeviceFree)}
}

// factorKey counts the second-factor answers (TOTP and recovery codes,
// at a login's second step or a re-authentication) given for one account,
// from every client and device alike: a trusted device lifts the password
// lockout only, never this count, or each password login from it would
// start a fresh round of code guesses. Only a completed login or
// re-authentication with the second factor resets it.
func (t *throttle) factorKey(userID int64) throttleKey {
	return throttleKey{fmt.Sprintf("factor:%d", userID), t.accounts, t.rule(t.cfg.AccountFree)}
}

// sessionKey counts the current-password checks made with one session.
func (t *throttle) sessionKey(h TokenHash) throttleKey {
	return throttleKey{fmt.Sprintf("session:%x", h[:16]), t.accounts, t.rule(t.cfg.AccountFree)}
}

// reset drops a key's count.
func (t *throttle) reset(ctx context.Context, k throttleKey) error {
	if t.cfg.Disabled || k.key == "" {
		return nil
	}
	return storeErr(k.store.Reset(ctx, k.key))
}

func (t *throttle) clientKey(ip string) throttleKey {
	if ip == "" {
		return throttleKey{}
	}
	return throttleKey{"client:" + clientBucket(ip), t.clients, t.rule(t.cfg.ClientFree)}
}

func (t *throttle) registrationKey(ip string) throttleKey {
	if ip == "" {
		return throttleKey{}
	}
	return throttleKey{"register:" + clientBucket(ip), t.clients, t.rule(t.cfg.RegistrationsFree)}
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

// admit counts one attempt under every key, or none: when a key must still
// wait, the attempts already counted under the others are given back and a
// *RateLimitError says how long.
func (t *throttle) admit(ctx context.Context, keys ...throttleKey) error {
	if t.cfg.Disabled {
		return nil
	}
	now := t.now()
	for i, k := range keys {
		if k.key == "" {
			continue
		}
		wait, err := k.store.Admit(ctx, k.key, now, k.rule)
		if err == nil && wait <= 0 {
			continue
		}
		t.giveBack(ctx, keys[:i]...)
		if err != nil {
			return storeErr(err)
		}
		return &RateLimitError{RetryAfter: wait}
	}
	return nil
}

// giveBack takes back one attempt under each key, after it succeeded (or
// was never tried: the server was busy). Errors are ignored: a count left
// standing only delays its key, it never opens one.
func (t *throttle) giveBack(ctx context.Context, keys ...throttleKey) {
	if t.cfg.Disabled {
		return
	}
	for _, k := range keys {
		if k.key != "" {
			k.store.GiveBack(ctx, k.key)
		}
	}
}

// loginWait returns how long the client must wait before its next
// successful login may start (see ThrottleConfig.ClientLoginsPerMinute).
func (t *throttle) loginWait(ip string) time.Duration {
	if t.cfg.Disabled {
		return 0
	}
	return t.logins.wait(ip, t.now())
}

// loginDone charges a successful login to the client.
func (t *throttle) loginDone(ip string) {
	if !t.cfg.Disabled {
		t.logins.spend(ip, t.now())
	}
}

// sweep drops forgotten in-memory counters.
func (t *throttle) sweep() {
	forget := t.now().Add(-t.cfg.ForgetAfter)
	t.clients.sweep(forget)
	if m, ok := t.accounts.(*memThrottle); ok {
		m.sweep(forget)
	}
	t.logins.sweep(t.now())
}

// memThrottle is the in-process ThrottleStore. It holds at most max
// counters. To make room it evicts, among a few sampled counters, the one
// with the fewest attempts, and only one that holds no more attempts than
// the new counter will and is not waiting out a delay: flooding it with new
// keys cannot unlock a key. When nothing may be evicted, new keys share one
// overflow counter, so they are still counted, together.
type memThrottle struct {
	mu      sync.Mutex
	max     int
	entries map[string]ThrottleCount
}

// overflowKey is the counter shared by keys that found no room.
const overflowKey = "overflow"

func newMemThrottle(max int) *memThrottle {
	return &memThrottle{max: max, entries: make(map[string]ThrottleCount)}
}

// Admit implements ThrottleStore.
func (m *memThrottle) Admit(_ context.Context, key string, now time.Time, rule ThrottleRule) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key = m.slotLocked(key, now, rule)
	e := m.entries[key]
	if wait := rule.Wait(e.Count, e.Last, now); wait > 0 {
		return wait, nil
	}
	m.bumpLocked(key, e, now, rule)
	return 0, nil
}

func (m *memThrottle) bumpLocked(key string, e ThrottleCount, now time.Time, rule ThrottleRule) {
	if e.Last.Before(now.Add(-rule.ForgetAfter)) {
		e.Count = 0
	}
	e.Count++
	e.Last = now
	m.entries[key] = e
}

// slotLocked returns the key to count under: key itself when it has a
// counter or room can be made, else the overflow counter.
func (m *memThrottle) slotLocked(key string, now time.Time, rule ThrottleRule) string {
	if _, ok := m.entries[key]; ok || len(m.entries) < m.max {
		return key
	}
	var victim string
	var fewest ThrottleCount
	n := 0
	for k, e := range m.entries {
		if k == overflowKey {
			continue
		}
		if victim == "" || e.Count < fewest.Count || (e.Count == fewest.Count && e.Last.Before(fewest.Last)) {
			victim, fewest = k, e
		}
		if n++; n == 8 {
			break
		}
	}
	// The new counter will hold one attempt: only a counter with at most
	// one, and not delaying its key, may give way to it.
	if victim != "" && fewest.Count <= 1 && rule.Wait(fewest.Count, fewest.Last, now) == 0 {
		delete(m.entries, victim)
		return key
	}
	return overflowKey
}

// GiveBack implements ThrottleStore.
func (m *memThrottle) GiveBack(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok {
		return nil
	}
	if e.Count <= 1 {
		delete(m.entries, key)
		return nil
	}
	e.Count--
	m.entries[key] = e
	return nil
}

// Reset implements ThrottleStore.
func (m *memThrottle) Reset(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
	return nil
}

// Count implements ThrottleStore.
func (m *memThrottle) Count(_ context.Context, key string) (ThrottleCount, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.entries[key], nil
}

func (m *memThrottle) sweep(forgetBefore time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, e := range m.entries {
		if e.Last.Before(forgetBefore) {
			delete(m.entries, k)
		}
	}
}

func (m *memThrottle) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// loginRate limits successful logins per client address with a token
// bucket: a burst, then a steady rate. It is checked before a login is
// admitted to hashing and charged when the login succeeds.
type loginRate struct {
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

func newLoginRate(perMinute, burst, max int) *loginRate {
	per := time.Duration(0)
	if perMinute > 0 {
		per = time.Minute / time.Duration(perMinute)
	}
	return &loginRate{per: per, burst: float64(burst), max: max, buckets: make(map[string]bucket)}
}

// fill returns the bucket as it stands at now.
func (l *loginRate) fillLocked(key string, now time.Time) bucket {
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

// wait returns how long the client must wait for its next successful
// login: zero when it has one left.
func (l *loginRate) wait(ip string, now time.Time) time.Duration {
	if ip == "" || l.per <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.fillLocked("client:"+clientBucket(ip), now)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(l.per))
}

// spend charges one successful login to the client.
func (l *loginRate) spend(ip string, now time.Time) {
	if ip == "" || l.per <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	key := "client:" + clientBucket(ip)
	b := l.fillLocked(key, now)
	b.tokens--
	if _, ok := l.buckets[key]; !ok && len(l.buckets) >= l.max && !l.evictFullLocked(now) {
		// No room: the client goes unrecorded and keeps its burst. The
		// failure counters, not this rate, are what stop guessing.
		return
	}
	l.buckets[key] = b
}

// evictFullLocked removes one sampled bucket that has refilled (the same as
// no entry at all) and reports whether it found one.
func (l *loginRate) evictFullLocked(now time.Time) bool {
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

func (l *loginRate) sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.buckets {
		if l.fillLocked(k, now).tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}
