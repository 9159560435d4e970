package throttle

import (
	"context"
	"sync"
	"time"
)

// Admission decides when a password hash may run. bcrypt keeps a core busy,
// so at most slots hashes run at once; the rest wait in a queue, one FIFO per
// client address, served round-robin between addresses and preferring an
// address with nothing in flight. One address sending many requests at once
// therefore waits behind its own requests, not in front of everyone else's.
//
// A request waits at most budget (a person's patience). One whose expected
// wait is longer is refused at once, with how long until the queue should
// have room for it, rather than left to time out.
type Admission struct {
	mu      sync.Mutex
	slots   int
	budget  time.Duration
	running int
	// inFlight counts running hashes per client.
	inFlight map[string]int
	queues   map[string][]*waiter
	// ring holds the clients with waiters, in round-robin order; next is
	// where the next turn starts.
	ring    []string
	next    int
	waiting int
	// perHash is a moving average of how long one hash holds a slot.
	perHash time.Duration
}

type waiter struct {
	client string
	ready  chan struct{}
	// admitted is set, under mu, when the waiter is given a slot.
	admitted bool
}

// initialHashEstimate stands in for the time of one hash until one has been
// measured: about bcrypt's at DefaultBcryptCost on a current core.
const initialHashEstimate = 250 * time.Millisecond

// NewAdmission returns an Admission of slots concurrent hashes, where a
// request waits at most budget.
func NewAdmission(slots int, budget time.Duration) *Admission {
	return &Admission{
		slots: slots, budget: budget, perHash: initialHashEstimate,
		inFlight: make(map[string]int), queues: make(map[string][]*waiter),
	}
}

// Acquire waits for a hashing slot for client (a client address, grouped as
// the caller likes). It returns one of:
//   - release, to be called once the hash is done, when a slot was given;
//   - retryAfter > 0 when the server is too busy: the expected wait exceeds
//     the budget (at once) or the wait did (after budget), and retryAfter
//     is when to try again;
//   - ctx.Err() when ctx ended first.
func (a *Admission) Acquire(ctx context.Context, client string) (release func(), retryAfter time.Duration, err error) {
	a.mu.Lock()
	if a.running < a.slots && a.waiting == 0 {
		a.startLocked(client)
		a.mu.Unlock()
		return a.releaser(client), 0, nil
	}
	if wait := a.expectedWaitLocked(client); wait > a.budget {
		a.mu.Unlock()
		return nil, wait - a.budget, nil
	}
	w := &waiter{client: client, ready: make(chan struct{})}
	if len(a.queues[client]) == 0 {
		a.ring = append(a.ring, client)
	}
	a.queues[client] = append(a.queues[client], w)
	a.waiting++
	a.mu.Unlock()

	timer := time.NewTimer(a.budget)
	defer timer.Stop()
	timedOut := false
	select {
	case <-w.ready:
		return a.releaser(client), 0, nil
	case <-timer.C:
		timedOut = true
	case <-ctx.Done():
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if w.admitted {
		// Admitted in the same instant: take the slot after all.
		return a.releaser(client), 0, nil
	}
	a.removeLocked(w)
	if timedOut {
		return nil, max(a.perHash, time.Millisecond), nil
	}
	return nil, 0, ctx.Err()
}

// expectedWaitLocked estimates how long a new request from client would
// wait: the requests served before it under round-robin (from each other
// client, up to one more than this client has queued; then this client's
// own), shared among the slots, at the measured time per hash.
func (a *Admission) expectedWaitLocked(client string) time.Duration {
	own := len(a.queues[client]) + a.inFlight[client]
	ahead := len(a.queues[client])
	for c, q := range a.queues {
		if c != client {
			ahead += min(len(q), own+1)
		}
	}
	return time.Duration(float64(ahead+1) / float64(a.slots) * float64(a.perHash))
}

func (a *Admission) startLocked(client string) {
	a.running++
	a.inFlight[client]++
}

// releaser returns the release function of a slot taken now.
func (a *Admission) releaser(client string) func() {
	start := time.Now()
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			a.perHash = (4*a.perHash + time.Since(start)) / 5
			a.running--
			if a.inFlight[client]--; a.inFlight[client] <= 0 {
				delete(a.inFlight, client)
			}
			a.dispatchLocked()
		})
	}
}

// dispatchLocked hands free slots to waiters, round-robin, preferring
// clients with no hash in flight.
func (a *Admission) dispatchLocked() {
	for a.running < a.slots && a.waiting > 0 {
		i := a.pickLocked()
		client := a.ring[i]
		q := a.queues[client]
		w := q[0]
		a.queues[client] = q[1:]
		if len(q) == 1 {
			delete(a.queues, client)
			a.ring = append(a.ring[:i], a.ring[i+1:]...)
			a.next = i
		} else {
			a.next = i + 1
		}
		if a.next >= len(a.ring) {
			a.next = 0
		}
		a.waiting--
		w.admitted = true
		a.startLocked(client)
		close(w.ready)
	}
}

// pickLocked returns the ring index of the next client to serve.
func (a *Admission) pickLocked() int {
	n := len(a.ring)
	for k := range n {
		i := (a.next + k) % n
		if a.inFlight[a.ring[i]] == 0 {
			return i
		}
	}
	return a.next % n
}

// removeLocked takes a waiter that gave up out of the queue.
func (a *Admission) removeLocked(w *waiter) {
	q := a.queues[w.client]
	for i, x := range q {
		if x != w {
			continue
		}
		a.queues[w.client] = append(q[:i:i], q[i+1:]...)
		a.waiting--
		break
	}
	if len(a.queues[w.client]) > 0 {
		return
	}
	delete(a.queues, w.client)
	for i, c := range a.ring {
		if c == w.client {
			a.ring = append(a.ring[:i], a.ring[i+1:]...)
			if a.next > i {
				a.next--
			}
			break
		}
	}
	if a.next >= len(a.ring) {
		a.next = 0
	}
}

// queued reports how many requests wait, for tests.
func (a *Admission) Queued() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.waiting
}
