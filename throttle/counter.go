package throttle

import (
	"context"
	"time"
)

// Rule is how one kind of key is throttled: Free attempts, then a delay of
// BaseDelay that doubles with every further attempt up to MaxDelay. A count
// whose last attempt is older than ForgetAfter is forgotten.
type Rule struct {
	Free                             int
	BaseDelay, MaxDelay, ForgetAfter time.Duration
}

// Wait returns how long after now a key with count attempts, the last at
// last, must still wait before its next attempt: zero when it may go.
func (r Rule) Wait(count int, last, now time.Time) time.Duration {
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

// State is a key's count: how many attempts, and when the last was.
type State struct {
	Count int
	Last  time.Time
}

// Store holds attempt counters. Each method is one atomic step: n
// concurrent Admit calls on a key that is free for exactly k more attempts
// admit exactly k, also across processes sharing the store.
type Store interface {
	// Admit counts one attempt at now under key and returns zero, unless
	// rule says the key must still wait: then it counts nothing and
	// returns how long. A count whose last attempt is older than
	// rule.ForgetAfter starts again from zero. The last attempt's time
	// never moves back (see Latest): attempts counted out of order, or by
	// instances whose clocks differ, cannot shorten a delay.
	Admit(ctx context.Context, key string, now time.Time, rule Rule) (wait time.Duration, err error)
	// GiveBack takes back one attempt that Admit counted.
	GiveBack(ctx context.Context, key string) error
	// Reset drops the key's count.
	Reset(ctx context.Context, key string) error
	// Count returns the key's state, the zero State when it has none.
	Count(ctx context.Context, key string) (State, error)
}

// Latest returns the later of a key's last attempt and now: the last
// attempt a Store records when it admits one at now.
func Latest(last, now time.Time) time.Time {
	if last.After(now) {
		return last
	}
	return now
}

// Sweeper is a Store that deletes the counters it need keep no longer. A
// Store that is not one keeps an idle counter until its key is counted
// again, when the forgotten count starts over.
type Sweeper interface {
	// DeleteIdle deletes the counters whose last attempt was before
	// forgetBefore, and returns how many.
	DeleteIdle(ctx context.Context, forgetBefore time.Time) (int, error)
}

// Key is one counter: its name, the store that holds it and its rule. The
// zero Key (no name) is no counter: Admit and GiveBack skip it, so a caller
// can pass the key of a client whose address it does not know.
type Key struct {
	Name  string
	Store Store
	Rule  Rule
}

// Admit counts one attempt at now under every key, or under none: when a
// key must still wait, the attempts already counted under the keys before
// it are given back and Admit returns that key's wait. A store error is
// returned as it is, after the same give-back.
func Admit(ctx context.Context, now time.Time, keys ...Key) (wait time.Duration, err error) {
	for i, k := range keys {
		if k.Name == "" {
			continue
		}
		wait, err := k.Store.Admit(ctx, k.Name, now, k.Rule)
		if err == nil && wait <= 0 {
			continue
		}
		GiveBack(ctx, keys[:i]...)
		return wait, err
	}
	return 0, nil
}

// GiveBack takes back one attempt under each key, after the attempt
// succeeded or was never made. Errors are ignored: a count left standing
// only delays its key, it never opens one.
func GiveBack(ctx context.Context, keys ...Key) {
	for _, k := range keys {
		if k.Name != "" {
			k.Store.GiveBack(ctx, k.Name)
		}
	}
}

// Reset drops the key's count; the zero Key has none to drop.
func Reset(ctx context.Context, k Key) error {
	if k.Name == "" {
		return nil
	}
	return k.Store.Reset(ctx, k.Name)
}
