package localauth

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// C15: n concurrent failures on one key count n.
func TestMemThrottleAtomic(t *testing.T) {
	m := newMemThrottle(1000)
	now := time.Now()
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() { m.Fail(context.Background(), "k", now, now.Add(-time.Hour)) })
	}
	wg.Wait()
	if n, _, _ := m.Failures(context.Background(), "k"); n != 200 {
		t.Fatalf("count = %d, want 200", n)
	}
}

// RL5: counters stay bounded in memory.
func TestMemThrottleBounded(t *testing.T) {
	m := newMemThrottle(100)
	now := time.Now()
	for i := range 10_000 {
		m.Fail(context.Background(), fmt.Sprint("key", i), now.Add(time.Duration(i)), time.Time{})
	}
	if n := m.len(); n > 100 {
		t.Fatalf("%d entries, want at most 100", n)
	}
	m.sweep(now.Add(time.Hour))
	if n := m.len(); n != 0 {
		t.Fatalf("%d entries after sweeping everything old, want 0", n)
	}
}

func TestClientBucket(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":          "192.0.2.1",
		"::ffff:192.0.2.1":   "192.0.2.1",
		"2001:db8:1:2:3::4":  "2001:db8:1:2::/64",
		"2001:db8:1:2:ff::9": "2001:db8:1:2::/64",
		"not an ip":          "not an ip",
	} {
		if got := clientBucket(in); got != want {
			t.Errorf("clientBucket(%q) = %q, want %q", in, got, want)
		}
	}
}
