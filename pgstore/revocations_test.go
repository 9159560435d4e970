package pgstore_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/pgstore"
)

// openPeer opens a second store on a's schema, as another instance would.
func openPeer(t *testing.T, a *pgstore.Store) *pgstore.Store {
	t.Helper()
	b, err := pgstore.Open(context.Background(), os.Getenv("LOCALAUTH_TEST_POSTGRES"), pgstore.Options{Schema: a.SchemaName()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// newService returns a Service whose cache trusts an entry for an hour, so
// that only a delivered revocation can end a cached session within a test.
func newService(t *testing.T, st localauth.Store) *localauth.Service {
	t.Helper()
	s, err := localauth.New(st, localauth.Config{
		Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, NoClientAddress: true,
		CacheMaxAge: time.Hour, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitRefused waits until svc refuses tok, failing after a generous deadline.
func waitRefused(t *testing.T, svc *localauth.Service, tok localauth.Token, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := svc.Authenticate(context.Background(), tok)
		if errors.Is(err, localauth.ErrInvalidSession) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still accepted 15s after its revocation committed (%v)", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// revokedUsers records the users whose sessions OnRevoke reported.
type revokedUsers struct {
	mu   sync.Mutex
	seen map[int64]bool
}

func (r *revokedUsers) add(rv localauth.Revocation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[rv.UserID] = true
}

func (r *revokedUsers) has(id int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[id]
}

// Two revoking transactions where the one holding the lower log id commits
// last: another instance's cache and its revocation listeners (what pushes
// open live tabs out) hear of both.
func TestRevocationCommittedOutOfOrder(t *testing.T) {
	ctx := context.Background()
	a := MustOpen(t)
	b := openPeer(t, a)
	svcA, svcB := newService(t, a), newService(t, b)
	heard := &revokedUsers{seen: map[int64]bool{}}
	defer svcB.OnRevoke(heard.add)()

	login := func(name string) (localauth.User, localauth.Token) {
		t.Helper()
		u, err := svcA.Register(ctx, name, "correct horse battery staple")
		if err != nil {
			t.Fatal(err)
		}
		res, err := svcA.Login(ctx, name, "correct horse battery staple")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svcB.Authenticate(ctx, res.Token); err != nil {
			t.Fatalf("%s's session on B: %v", name, err)
		}
		return u, res.Token
	}
	// B's listener is up once it has heard a first revocation.
	_, warm := login("warmup")
	if err := svcA.Logout(ctx, warm); err != nil {
		t.Fatal(err)
	}
	waitRefused(t, svcB, warm, "warm-up session")

	alice, aliceTok := login("alice")
	bob, bobTok := login("bob")

	revoke := func(u localauth.User) (pgx.Tx, int64) {
		t.Helper()
		tx, err := pgstore.Begin(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, u.ID); err != nil {
			t.Fatal(err)
		}
		if err := pgstore.LogRevocation(ctx, tx, u.ID, nil); err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := tx.QueryRow(ctx, `SELECT max(id) FROM revocations WHERE user_id = $1`, u.ID).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return tx, id
	}
	txAlice, idAlice := revoke(alice)
	defer txAlice.Rollback(ctx)
	txBob, idBob := revoke(bob)
	if idAlice >= idBob {
		t.Fatalf("log ids: alice %d, bob %d; the test needs alice's to be lower", idAlice, idBob)
	}
	if err := txBob.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	waitRefused(t, svcB, bobTok, "bob (higher id, committed first)")
	if _, err := svcB.Authenticate(ctx, aliceTok); err != nil {
		t.Fatalf("alice's session ended on B before her revocation committed: %v", err)
	}
	if err := txAlice.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	waitRefused(t, svcB, aliceTok, "alice (lower id, committed last)")
	if !heard.has(alice.ID) || !heard.has(bob.ID) {
		t.Fatalf("B's revocation listeners heard alice: %v, bob: %v; want both", heard.has(alice.ID), heard.has(bob.ID))
	}
}

// A session insert whose credential version check meets an uncommitted
// password change waits for it, then is refused: the check and the insert
// cannot straddle the change.
func TestCreateSessionWaitsForCredentialChange(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	svc := newService(t, s)
	u, err := svc.Register(ctx, "alice", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := s.Credential(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := pgstore.Begin(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE users SET credential_version = credential_version + 1 WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		sess := localauth.Session{
			UserID: u.ID, TokenHash: localauth.HashToken("in-flight login"),
			CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour), LastSeenAt: time.Now(),
			CredentialVersion: cred.Version,
		}
		done <- s.CreateSession(ctx, &sess)
	}()
	// Wait until the insert is blocked on the user's row lock.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var waiting int
		// Not through tx: statistics views are read once per transaction.
		err := pgstore.PoolOf(s).QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FOR SHARE%'`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("CreateSession did not wait for the uncommitted change: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("CreateSession never waited on the user's row")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, localauth.ErrCredentialChanged) {
		t.Fatalf("CreateSession after the change committed: %v, want ErrCredentialChanged", err)
	}
	sessions, err := s.Sessions(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 0 {
		t.Fatalf("%d sessions stored, want none", len(sessions))
	}
}

// delays counts the revocation delays a store reports.
type delays struct {
	localauth.NopMetrics
	mu sync.Mutex
	d  []time.Duration
}

func (m *delays) RevocationDelay(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.d = append(m.d, d)
}

func (m *delays) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.d)
}

// An instance reports how long each revocation took to reach it, for the
// revocation propagation metric.
func TestRevocationDelayReported(t *testing.T) {
	ctx := context.Background()
	a := MustOpen(t)
	m := &delays{}
	b, err := pgstore.Open(ctx, os.Getenv("LOCALAUTH_TEST_POSTGRES"), pgstore.Options{Schema: a.SchemaName(), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	svcA, svcB := newService(t, a), newService(t, b)
	if _, err := svcA.Register(ctx, "alice", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		res, err := svcA.Login(ctx, "alice", "correct horse battery staple")
		if err != nil {
			t.Fatal(err)
		}
		svcB.Authenticate(ctx, res.Token)
		if err := svcA.Logout(ctx, res.Token); err != nil {
			t.Fatal(err)
		}
		waitRefused(t, svcB, res.Token, "a logged-out session")
	}
	deadline := time.Now().Add(15 * time.Second)
	for m.count() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d revocation delays reported, want 3", m.count())
		}
		time.Sleep(10 * time.Millisecond)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range m.d {
		if d < 0 || d > time.Minute {
			t.Fatalf("a revocation delay of %v", d)
		}
	}
}
