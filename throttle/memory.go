package throttle

import (
	"context"
	"sync"
	"time"
)

// Memory is a Store in process memory, for counters that need not outlive
// the process or be shared: client addresses, and account counters when
// the application's store keeps none.
//
// It holds at most max counters. To make room it evicts, among a few
// sampled counters, the one with the fewest attempts, and only one that
// holds no more attempts than the new counter will and is not waiting out
// a delay: flooding it with new keys cannot unlock a key. When nothing may
// be evicted, new keys share one overflow counter, so they are still
// counted, together.
type Memory struct {
	mu      sync.Mutex
	max     int
	entries map[string]State
}

// overflowKey is the counter shared by keys that found no room.
const overflowKey = "overflow"

// NewMemory returns an empty Memory that holds at most max counters.
func NewMemory(max int) *Memory {
	return &Memory{max: max, entries: make(map[string]State)}
}

// Admit implements Store.
func (m *Memory) Admit(_ context.Context, key string, now time.Time, rule Rule) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key = m.slotLocked(key, now, rule)
	e := m.entries[key]
	if wait := rule.Wait(e.Count, e.Last, now); wait > 0 {
		return wait, nil
	}
	if e.Last.Before(now.Add(-rule.ForgetAfter)) {
		e.Count = 0
	}
	e.Count++
	e.Last = Latest(e.Last, now)
	m.entries[key] = e
	return 0, nil
}

// slotLocked returns the key to count under: key itself when it has a
// counter or room can be made, else the overflow counter.
func (m *Memory) slotLocked(key string, now time.Time, rule Rule) string {
	if _, ok := m.entries[key]; ok || len(m.entries) < m.max {
		return key
	}
	var victim string
	var fewest State
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

// GiveBack implements Store. A key without a counter of its own gives
// nothing back: it may have been counted under the overflow counter, or
// evicted (or reset) since, its attempt gone with its counter, and the two
// cannot be told apart here. Taking the attempt off the overflow counter
// on a guess would let keys evicted on purpose wear down the count that
// keys without room share; left standing, the attempt only delays them.
func (m *Memory) GiveBack(_ context.Context, key string) error {
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

// Reset implements Store.
func (m *Memory) Reset(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
	return nil
}

// Count implements Store. A key that has no counter of its own counts
// zero, even when the table is full and Admit would count it under the
// overflow counter.
func (m *Memory) Count(_ context.Context, key string) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.entries[key], nil
}

// DeleteIdle implements Sweeper.
func (m *Memory) DeleteIdle(_ context.Context, forgetBefore time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, e := range m.entries {
		if e.Last.Before(forgetBefore) {
			delete(m.entries, k)
			n++
		}
	}
	return n, nil
}

// Len returns how many counters m holds.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
