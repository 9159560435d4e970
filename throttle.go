package localauth

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/localauth/localauth/throttle"
)

// ThrottleConfig sets how password guessing slows down. SECURITY.md states
// the policy with its numbers.
//
// Every password check is counted before its result is acted on, and given
// back when the password was right: a burst of guesses sent at the same
// moment cannot all be judged before the first failure is recorded. A key
// whose count says it must wait is refused before any bcrypt work; a
// login's count in the store is committed beside its comparison, which is
// acted on only once the count is in (throttle.Pending). Attempts are
// counted under two keys:
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

	// ResetRequestsFree is how many forgotten-password requests one
	// client address makes before delays start. Each account gets at most
	// a few reset mails an hour whoever asks (MailConfig); this bounds how
	// fast one client can ask about many accounts. Default 10.
	ResetRequestsFree int

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
	Store throttle.Store
}

// ThrottleStoreProvider is an optional ability of a Store: keeping the
// account and device counters with the accounts, so that every instance
// counts together and a restart does not forget a lock. When the counters
// are also a throttle.Sweeper, Service.PurgeExpired deletes those idle for
// a week, or ForgetAfter when longer.
type ThrottleStoreProvider interface {
	Throttle() throttle.Store
}

// limiter is the policy of guess limits over the throttle machinery: which
// keys an attempt is counted under, with which allowance, and what a wait
// means to the caller (a *RateLimitError).
type limiter struct {
	cfg      ThrottleConfig
	now      func() time.Time
	accounts throttle.Store   // account, device, factor and session keys
	clients  *throttle.Memory // client address keys
	logins   *throttle.LoginRate
	// pending holds the attempts claimed and not yet counted (see claim).
	pending *throttle.Pending
	// ownStore is whether accounts is the Store's own (a
	// ThrottleStoreProvider's), whose counters a LoginCommit can settle.
	ownStore bool
	// replaced is the Store's own counters when ThrottleConfig.Store stands
	// in for them: still swept, for counts made before.
	replaced throttle.Store
}

func newLimiter(cfg ThrottleConfig, store Store, now func() time.Time) (*limiter, error) {
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
	if cfg.ResetRequestsFree == 0 {
		cfg.ResetRequestsFree = 10
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
	if cfg.AccountFree < 0 || cfg.DeviceFree < 0 || cfg.ClientFree < 0 || cfg.RegistrationsFree < 0 || cfg.ResetRequestsFree < 0 ||
		cfg.ClientLoginsPerMinute < 0 || cfg.ClientLoginBurst < 0 || cfg.BaseDelay < 0 ||
		cfg.MaxDelay < cfg.BaseDelay || cfg.ForgetAfter < 0 || cfg.MaxEntries < 0 {
		return nil, fmt.Errorf("localauth: invalid throttle configuration")
	}
	t := &limiter{cfg: cfg, now: now, accounts: cfg.Store, clients: throttle.NewMemory(cfg.MaxEntries), pending: throttle.NewPending()}
	p, provided := store.(ThrottleStoreProvider)
	switch {
	case t.accounts != nil && provided:
		t.replaced = p.Throttle()
	case provided:
		t.accounts, t.ownStore = p.Throttle(), true
	case t.accounts == nil:
		t.accounts = throttle.NewMemory(cfg.MaxEntries)
	}
	t.logins = throttle.NewLoginRate(cfg.ClientLoginsPerMinute, cfg.ClientLoginBurst, cfg.MaxEntries)
	return t, nil
}

func (t *limiter) rule(free int) throttle.Rule {
	return throttle.Rule{Free: free, BaseDelay: t.cfg.BaseDelay, MaxDelay: t.cfg.MaxDelay, ForgetAfter: t.cfg.ForgetAfter}
}

func (t *limiter) accountKey(canonical string) throttle.Key {
	return throttle.Key{Name: "account:" + canonical, Store: t.accounts, Rule: t.rule(t.cfg.AccountFree)}
}

// deviceKey counts the attempts of one trusted device on one account.
func (t *limiter) deviceKey(userID int64, device TokenHash) throttle.Key {
	return throttle.Key{Name: fmt.Sprintf("device:%d:%x", userID, device[:16]), Store: t.accounts, Rule: t.rule(t.cfg.DeviceFree)}
}

// factorKey counts the second-factor answers (TOTP and recovery codes,
// at a login's second step or a re-authentication) given for one account,
// from every client and device alike: a trusted device lifts the password
// lockout only, never this count, or each password login from it would
// start a fresh round of code guesses. Only a completed login or
// re-authentication with the second factor resets it.
func (t *limiter) factorKey(userID int64) throttle.Key {
	return throttle.Key{Name: fmt.Sprintf("factor:%d", userID), Store: t.accounts, Rule: t.rule(t.cfg.AccountFree)}
}

// sessionKey counts the current-password checks made with one session.
func (t *limiter) sessionKey(h TokenHash) throttle.Key {
	return throttle.Key{Name: fmt.Sprintf("session:%x", h[:16]), Store: t.accounts, Rule: t.rule(t.cfg.AccountFree)}
}

// reset drops a key's count.
func (t *limiter) reset(ctx context.Context, k throttle.Key) error {
	if t.cfg.Disabled {
		return nil
	}
	return storeErr(throttle.Reset(ctx, k))
}

func (t *limiter) clientKey(ip string) throttle.Key {
	if ip == "" {
		return throttle.Key{}
	}
	return throttle.Key{Name: "client:" + throttle.ClientBucket(ip), Store: t.clients, Rule: t.rule(t.cfg.ClientFree)}
}

func (t *limiter) registrationKey(ip string) throttle.Key {
	if ip == "" {
		return throttle.Key{}
	}
	return throttle.Key{Name: "register:" + throttle.ClientBucket(ip), Store: t.clients, Rule: t.rule(t.cfg.RegistrationsFree)}
}

// resetRequestKey counts the forgotten-password requests of one client.
func (t *limiter) resetRequestKey(ip string) throttle.Key {
	if ip == "" {
		return throttle.Key{}
	}
	return throttle.Key{Name: "forgot:" + throttle.ClientBucket(ip), Store: t.clients, Rule: t.rule(t.cfg.ResetRequestsFree)}
}

// admit counts one attempt under every key, or none: when a key must still
// wait, the attempts already counted under the others are given back and a
// *RateLimitError says how long.
func (t *limiter) admit(ctx context.Context, keys ...throttle.Key) error {
	if t.cfg.Disabled {
		return nil
	}
	wait, err := throttle.Admit(ctx, t.now(), keys...)
	if err != nil {
		return storeErr(err)
	}
	if wait > 0 {
		return &RateLimitError{RetryAfter: wait}
	}
	return nil
}

// claim decides at once whether an attempt under k may go, counting this
// process's attempts under k not yet counted as made now, and returns the
// claim that counts it (see throttle.Pending): a *RateLimitError when k
// must wait. The caller runs its work beside count and acts on the work's
// result only once count has admitted the attempt.
func (t *limiter) claim(ctx context.Context, k throttle.Key) (*throttle.Claim, error) {
	if t.cfg.Disabled {
		k = throttle.Key{}
	}
	if _, inMemory := k.Store.(*throttle.Memory); inMemory {
		// No commit to hide, and a full table's Count would not say
		// what its Admit decides: counted at once.
		if err := t.admit(ctx, k); err != nil {
			return nil, err
		}
		return throttle.Admitted(k), nil
	}
	c, wait, err := t.pending.Claim(ctx, t.now(), k)
	if err != nil {
		return nil, storeErr(err)
	}
	if wait > 0 {
		return nil, &RateLimitError{RetryAfter: wait}
	}
	return c, nil
}

// count counts a claimed attempt in its store, now, ending the claim: a
// *RateLimitError when other processes' attempts filled the key first.
func (t *limiter) count(ctx context.Context, c *throttle.Claim) error {
	wait, err := c.Count(ctx, t.now())
	if err != nil {
		return storeErr(err)
	}
	if wait > 0 {
		return &RateLimitError{RetryAfter: wait}
	}
	return nil
}

// giveBack takes back one attempt under each key, after it succeeded (or
// was never tried: the server was busy).
func (t *limiter) giveBack(ctx context.Context, keys ...throttle.Key) {
	if !t.cfg.Disabled {
		throttle.GiveBack(ctx, keys...)
	}
}

// inStore splits keys into those whose counters are kept in the Store's
// own throttle counters, which a LoginCommit settles in the same
// transaction as the session, with their names, and the rest.
func (t *limiter) inStore(keys []throttle.Key) (stored []throttle.Key, names []string, rest []throttle.Key) {
	for _, k := range keys {
		if t.ownCounter(k) {
			stored, names = append(stored, k), append(names, k.Name)
		} else {
			rest = append(rest, k)
		}
	}
	return stored, names, rest
}

// ownCounter reports whether k counts in the Store's own throttle counters.
// The counter must be identified as the store's: an interface comparison,
// guarded, since comparing two values of a type that is not comparable
// panics. A counter that cannot be told apart is not the store's.
func (t *limiter) ownCounter(k throttle.Key) bool {
	if t.cfg.Disabled || !t.ownStore || k.Name == "" || k.Store == nil {
		return false
	}
	typ := reflect.TypeOf(k.Store)
	return typ == reflect.TypeOf(t.accounts) && typ.Comparable() && k.Store == t.accounts
}

// loginWait returns how long the client must wait before its next
// successful login may start (see ThrottleConfig.ClientLoginsPerMinute).
func (t *limiter) loginWait(ip string) time.Duration {
	if t.cfg.Disabled {
		return 0
	}
	return t.logins.Wait(t.loginKey(ip), t.now())
}

// loginDone charges a successful login to the client.
func (t *limiter) loginDone(ip string) {
	if !t.cfg.Disabled {
		t.logins.Spend(t.loginKey(ip), t.now())
	}
}

// loginKey is the client's key in the rate of successful logins.
func (t *limiter) loginKey(ip string) string {
	if ip == "" {
		return ""
	}
	return "client:" + throttle.ClientBucket(ip)
}

// sweep deletes the counters idle past ForgetAfter, whose counts are
// forgotten: the client addresses' and the login rates in memory, and the
// account counters wherever they are kept, when their store is a
// throttle.Sweeper (with the Store's own, even when ThrottleConfig.Store
// stands in for them). Counters in a store, which instances may share,
// are kept at least a week, so that an instance configured to forget
// sooner does not erase the counts of one that forgets later.
func (t *limiter) sweep(ctx context.Context) error {
	now := t.now()
	forget := now.Add(-t.cfg.ForgetAfter)
	t.clients.DeleteIdle(ctx, forget)
	t.logins.Sweep(now)
	shared := forget
	if week := now.Add(-7 * 24 * time.Hour); week.Before(shared) {
		shared = week
	}
	var errs []error
	for _, st := range []throttle.Store{t.accounts, t.replaced} {
		sw, ok := st.(throttle.Sweeper)
		if !ok {
			continue
		}
		before := shared
		if _, inMemory := st.(*throttle.Memory); inMemory {
			before = forget
		}
		_, err := sw.DeleteIdle(ctx, before)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
