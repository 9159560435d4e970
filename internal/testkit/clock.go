package testkit

import (
	"sync"
	"time"
)

// OffsetClock is the real clock moved on by what a test added: a server
// under test runs on it, and the test makes a window or a lifetime pass
// without waiting it out, however slow the machine. A test that needs a
// window to stay open instead (a lock that must still hold ten requests
// later) freezes it. Safe for concurrent use; its zero value is the real
// time.
type OffsetClock struct {
	mu     sync.Mutex
	offset time.Duration
	frozen time.Time // the real time at Freeze; zero while running
}

// Now returns the real time (or the time it was frozen at) plus the offset.
func (c *OffsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.frozen.IsZero() {
		return c.frozen.Add(c.offset)
	}
	return time.Now().Add(c.offset)
}

// Advance moves the clock on by d, frozen or not.
func (c *OffsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// Freeze stops the clock where it is until Thaw; Advance still moves it.
func (c *OffsetClock) Freeze() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen.IsZero() {
		c.frozen = time.Now()
	}
}

// Thaw lets the clock run again: it jumps to the real time plus the
// offset, past where it stood frozen, never back.
func (c *OffsetClock) Thaw() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen = time.Time{}
}
