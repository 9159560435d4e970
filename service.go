package localauth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Config tunes a Service. The zero value is a safe configuration: every field
// left zero takes the default its comment states.
type Config struct {
	// Hasher hashes and checks passwords. Default BcryptHasher with
	// DefaultBcryptCost.
	Hasher Hasher

	// AllowWeakCost lets a BcryptHasher run below MinBcryptCost, which
	// tests need for speed. Default false.
	AllowWeakCost bool

	// Policy decides which passwords may be set. Default: see
	// PasswordPolicy.
	Policy PasswordPolicy

	// SessionLifetime is the absolute life of a session from its login.
	// Default 7 days.
	SessionLifetime time.Duration

	// IdleTimeout ends a session that was not used for this long. Default
	// 0: no idle timeout, only SessionLifetime.
	IdleTimeout time.Duration

	// CacheSize is how many authenticated sessions are kept in memory.
	// Default 100,000; a negative value turns the cache off.
	CacheSize int

	// PurgeInterval is how often expired sessions are deleted from the
	// store in the background. Default 10 minutes; a negative value turns
	// the purge off (call PurgeExpired yourself).
	PurgeInterval time.Duration

	// Throttle limits failed logins and registrations per account and per
	// client. Default: see ThrottleConfig.
	Throttle ThrottleConfig

	// MaxConcurrentHashes bounds how many bcrypt computations run at once.
	// bcrypt keeps a core busy, so more than one per core only makes each
	// slower. A login or registration that cannot start one within
	// HashQueueWait fails fast with ErrBusy instead of queueing. Default:
	// the number of CPUs (GOMAXPROCS).
	MaxConcurrentHashes int

	// HashQueueWait is how long a login or registration may wait for a
	// free hashing slot. Default 20ms: an overloaded server answers at
	// once rather than after seconds of queueing.
	HashQueueWait time.Duration

	// Logger receives the audit events (one per login, failure, throttle,
	// registration, logout, password change and admin action) and
	// internal errors. It never receives a password or a token. Default:
	// slog.Default().
	Logger *slog.Logger

	// Now is the clock. Default time.Now.
	Now func() time.Time

	// Rand is the source of token randomness. Default crypto/rand.Reader.
	// Anything else is for tests only.
	Rand io.Reader
}

// Service is local authentication over a Store: registration, login,
// sessions and account administration. It is safe for concurrent use. Create
// it with New and stop its background work with Close.
type Service struct {
	store    Store
	hasher   Hasher
	policy   PasswordPolicy
	lifetime time.Duration
	idle     time.Duration
	now      func() time.Time
	rand     io.Reader
	log      *slog.Logger
	cache    *sessionCache
	throttle *throttle
	hashing  chan struct{}
	hashWait time.Duration

	dummyHash func() ([]byte, error)

	listenMu  sync.RWMutex
	listeners map[int]func(Revocation)
	nextID    int

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New returns a Service over store. It refuses a configuration that would
// weaken security (a bcrypt cost below MinBcryptCost, a minimum password
// length under 8, a maximum under 64).
//
// New starts background work: the purge of expired sessions and, when store
// is a RevocationWatcher, the watch for revocations made by other processes.
// Close stops it.
func New(store Store, cfg Config) (*Service, error) {
	if store == nil {
		return nil, errors.New("localauth: New needs a Store")
	}
	if cfg.Hasher == nil {
		cfg.Hasher = BcryptHasher{}
	}
	if b, ok := cfg.Hasher.(BcryptHasher); ok {
		if err := b.validate(cfg.AllowWeakCost); err != nil {
			return nil, err
		}
	}
	cfg.Policy.setDefaults()
	if cfg.Policy.MinLength < 8 {
		return nil, fmt.Errorf("localauth: minimum password length %d is below 8", cfg.Policy.MinLength)
	}
	if cfg.Policy.MaxLength < 64 || cfg.Policy.MaxLength < cfg.Policy.MinLength {
		return nil, fmt.Errorf("localauth: maximum password length %d is below 64 or the minimum", cfg.Policy.MaxLength)
	}
	if cfg.SessionLifetime == 0 {
		cfg.SessionLifetime = 7 * 24 * time.Hour
	}
	if cfg.SessionLifetime < 0 || cfg.IdleTimeout < 0 {
		return nil, errors.New("localauth: session lifetime and idle timeout cannot be negative")
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 100_000
	}
	if cfg.PurgeInterval == 0 {
		cfg.PurgeInterval = 10 * time.Minute
	}
	if cfg.MaxConcurrentHashes <= 0 {
		cfg.MaxConcurrentHashes = runtimeCPUs()
	}
	if cfg.HashQueueWait <= 0 {
		cfg.HashQueueWait = 20 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	th, err := newThrottle(cfg.Throttle, cfg.Now)
	if err != nil {
		return nil, err
	}
	s := &Service{
		store:     store,
		hasher:    cfg.Hasher,
		policy:    cfg.Policy,
		lifetime:  cfg.SessionLifetime,
		idle:      cfg.IdleTimeout,
		now:       cfg.Now,
		rand:      cfg.Rand,
		log:       cfg.Logger,
		cache:     newSessionCache(cfg.CacheSize),
		throttle:  th,
		hashing:   make(chan struct{}, cfg.MaxConcurrentHashes),
		hashWait:  cfg.HashQueueWait,
		listeners: make(map[int]func(Revocation)),
	}
	// The dummy hash for unknown usernames must cost what a real one costs,
	// so it is made by the configured hasher, once, in the background: the
	// first login for an unknown user waits for it instead of paying twice.
	s.dummyHash = sync.OnceValues(func() ([]byte, error) {
		pw, err := newToken(s.rand)
		if err != nil {
			return nil, err
		}
		return s.hasher.Hash(string(pw))
	})
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	// Not tracked by wg: it only computes, and Close need not wait for it.
	go s.dummyHash()
	if cfg.PurgeInterval > 0 {
		s.wg.Go(func() { s.purgeLoop(ctx, cfg.PurgeInterval) })
	}
	if w, ok := store.(RevocationWatcher); ok {
		s.wg.Go(func() {
			err := w.WatchRevocations(ctx, s.revoked)
			if err != nil && ctx.Err() == nil {
				s.log.Error("localauth: revocation watch ended", "err", err)
			}
		})
	}
	return s, nil
}

// Close stops the background work New started and waits for it. It does not
// close the Store.
func (s *Service) Close() error {
	s.stop()
	s.wg.Wait()
	return nil
}

// OnRevoke registers fn to be called whenever sessions end: logout, revoke,
// disable, delete, password change, in this process or (with a
// RevocationWatcher store) in another. fn runs on the goroutine that ended
// the sessions and must not block; it may be called more than once for the
// same revocation. The returned function unregisters fn.
func (s *Service) OnRevoke(fn func(Revocation)) (remove func()) {
	s.listenMu.Lock()
	defer s.listenMu.Unlock()
	id := s.nextID
	s.nextID++
	s.listeners[id] = fn
	return func() {
		s.listenMu.Lock()
		defer s.listenMu.Unlock()
		delete(s.listeners, id)
	}
}

// revoked drops the revoked sessions from the cache and tells the listeners.
func (s *Service) revoked(r Revocation) {
	s.cache.invalidate(r)
	s.listenMu.RLock()
	defer s.listenMu.RUnlock()
	for _, fn := range s.listeners {
		fn(r)
	}
}

func (s *Service) purgeLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.PurgeExpired(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("localauth: purging expired sessions failed", "err", err)
			}
		}
	}
}

// PurgeExpired deletes the sessions that expired or idled out, and returns how
// many it deleted. New runs it every Config.PurgeInterval.
func (s *Service) PurgeExpired(ctx context.Context) (int, error) {
	now := s.now()
	var idleBefore time.Time
	if s.idle > 0 {
		idleBefore = now.Add(-s.idle)
	}
	s.cache.sweep(now, idleBefore)
	s.throttle.sweep()
	n, err := s.store.DeleteExpiredSessions(ctx, now, idleBefore)
	return n, storeErr(err)
}
