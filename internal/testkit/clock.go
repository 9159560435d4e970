package testkit

import (
	"sync"
	"time"
)

// OffsetClock is the real clock moved on by what a test added: a server
// under test runs on it, and the test makes a window or a lifetime pass
// without waiting it out, however slow the machine. Safe for concurrent
// use; its zero value is the real time.
type OffsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now returns the real time plus the offset.
func (c *OffsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock on by d.
func (c *OffsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}
