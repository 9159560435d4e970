package throttle

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// claimAll makes n concurrent claims on k at now through p and returns
// the claims granted.
func claimAll(t *testing.T, p *Pending, k Key, now time.Time, n int) []*Claim {
	t.Helper()
	var (
		mu      sync.Mutex
		granted []*Claim
		wg      sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			c, wait, err := p.Claim(context.Background(), now, k)
			if err != nil {
				t.Error(err)
				return
			}
			if (c == nil) != (wait > 0) {
				t.Errorf("Claim: claim %v with wait %v: want exactly one of them", c != nil, wait)
			}
			if c != nil {
				mu.Lock()
				granted = append(granted, c)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return granted
}

// countAll counts every claim at once and returns how many the store
// admitted and refused.
func countAll(t *testing.T, claims []*Claim, now time.Time) (admitted, refused int) {
	t.Helper()
	var a, r atomic.Int64
	var wg sync.WaitGroup
	for _, c := range claims {
		wg.Go(func() {
			wait, err := c.Count(context.Background(), now)
			switch {
			case err != nil:
				t.Error(err)
			case wait > 0:
				r.Add(1)
			default:
				a.Add(1)
			}
		})
	}
	wg.Wait()
	return int(a.Load()), int(r.Load())
}

// In one process, n concurrent claims on a key free for exactly k more
// attempts let at most 2k go on to the work (k claimed, then up to k
// counted at once when the claims in flight may fill the key), and their
// counts admit exactly k.
func TestPendingBoundsTheWorkAndCountsExactly(t *testing.T) {
	m := NewMemory(100)
	now := time.Now()
	k := Key{Name: "account:a", Store: m, Rule: testRule}
	for range 3 {
		m.Admit(context.Background(), k.Name, now, testRule)
	}
	free := testRule.Free + 1 - 3
	p := NewPending()
	granted := claimAll(t, p, k, now, 50)
	if len(granted) < free || len(granted) > 2*free {
		t.Fatalf("50 claims on a key free for %d: %d granted, want %d to %d", free, len(granted), free, 2*free)
	}
	admitted, refused := countAll(t, granted, now)
	if admitted != free || refused != len(granted)-free {
		t.Fatalf("counting the %d claims: %d admitted, %d refused; want %d admitted", len(granted), admitted, refused, free)
	}
	if st, _ := m.Count(context.Background(), k.Name); st.Count != testRule.Free+1 {
		t.Fatalf("stored count %d after counting every claim, want %d", st.Count, testRule.Free+1)
	}
	if c, wait, _ := p.Claim(context.Background(), now, k); c != nil || wait <= 0 {
		t.Fatal("a claim on the full key was granted")
	}
	if len(p.inFlight) != 0 {
		t.Fatalf("claims left in flight after every one ended: %v", p.inFlight)
	}
}

// Claims in flight never refuse an attempt the store would admit: one
// counted meanwhile may be seen twice, as in flight and as stored, so past
// the room they leave, the store decides at once.
func TestPendingRefusesOnlyWhatTheStoreRefuses(t *testing.T) {
	m := NewMemory(100)
	now := time.Now()
	k := Key{Name: "account:a", Store: m, Rule: testRule}
	p := NewPending()
	held := claimAll(t, p, k, now, testRule.Free+1)
	if len(held) != testRule.Free+1 {
		t.Fatalf("%d claims granted, want %d", len(held), testRule.Free+1)
	}
	c, wait, err := p.Claim(context.Background(), now, k)
	if c == nil || wait != 0 || err != nil {
		t.Fatalf("a claim while the store has room: claim %v, wait %v, err %v; want a claim", c != nil, wait, err)
	}
	if st, _ := m.Count(context.Background(), k.Name); st.Count != 1 {
		t.Fatalf("stored count %d, want the 1 counted at claim", st.Count)
	}
	// A dropped claim that was counted is given back.
	c.Drop(context.Background())
	if st, _ := m.Count(context.Background(), k.Name); st.Count != 0 {
		t.Fatalf("stored count %d after the drop, want 0", st.Count)
	}
	for _, c := range held {
		c.Drop(context.Background())
	}
	if len(p.inFlight) != 0 {
		t.Fatalf("claims left in flight after every one was dropped: %v", p.inFlight)
	}
	if st, _ := m.Count(context.Background(), k.Name); st.Count != 0 {
		t.Fatalf("dropped claims counted %d attempts in the store, want 0", st.Count)
	}
}

// Processes sharing a store do not see each other's claims, so each may
// grant up to k; the stored count still admits k in all, and Count says
// which claims lost.
func TestPendingCountHasTheLastWord(t *testing.T) {
	m := NewMemory(100)
	now := time.Now()
	k := Key{Name: "account:a", Store: m, Rule: testRule}
	var granted []*Claim
	for range 2 {
		p := NewPending()
		for range testRule.Free + 1 {
			c, _, _ := p.Claim(context.Background(), now, k)
			if c == nil {
				t.Fatal("a claim within the key's allowance was refused")
			}
			granted = append(granted, c)
		}
	}
	admitted, refused := countAll(t, granted, now)
	if admitted != testRule.Free+1 || refused != testRule.Free+1 {
		t.Fatalf("counts: %d admitted, %d refused; want %d and %d", admitted, refused, testRule.Free+1, testRule.Free+1)
	}
}

// A stored count older than the rule's ForgetAfter is forgotten, as Admit
// forgets it.
func TestPendingForgetsOldCounts(t *testing.T) {
	m := NewMemory(100)
	then := time.Now()
	k := Key{Name: "account:a", Store: m, Rule: testRule}
	for range testRule.Free + 1 {
		m.Admit(context.Background(), k.Name, then, testRule)
	}
	p := NewPending()
	if c, _, _ := p.Claim(context.Background(), then, k); c != nil {
		t.Fatal("a claim on a full key was granted")
	}
	later := then.Add(testRule.ForgetAfter + time.Second)
	// Concurrent claims may go on in flight or be counted at once (see
	// Pending): how many of each depends on how they interleave, but the
	// key's whole allowance goes on.
	got := claimAll(t, p, k, later, 30)
	if len(got) < testRule.Free+1 {
		t.Fatalf("%d claims granted after the count was forgotten, want at least %d: the old count still weighs", len(got), testRule.Free+1)
	}
	if admitted, _ := countAll(t, got, later); admitted != testRule.Free+1 {
		t.Fatalf("claims after the count was forgotten: %d admitted, want %d", admitted, testRule.Free+1)
	}
}

// failingStore fails every read, to show that a claim the store cannot
// decide is refused and leaves nothing in flight.
type failingStore struct{ *Memory }

var errDown = errors.New("store down")

func (failingStore) Count(context.Context, string) (State, error) { return State{}, errDown }

func TestPendingStoreErrorGrantsNothing(t *testing.T) {
	p := NewPending()
	k := Key{Name: "account:a", Store: failingStore{NewMemory(10)}, Rule: testRule}
	c, _, err := p.Claim(context.Background(), time.Now(), k)
	if c != nil || !errors.Is(err, errDown) {
		t.Fatalf("Claim on a failing store: claim %v, err %v; want none and the store's error", c != nil, err)
	}
	if len(p.inFlight) != 0 {
		t.Fatalf("a failed claim left %v in flight", p.inFlight)
	}
}

// The zero Key needs no claim, and counts nothing.
func TestPendingZeroKey(t *testing.T) {
	c, wait, err := NewPending().Claim(context.Background(), time.Now(), Key{})
	if c == nil || wait != 0 || err != nil {
		t.Fatalf("Claim(zero Key): claim %v, wait %v, err %v", c != nil, wait, err)
	}
	if wait, err := c.Count(context.Background(), time.Now()); wait != 0 || err != nil {
		t.Fatalf("Count of the zero Key's claim: wait %v, err %v", wait, err)
	}
	c.Drop(context.Background())
}

// slowReads is a Memory whose Count takes a while, as a database read
// does: counts land while claims read.
type slowReads struct{ *Memory }

func (s slowReads) Count(ctx context.Context, key string) (State, error) {
	st, err := s.Memory.Count(ctx, key)
	time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) // the answer's way back
	return st, err
}

// The bound on work holds while claims are counted as soon as they are
// granted, as a login counts its claim beside its hash: a claim that read
// the stored count before others landed does not let more through.
func TestPendingBoundHoldsWhileCountsLand(t *testing.T) {
	for round := range 20 {
		k := Key{Name: "account:a", Store: slowReads{NewMemory(100)}, Rule: testRule}
		p := NewPending()
		now := time.Now()
		var worked, admitted atomic.Int64
		var wg sync.WaitGroup
		for range 60 {
			wg.Go(func() {
				c, _, err := p.Claim(context.Background(), now, k)
				if err != nil || c == nil {
					return
				}
				worked.Add(1)
				if wait, err := c.Count(context.Background(), now); err == nil && wait == 0 {
					admitted.Add(1)
				}
			})
		}
		wg.Wait()
		free := int64(testRule.Free + 1)
		if worked.Load() > 2*free || admitted.Load() != free {
			t.Fatalf("round %d: %d attempts went on to the work and %d were admitted; want at most %d and exactly %d",
				round, worked.Load(), admitted.Load(), 2*free, free)
		}
	}
}
