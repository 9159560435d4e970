package throttle

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

var testRule = Rule{Free: 9, BaseDelay: time.Second, MaxDelay: time.Hour, ForgetAfter: 24 * time.Hour}

// C15: n concurrent attempts on a key free for k admit exactly k.
func TestMemoryAtomic(t *testing.T) {
	m := NewMemory(1000)
	now := time.Now()
	var admitted sync.WaitGroup
	var mu sync.Mutex
	n := 0
	for range 200 {
		admitted.Go(func() {
			if wait, _ := m.Admit(context.Background(), "k", now, testRule); wait == 0 {
				mu.Lock()
				n++
				mu.Unlock()
			}
		})
	}
	admitted.Wait()
	if n != 10 {
		t.Fatalf("admitted %d, want 10", n)
	}
}

// RL5: counters stay bounded in memory, and a flood of new keys evicts no
// counter that holds more attempts than a new one: a locked key stays
// locked.
func TestMemoryFloodKeepsLocks(t *testing.T) {
	m := NewMemory(100)
	now := time.Now()
	for range 20 {
		m.Admit(context.Background(), "client:victim", now, testRule)
	}
	wait, _ := m.Admit(context.Background(), "client:victim", now, testRule)
	if wait == 0 {
		t.Fatal("the victim key is not locked to begin with")
	}
	for i := range 200_000 {
		m.Admit(context.Background(), fmt.Sprint("client:flood", i), now.Add(time.Duration(i)), testRule)
	}
	if n := m.Len(); n > 100 {
		t.Fatalf("%d entries, want at most 100", n)
	}
	if wait, _ := m.Admit(context.Background(), "client:victim", now, testRule); wait == 0 {
		t.Fatal("200,000 new keys unlocked the victim")
	}
	if n, err := m.DeleteIdle(context.Background(), now.Add(time.Hour)); err != nil || n != 100 {
		t.Fatalf("DeleteIdle: %d deleted (%v), want every one of the 100", n, err)
	}
	if n := m.Len(); n != 0 {
		t.Fatalf("%d entries after sweeping everything old, want 0", n)
	}
}

// Keys that hold one attempt give way to new ones; keys with more do not.
func TestMemoryEvictsOnlyLighterKeys(t *testing.T) {
	m := NewMemory(2)
	now := time.Now()
	ctx := context.Background()
	m.Admit(ctx, "a", now, testRule)
	m.Admit(ctx, "a", now, testRule)
	m.Admit(ctx, "b", now, testRule)
	m.Admit(ctx, "c", now, testRule) // evicts b (one attempt), never a
	if c, _ := m.Count(ctx, "a"); c.Count != 2 {
		t.Fatalf("a: %d attempts, want 2", c.Count)
	}
	if c, _ := m.Count(ctx, "b"); c.Count != 0 {
		t.Fatalf("b not evicted: %d", c.Count)
	}
	m.Admit(ctx, "c", now, testRule) // c now holds 2, like a
	m.Admit(ctx, "d", now, testRule) // no room: counted under overflow
	if c, _ := m.Count(ctx, "d"); c.Count != 0 {
		t.Fatal("d evicted a heavier key")
	}
	if c, _ := m.Count(ctx, overflowKey); c.Count != 1 {
		t.Fatalf("overflow: %d, want 1", c.Count)
	}
	// A give-back under a key without a counter of its own takes nothing
	// off the overflow counter, nor off anyone else's.
	m.GiveBack(ctx, "d")
	m.GiveBack(ctx, "evicted long ago")
	if c, _ := m.Count(ctx, overflowKey); c.Count != 1 {
		t.Fatalf("overflow after give-backs under keys without counters: %d, want 1", c.Count)
	}
	if a, _ := m.Count(ctx, "a"); a.Count != 2 {
		t.Fatalf("a after give-backs under other keys: %d, want 2", a.Count)
	}
}

// A client gets its burst, then one login per period; others are not
// charged for it.
func TestLoginRateBurstThenSteady(t *testing.T) {
	l := NewLoginRate(6, 3, 100) // one every 10s after a burst of 3
	now := time.Now()
	for i := range 3 {
		if w := l.Wait("192.0.2.1", now); w != 0 {
			t.Fatalf("login %d of the burst waits %v", i+1, w)
		}
		l.Spend("192.0.2.1", now)
	}
	if w := l.Wait("192.0.2.1", now); w != 10*time.Second {
		t.Fatalf("after the burst: wait %v, want 10s", w)
	}
	if w := l.Wait("192.0.2.2", now); w != 0 {
		t.Fatalf("another client waits %v", w)
	}
	if w := l.Wait("192.0.2.1", now.Add(10*time.Second)); w != 0 {
		t.Fatalf("after 10s: wait %v", w)
	}
}

// IPv6 addresses are counted by their /64, IPv4 ones alone.
func TestClientBucket(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":          "192.0.2.1",
		"::ffff:192.0.2.1":   "192.0.2.1",
		"2001:db8:1:2:3::4":  "2001:db8:1:2::/64",
		"2001:db8:1:2:ff::9": "2001:db8:1:2::/64",
		"not an ip":          "not an ip",
	} {
		if got := ClientBucket(in); got != want {
			t.Errorf("ClientBucket(%q) = %q, want %q", in, got, want)
		}
	}
}

// Admit counts under every key or under none: when the second key must
// wait, the first key's attempt is given back.
func TestAdmitAllOrNone(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	m := NewMemory(100)
	free := Key{Name: "free", Store: m, Rule: testRule}
	locked := Key{Name: "locked", Store: m, Rule: Rule{Free: 0, BaseDelay: time.Minute, MaxDelay: time.Hour, ForgetAfter: time.Hour}}
	if wait, err := Admit(ctx, now, locked); wait != 0 || err != nil {
		t.Fatalf("first attempt on a key with no allowance: wait %v, err %v; want admitted", wait, err)
	}
	wait, err := Admit(ctx, now, free, Key{}, locked)
	if err != nil || wait != time.Minute {
		t.Fatalf("Admit with a waiting key: wait %v, err %v; want 1m", wait, err)
	}
	if c, _ := m.Count(ctx, "free"); c.Count != 0 {
		t.Fatalf("the free key kept %d attempts after the refusal, want 0", c.Count)
	}
	if wait, _ := Admit(ctx, now, free, Key{}); wait != 0 {
		t.Fatalf("the free key alone waits %v", wait)
	}
	GiveBack(ctx, free, Key{})
	if c, _ := m.Count(ctx, "free"); c.Count != 0 {
		t.Fatalf("after GiveBack: %d attempts, want 0", c.Count)
	}
	if err := Reset(ctx, locked); err != nil {
		t.Fatal(err)
	}
	if c, _ := m.Count(ctx, "locked"); c.Count != 0 {
		t.Fatalf("after Reset: %d attempts, want 0", c.Count)
	}
}

// An attempt counted out of order does not move the last attempt back.
func TestMemoryLastNeverMovesBack(t *testing.T) {
	m := NewMemory(10)
	now := time.Now()
	m.Admit(context.Background(), "k", now, testRule)
	if wait, _ := m.Admit(context.Background(), "k", now.Add(-time.Second), testRule); wait != 0 {
		t.Fatalf("an attempt counted out of order: wait %v, want admitted", wait)
	}
	if st, _ := m.Count(context.Background(), "k"); st.Count != 2 || !st.Last.Equal(now) {
		t.Fatalf("state %+v, want 2 attempts, the last at %v", st, now)
	}
}
