package localauth_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

// RecordingMetrics keeps what a Service reports, as "method label" counts.
type RecordingMetrics struct {
	mu       sync.Mutex
	counts   map[string]int
	waits    []time.Duration
	inFlight int
}

func (m *RecordingMetrics) add(key string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counts == nil {
		m.counts = map[string]int{}
	}
	m.counts[key] += n
}

func (m *RecordingMetrics) Get(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[key]
}

func (m *RecordingMetrics) Login(o string)           { m.add("login "+o, 1) }
func (m *RecordingMetrics) Registration(o string)    { m.add("registration "+o, 1) }
func (m *RecordingMetrics) ThrottleRefusal(k string) { m.add("throttle "+k, 1) }
func (m *RecordingMetrics) HashAdmission(d time.Duration, ok bool) {
	m.add(fmt.Sprint("admission ", ok), 1)
	m.mu.Lock()
	m.waits = append(m.waits, d)
	m.mu.Unlock()
}
func (m *RecordingMetrics) HashesInFlight(d int) {
	m.mu.Lock()
	m.inFlight += d
	m.mu.Unlock()
}
func (m *RecordingMetrics) SessionCreated()                 { m.add("session created", 1) }
func (m *RecordingMetrics) SessionsEnded(r string, n int)   { m.add("ended "+r, n) }
func (m *RecordingMetrics) StoreError(op string)            { m.add("store error "+op, 1) }
func (m *RecordingMetrics) RevocationDelay(d time.Duration) { m.add("revocation delay", 1) }

// Every outcome of a login and a registration, every throttle refusal,
// hashing admission and every way a session ends reaches Config.Metrics,
// with the fixed words the Metrics documentation lists.
func TestMetricsCountOutcomes(t *testing.T) {
	m := &RecordingMetrics{}
	e := MustEnv(t, func(c *localauth.Config) {
		c.Metrics = m
		c.Throttle.AccountFree = 1
	})
	alice := e.MustRegister(t, "alice", goodPW)
	if _, err := e.Svc.Register(ctx, "Alice", goodPW); !errors.Is(err, localauth.ErrUserExists) {
		t.Fatalf("second alice: got %v, want ErrUserExists", err)
	}
	res := e.MustLogin(t, "alice", goodPW)
	e.MustLogin(t, "alice", goodPW)
	for range 2 {
		if _, err := e.Svc.Login(ctx, "alice", "wrong password here"); !errors.Is(err, localauth.ErrInvalidCredentials) {
			t.Fatalf("wrong password: got %v", err)
		}
	}
	var rl *localauth.RateLimitError
	if _, err := e.Svc.Login(ctx, "alice", goodPW); !errors.As(err, &rl) {
		t.Fatalf("after two failures: got %v, want a *RateLimitError", err)
	}
	if err := e.Svc.Logout(ctx, res.Token); err != nil {
		t.Fatal(err)
	}
	bob := e.MustRegister(t, "bob", goodPW)
	e.Clock.Advance(time.Hour) // past alice's throttle
	e.MustLogin(t, "bob", goodPW)
	e.MustLogin(t, "bob", goodPW)
	if n, err := e.Svc.RevokeSessions(ctx, bob.ID); err != nil || n != 2 {
		t.Fatalf("RevokeSessions: got %d, %v; want 2", n, err)
	}
	if err := e.Svc.DisableUser(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}

	for key, want := range map[string]int{
		"registration success":        2,
		"registration username_taken": 1,
		"login success":               4,
		"login bad_credentials":       2,
		"login throttled":             1,
		"throttle login":              1,
		"session created":             4,
		"ended logout":                1,
		"ended revoked":               2,
		"ended disabled":              -1,
		// Two registrations, four successful logins, two failures; the
		// throttled attempt never reached the hashing queue.
		"admission true": 8,
	} {
		if got := m.Get(key); got != want {
			t.Errorf("%s: got %d, want %d", key, got, want)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.inFlight != 0 {
		t.Errorf("hashes in flight after every call returned: got %d, want 0", m.inFlight)
	}
	if len(m.waits) != 8 {
		t.Errorf("admission waits reported: got %d, want 8", len(m.waits))
	}
}

// A login refused for want of a hashing slot is reported as a refused
// admission, and the slot's holder is counted in flight until it is done.
func TestMetricsHashAdmissionRefused(t *testing.T) {
	m := &RecordingMetrics{}
	slow := &blockingHasher{BcryptHasher: localauth.BcryptHasher{Cost: 4}, gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	e := MustEnv(t, func(c *localauth.Config) {
		c.Metrics = m
		c.Hasher = slow
		c.MaxConcurrentHashes = 1
		c.HashQueueWait = time.Millisecond
	})
	e.MustRegister(t, "dave", goodPW) // hashes, never compares: not held
	done := make(chan error, 1)
	go func() { _, err := e.Svc.Login(ctx, "dave", goodPW); done <- err }()
	<-slow.entered
	m.mu.Lock()
	inFlight := m.inFlight
	m.mu.Unlock()
	if inFlight != 1 {
		t.Errorf("hashes in flight during a comparison: got %d, want 1", inFlight)
	}
	if _, err := e.Svc.Login(ctx, "dave", goodPW); !errors.Is(err, localauth.ErrBusy) {
		t.Fatalf("second login while the slot is held: got %v, want ErrBusy", err)
	}
	close(slow.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := m.Get("admission false"); got != 1 {
		t.Errorf("refused admissions: got %d, want 1", got)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.inFlight != 0 {
		t.Errorf("hashes in flight at the end: got %d, want 0", m.inFlight)
	}
}
