package throttle

import (
	"context"
	"sync"
	"time"
)

// Pending lets a caller count an attempt in a Store while other work runs,
// instead of before it. Claim decides at once whether the attempt may go
// on to the work; Claim.Count then makes the stored count, which has the
// last word.
//
// It exists for work that is expensive and whose result must not be acted
// on before the attempt is counted, such as a password comparison beside
// a durable commit: the commit's latency hides behind the work. The caller
// must wait for Count's answer before it uses the work's result, and drop
// the result when Count refuses.
//
// Claim refuses only what the store itself says must wait, so that no
// attempt is ever refused on a guess. It grants a claim to be counted
// later while the stored count and the attempts this process has in
// flight together leave room; past that, the attempts in flight may fill
// the key or may already be in the stored count, and Claim counts the
// attempt in the store at once, as Admit does, before any work. So of n
// concurrent attempts on a key free for exactly k more, one process lets
// at most 2k go on to the work (k claimed, k counted at once), and their
// Counts admit k in all, also across processes sharing the store.
//
// Claim judges a key by its Store's Count, so it needs a store whose Count
// is the state Admit judges the key by, as the stores of localauth's
// sqlitestore and pgstore are. A Memory is not once full: a key without a
// counter of its own is counted under the shared overflow counter, yet
// counts zero. A Memory's Admit costs no commit to hide, either: use
// Admit for its keys, and Admitted for a claim on the attempt counted.
type Pending struct {
	mu       sync.Mutex
	inFlight map[string]int
}

// NewPending returns a Pending with no claims.
func NewPending() *Pending {
	return &Pending{inFlight: make(map[string]int)}
}

// Claim is one attempt under a key that may go on to the work. Exactly one
// of Count and Drop must be called on it.
type Claim struct {
	p *Pending
	k Key
	// inFlight is whether the claim is among p's attempts in flight;
	// counted, whether the attempt is already in the store.
	inFlight, counted bool
}

// Admitted returns a claim on an attempt Admit already counted under k:
// Count counts nothing more, and Drop gives the attempt back.
func Admitted(k Key) *Claim {
	return &Claim{k: k, counted: k.Name != ""}
}

// Claim returns a claim on one attempt under k at now, or, when k must
// still wait, no claim and how long. The zero Key needs no claim: the
// claim returned counts nothing.
func (p *Pending) Claim(ctx context.Context, now time.Time, k Key) (*Claim, time.Duration, error) {
	c := &Claim{p: p, k: k}
	if k.Name == "" {
		return c, 0, nil
	}
	// The claims in flight are looked at, and this one joins them, before
	// the stored count is read: a claim counted meanwhile is then seen
	// twice, in flight and stored, but never missed, so no more than k
	// claims are ever granted in flight.
	p.mu.Lock()
	earlier := p.inFlight[k.Name]
	p.inFlight[k.Name]++
	p.mu.Unlock()
	c.inFlight = true
	st, err := k.Store.Count(ctx, k.Name)
	if err != nil {
		c.end()
		return nil, 0, err
	}
	if st.Last.Before(now.Add(-k.Rule.ForgetAfter)) {
		st = State{}
	}
	if wait := k.Rule.Wait(st.Count, st.Last, now); wait > 0 {
		c.end()
		return nil, wait, nil
	}
	if earlier == 0 || k.Rule.Wait(st.Count+earlier, now, now) == 0 {
		return c, 0, nil
	}
	// The claims in flight may fill the key, or be in the stored count
	// already: the store decides now. This claim stays among those in
	// flight until its count is in, so that others see it meanwhile.
	defer c.end()
	wait, err := k.Store.Admit(ctx, k.Name, now, k.Rule)
	if err != nil || wait > 0 {
		return nil, wait, err
	}
	c.counted = true
	return c, 0, nil
}

// Count counts the claimed attempt in the store at now, as Admit does,
// unless Claim already did, and ends the claim. It returns the store's
// wait when other attempts got there first: then nothing is counted and
// the attempt must not be acted on.
func (c *Claim) Count(ctx context.Context, now time.Time) (time.Duration, error) {
	if c.k.Name == "" || c.counted {
		return 0, nil
	}
	defer c.end()
	return c.k.Store.Admit(ctx, c.k.Name, now, c.k.Rule)
}

// Drop ends the claim as an attempt never made: one Claim counted already
// is given back.
func (c *Claim) Drop(ctx context.Context) {
	if c.counted {
		GiveBack(ctx, c.k)
		c.counted = false
	}
	c.end()
}

// end takes the claim out of the attempts in flight.
func (c *Claim) end() {
	if !c.inFlight {
		return
	}
	c.inFlight = false
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if c.p.inFlight[c.k.Name]--; c.p.inFlight[c.k.Name] <= 0 {
		delete(c.p.inFlight, c.k.Name)
	}
}
