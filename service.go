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

	"golang.org/x/sync/singleflight"

	"github.com/localauth/localauth/throttle"
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

	// NoClientAddress declares a Service that serves no network clients,
	// such as an administrative command: its calls need no client address
	// and are not throttled per address. Servers leave it false, and then
	// every call that is throttled per address must carry one
	// (web.Auth.Context, liveauth, WithClientIP); one without is refused
	// with ErrNoClientAddress rather than run unthrottled. Default false.
	NoClientAddress bool

	// SessionLifetime is the absolute life of a session from its login,
	// when the user did not ask to be kept signed in (its cookie also ends
	// with the browser). Default 7 days.
	SessionLifetime time.Duration

	// RememberLifetime is the absolute life of a "keep me signed in"
	// session (LoginOptions.Remember). Default 30 days.
	RememberLifetime time.Duration

	// IdleTimeout ends a session that was not used for this long, whatever
	// its lifetime. Default 7 days; a negative value turns it off.
	IdleTimeout time.Duration

	// ReauthWindow is how recent a password confirmation (the login, or
	// Reauth) must be for the actions that need one: changing the
	// password, ending other sessions, deleting the account. Default 10
	// minutes.
	ReauthWindow time.Duration

	// CacheSize is how many authenticated sessions are kept in memory.
	// Default 100,000; a negative value turns the cache off.
	CacheSize int

	// CacheMaxAge is how long a cached session is trusted before
	// Authenticate reads it from the store again. Revocations reach the
	// cache at once through every path that ends sessions; this bound is
	// defence in depth, so that no lost message or bug can keep a revoked
	// session alive on any instance for longer. Default 30s.
	CacheMaxAge time.Duration

	// PurgeInterval is how often expired sessions are deleted from the
	// store in the background. Default 10 minutes; a negative value turns
	// the purge off (call PurgeExpired yourself).
	PurgeInterval time.Duration

	// Throttle limits failed logins and registrations per account and per
	// client. Default: see ThrottleConfig.
	Throttle ThrottleConfig

	// MaxConcurrentHashes bounds how many bcrypt computations run at once.
	// bcrypt keeps a core busy, so more than one per core only makes each
	// slower. Logins, registrations and password changes beyond it wait in
	// a queue that is fair between client addresses. Default: the number
	// of CPUs (GOMAXPROCS).
	MaxConcurrentHashes int

	// HashQueueWait is the most a login, registration or password change
	// waits in that queue: a person's patience. One whose expected wait is
	// longer is refused at once with a *BusyError saying when to retry.
	// Default 2s.
	HashQueueWait time.Duration

	// MaxSessionsPerUser caps a user's sessions: when a login would exceed
	// it, the oldest session ends. Default 100; a negative value removes
	// the cap.
	MaxSessionsPerUser int

	// DeviceLifetime is how long a device token (see ThrottleConfig) stays
	// valid after the last login it was presented with. Default 180 days.
	DeviceLifetime time.Duration

	// ActivityRetention is how long each user's security activity
	// (Service.Activity) is kept; older events are deleted with the
	// expired sessions. Default 90 days; a negative value keeps them
	// forever.
	ActivityRetention time.Duration

	// Logger receives the audit events (one per login, failure, throttle,
	// registration, logout, password change and admin action) and
	// internal errors. It never receives a password or a token. Default:
	// slog.Default().
	Logger *slog.Logger

	// Metrics receives counts and timings (logins and registrations by
	// outcome, throttle refusals, hashing admission, sessions, store
	// errors), for monitoring. Default NopMetrics: nothing is recorded.
	Metrics Metrics

	// SecretKey seals second-factor secrets at rest: TOTP secrets are
	// encrypted under a key derived from it, and recovery codes are stored
	// as HMACs under another, so that a copy of the database alone yields
	// neither. At least 32 bytes from a secure random source, the same on
	// every instance, kept out of the database. Default none: TOTP cannot
	// be enrolled or checked (ErrFactorUnavailable).
	SecretKey []byte

	// TOTP checks authenticator-app codes. Default none: TOTP is not
	// offered (package mfa provides one).
	TOTP TOTPVerifier

	// Passkeys runs WebAuthn ceremonies. Default none: passkeys are not
	// offered (package mfa provides one).
	Passkeys PasskeyVerifier

	// Issuer names this service in authenticator apps. Default
	// "localauth".
	Issuer string

	// Now is the clock. Default time.Now.
	Now func() time.Time

	// Mail turns on the email flows: verified addresses, password reset
	// by email, notices. Default off (see MailConfig).
	Mail MailConfig

	// Rand is the source of token randomness. Default crypto/rand.Reader.
	// Anything else is for tests only.
	Rand io.Reader
}

// Service is local authentication over a Store: registration, login,
// sessions and account administration. It is safe for concurrent use. Create
// it with New and stop its background work with Close.
type Service struct {
	store    Store
	handoffs HandoffStore // nil when the store keeps none
	noClient bool         // Config.NoClientAddress
	hasher   Hasher
	policy   PasswordPolicy
	lifetime time.Duration
	remember time.Duration
	reauth   time.Duration
	idle     time.Duration
	now      func() time.Time
	rand     io.Reader
	log      *slog.Logger
	metrics  Metrics
	cache    *sessionCache
	// cacheMaxAge bounds how long a cached session is trusted.
	cacheMaxAge time.Duration
	// lookups coalesces concurrent store reads of one session.
	lookups     singleflight.Group
	throttle    *limiter
	admission   *throttle.Admission
	maxSessions int
	deviceLife  time.Duration
	// activityRetention is Config.ActivityRetention; 0 keeps events.
	activityRetention time.Duration

	secretKey []byte
	totp      TOTPVerifier
	passkeys  PasskeyVerifier
	issuer    string

	dummyHash func() ([]byte, error)

	mail *mailState // nil when mail is off

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
	if cfg.RememberLifetime == 0 {
		cfg.RememberLifetime = 30 * 24 * time.Hour
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 7 * 24 * time.Hour
	}
	if cfg.ReauthWindow == 0 {
		cfg.ReauthWindow = 10 * time.Minute
	}
	if cfg.SessionLifetime < 0 || cfg.RememberLifetime < 0 || cfg.ReauthWindow < 0 {
		return nil, errors.New("localauth: session lifetimes and the reauth window cannot be negative")
	}
	if cfg.IdleTimeout < 0 {
		cfg.IdleTimeout = 0 // off
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 100_000
	}
	if cfg.CacheMaxAge == 0 {
		cfg.CacheMaxAge = 30 * time.Second
	}
	if cfg.CacheMaxAge < 0 {
		return nil, errors.New("localauth: cache max age cannot be negative")
	}
	if cfg.PurgeInterval == 0 {
		cfg.PurgeInterval = 10 * time.Minute
	}
	if cfg.MaxConcurrentHashes <= 0 {
		cfg.MaxConcurrentHashes = runtimeCPUs()
	}
	if cfg.HashQueueWait <= 0 {
		cfg.HashQueueWait = 2 * time.Second
	}
	if cfg.MaxSessionsPerUser == 0 {
		cfg.MaxSessionsPerUser = 100
	}
	if cfg.DeviceLifetime <= 0 {
		cfg.DeviceLifetime = 180 * 24 * time.Hour
	}
	if cfg.ActivityRetention == 0 {
		cfg.ActivityRetention = 90 * 24 * time.Hour
	}
	if cfg.ActivityRetention < 0 {
		cfg.ActivityRetention = 0 // kept forever
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NopMetrics{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SecretKey != nil && len(cfg.SecretKey) < 32 {
		return nil, errors.New("localauth: Config.SecretKey must be at least 32 bytes")
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "localauth"
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	th, err := newLimiter(cfg.Throttle, store, cfg.Now)
	if err != nil {
		return nil, err
	}
	handoffs, _ := store.(HandoffStore)
	mail, err := newMailState(cfg.Mail, store, cfg.Metrics)
	if err != nil {
		return nil, err
	}
	s := &Service{
		store:       store,
		handoffs:    handoffs,
		noClient:    cfg.NoClientAddress,
		hasher:      cfg.Hasher,
		policy:      cfg.Policy,
		lifetime:    cfg.SessionLifetime,
		remember:    cfg.RememberLifetime,
		reauth:      cfg.ReauthWindow,
		idle:        cfg.IdleTimeout,
		now:         cfg.Now,
		rand:        cfg.Rand,
		log:         cfg.Logger,
		metrics:     cfg.Metrics,
		cache:       newSessionCache(cfg.CacheSize),
		cacheMaxAge: cfg.CacheMaxAge,
		throttle:    th,
		admission:   throttle.NewAdmission(cfg.MaxConcurrentHashes, cfg.HashQueueWait),
		maxSessions: cfg.MaxSessionsPerUser,
		deviceLife:  cfg.DeviceLifetime,
		secretKey:   cfg.SecretKey,
		totp:        cfg.TOTP,
		passkeys:    cfg.Passkeys,
		issuer:      cfg.Issuer,
		listeners:   make(map[int]func(Revocation)),
		mail:        mail,

		activityRetention: cfg.ActivityRetention,
	}
	// A second factor configured over a store that keeps none is off. Say
	// so: a store wrapped by a type that passes only Store through (for
	// metrics or tracing, say) hides the factors its users have, and they
	// would log in with their password alone.
	if _, ok := store.(TOTPStore); cfg.TOTP != nil && !ok {
		s.log.Warn("localauth: Config.TOTP is set but the store keeps no TOTP factors (TOTPStore): TOTP is off, and no login asks for a code")
	}
	if _, ok := store.(PasskeyStore); cfg.Passkeys != nil && !ok {
		s.log.Warn("localauth: Config.Passkeys is set but the store keeps no passkeys (PasskeyStore): passkeys are off")
	}
	// Likewise a store that records devices but lacks a method of
	// DeviceStore (one written before DeleteExpiredDevices, say) is no
	// DeviceStore: its users' browsers are never trusted.
	if _, ok := store.(DeviceStore); !ok {
		if _, records := store.(interface {
			DeviceTrusted(ctx context.Context, userID int64, h TokenHash, now time.Time) (bool, error)
		}); records {
			s.log.Warn("localauth: the store records devices but is not a DeviceStore (is DeleteExpiredDevices missing?): trusted devices are off, and every client is a stranger")
		}
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
	if mail != nil && mail.mailer != nil {
		s.wg.Go(func() { s.outboxLoop(ctx) })
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
// many it deleted; then the expired handoffs (HandoffStore), the expired
// trusted devices (DeviceStore), the guess counters idle past
// ThrottleConfig.ForgetAfter (see ThrottleStoreProvider) and the security
// activity older than Config.ActivityRetention. New runs it every
// Config.PurgeInterval.
func (s *Service) PurgeExpired(ctx context.Context) (int, error) {
	now := s.now()
	var idleBefore time.Time
	if s.idle > 0 {
		idleBefore = now.Add(-s.idle)
	}
	s.cache.sweep(now, idleBefore)
	s.purgeMailTokens(ctx, now)
	// Every step runs whatever the others did: a failing one (a store
	// that is down) must not keep the rest, in memory or not, from being
	// swept, and every failure is reported.
	n, err := s.store.DeleteExpiredSessions(ctx, now, idleBefore)
	if n > 0 {
		s.metrics.SessionsEnded("expired", n)
	}
	errs := []error{err, s.throttle.sweep(ctx)}
	if s.handoffs != nil {
		_, err := s.handoffs.DeleteExpiredHandoffs(ctx, now)
		errs = append(errs, err)
	}
	if ds, ok := s.deviceStore(); ok {
		_, err := ds.DeleteExpiredDevices(ctx, now)
		errs = append(errs, err)
	}
	errs = append(errs, s.pruneActivity(ctx))
	if err := errors.Join(errs...); err != nil {
		s.metrics.StoreError("purge")
		return n, storeErr(err)
	}
	return n, nil
}
