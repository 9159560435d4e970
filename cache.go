package localauth

import (
	"sync"
	"time"
)

// sessionCache holds recently authenticated sessions so that Authenticate
// costs a map lookup instead of a query. Every way a session can end removes
// it here as soon as this process hears of it. As a second line of defence
// an entry is trusted only for Config.CacheMaxAge after it was read from the
// store: a lost notification or a bug elsewhere cannot keep a revoked
// session alive for longer than that.
//
// A lookup that misses reads the store and then fills the cache. If a
// revocation ran between that read and the fill, the fill would bring the
// revoked session back; gen prevents it: every invalidation advances gen, and
// a fill is dropped unless gen is what it was before the read.
type sessionCache struct {
	mu     sync.RWMutex
	max    int
	gen    uint64
	byHash map[TokenHash]cachedSession
	byUser map[int64]map[TokenHash]struct{}
}

// cachedSession is what Authenticate needs of a session, and no more: it is
// copied out on every hit.
type cachedSession struct {
	user User
	// expiresAt and lastSeenAt decide whether the session is live.
	expiresAt, lastSeenAt time.Time
	// readAt is when the entry was read from the store.
	readAt time.Time
}

func newSessionCache(max int) *sessionCache {
	return &sessionCache{
		max:    max,
		byHash: make(map[TokenHash]cachedSession),
		byUser: make(map[int64]map[TokenHash]struct{}),
	}
}

func (c *sessionCache) get(h TokenHash) (cachedSession, bool) {
	if c.max <= 0 {
		return cachedSession{}, false
	}
	c.mu.RLock()
	e, ok := c.byHash[h]
	c.mu.RUnlock()
	return e, ok
}

// generation returns the value to pass to put after reading the store.
func (c *sessionCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// put stores e unless an invalidation ran since generation returned gen.
func (c *sessionCache) put(h TokenHash, e cachedSession, gen uint64) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if _, ok := c.byHash[h]; !ok && len(c.byHash) >= c.max {
		// Evict one entry. Map iteration order is random, which makes this
		// random eviction: cheap, and fair enough for a cache whose misses
		// cost one indexed query.
		for old := range c.byHash {
			c.removeLocked(old)
			break
		}
	}
	c.byHash[h] = e
	set := c.byUser[e.user.ID]
	if set == nil {
		set = make(map[TokenHash]struct{})
		c.byUser[e.user.ID] = set
	}
	set[h] = struct{}{}
}

// touch records a new last-seen time for a cached session.
func (c *sessionCache) touch(h TokenHash, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byHash[h]; ok {
		e.lastSeenAt = at
		c.byHash[h] = e
	}
}

func (c *sessionCache) removeLocked(h TokenHash) {
	e, ok := c.byHash[h]
	if !ok {
		return
	}
	delete(c.byHash, h)
	if set := c.byUser[e.user.ID]; set != nil {
		delete(set, h)
		if len(set) == 0 {
			delete(c.byUser, e.user.ID)
		}
	}
}

// invalidate applies a revocation.
func (c *sessionCache) invalidate(r Revocation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	switch {
	case r.All && r.UserID == 0:
		clear(c.byHash)
		clear(c.byUser)
	case r.All:
		for h := range c.byUser[r.UserID] {
			delete(c.byHash, h)
		}
		delete(c.byUser, r.UserID)
	default:
		c.removeLocked(r.TokenHash)
	}
}

// sweep drops entries whose sessions ended by now or were idle since
// idleBefore (when not zero).
func (c *sessionCache) sweep(now, idleBefore time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.byHash {
		if !now.Before(e.expiresAt) || (!idleBefore.IsZero() && e.lastSeenAt.Before(idleBefore)) {
			c.removeLocked(h)
		}
	}
}
