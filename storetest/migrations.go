package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/mfa"
)

// Migrations is a store's side of RunMigrations: a database the suite can
// take back to an older schema version, fill as a binary of that version
// did, and hand to the store again to migrate. The rows an older binary
// wrote are in the store's own SQL.
type Migrations struct {
	// New makes an empty database, private to the calling test, and
	// returns the store open on it at the latest schema version, with
	// reopen, which opens the database again as a newer binary starting on
	// it does, so that the store migrates it. reopen closes the first
	// store if the store needs that. New arranges the cleanup of both.
	New func(t *testing.T) (s localauth.Store, reopen func() (localauth.Store, error))

	// DownTo takes the database of s back to schema version v.
	DownTo func(ctx context.Context, s localauth.Store, v int64) error

	// AddLookAlike writes, at schema version 3, a user named lookAlike
	// with the password hash and times of the user named original: the
	// look-alike an older binary let register.
	AddLookAlike func(ctx context.Context, s localauth.Store, lookAlike, original string) error

	// AddHandoff writes, at schema version 6, a handoff whose code hash is
	// 32 zero bytes, live at the Unix epoch and after.
	AddHandoff func(ctx context.Context, s localauth.Store) error
}

// RunMigrations runs the migration suite: databases as older binaries left
// them migrate, and their users and sessions go on working. The store must
// be a localauth.SchemaVersioner and a localauth.TOTPStore (which holds the
// HandoffStore).
func RunMigrations(t *testing.T, m Migrations) {
	t.Run("SkeletonMigrationKeepsCollidingUsers", func(t *testing.T) { testSkeletonMigration(t, m) })
	t.Run("SecondFactorMigration", func(t *testing.T) { testSecondFactorMigration(t, m) })
}

// migrationPassword is every user's password in the migration suite.
const migrationPassword = "correct horse battery staple"

// migrationConfig is a Service config fast enough for tests, whose users
// log in from nowhere in particular.
func migrationConfig() localauth.Config {
	return localauth.Config{Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, NoClientAddress: true}
}

// migrated reopens a database taken back to an older version and checks
// that the store brought it to the latest, at least to version least.
// what names the step in a failure.
func migrated(t *testing.T, reopen func() (localauth.Store, error), what string, least int64) localauth.Store {
	t.Helper()
	s, err := reopen()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	v, ok := s.(localauth.SchemaVersioner)
	if !ok {
		t.Fatal("the store does not report its schema version")
	}
	if cur, latest, err := v.SchemaVersion(ctx); err != nil || cur != latest || cur < least {
		t.Fatalf("schema at %d of %d (%v), want the latest, at least %d", cur, latest, err, least)
	}
	return s
}

// A database from before the skeleton column, holding two pairs of
// look-alike users, migrates: all four users go on logging in, and a new
// look-alike of either pair is refused.
func testSkeletonMigration(t *testing.T, m Migrations) {
	s, reopen := m.New(t)
	cfg := migrationConfig()
	svc, err := localauth.New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ace", "bob"} {
		if _, err := svc.Register(ctx, name, migrationPassword); err != nil {
			t.Fatalf("Register(%q): %v", name, err)
		}
	}
	svc.Close()
	if err := m.DownTo(ctx, s, 3); err != nil {
		t.Fatalf("migrating down to 3: %v", err)
	}
	// What an older binary allowed: look-alikes beside the originals.
	for _, pair := range [][2]string{{"асе", "ace"}, {"bòb", "bob"}} {
		if err := m.AddLookAlike(ctx, s, pair[0], pair[1]); err != nil {
			t.Fatalf("inserting %q at version 3: %v", pair[0], err)
		}
	}

	s = migrated(t, reopen, "migrating a database with look-alikes", 4)
	svc, err = localauth.New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	for _, name := range []string{"ace", "асе", "bob", "bòb"} {
		if _, err := svc.Login(ctx, name, migrationPassword); err != nil {
			t.Errorf("Login(%q) after the migration: %v", name, err)
		}
	}
	for _, name := range []string{"áce", "bób", "асё"} {
		if _, err := svc.Register(ctx, name, migrationPassword); !errors.Is(err, localauth.ErrUsernameConfusable) {
			t.Errorf("Register(%q) after the migration: got %v, want ErrUsernameConfusable", name, err)
		}
	}
	// The originals keep their skeletons; the later look-alikes hold none.
	for name, want := range map[string]string{"ace": "ace", "bob": "bob"} {
		u, err := s.UserBySkeleton(ctx, want)
		if err != nil || u.Username != name {
			t.Errorf("UserBySkeleton(%q): got %q (%v), want %q", want, u.Username, err, name)
		}
	}
}

// A database from before second factors (schema 6) migrates: its users'
// sessions and its handoffs survive, and an account can then turn TOTP on.
func testSecondFactorMigration(t *testing.T, m Migrations) {
	s, reopen := m.New(t)
	cfg := migrationConfig()
	svc, err := localauth.New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Register(ctx, "alice", migrationPassword); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Login(ctx, "alice", migrationPassword)
	if err != nil {
		t.Fatal(err)
	}
	svc.Close()
	// The user and the session, as a binary before second factors left
	// them (the Down migration removes what 00007 added).
	if err := m.DownTo(ctx, s, 6); err != nil {
		t.Fatalf("migrating down to 6: %v", err)
	}
	if err := m.AddHandoff(ctx, s); err != nil {
		t.Fatalf("a handoff at version 6: %v", err)
	}

	s = migrated(t, reopen, "migrating", 7)
	cfg.SecretKey = []byte(rand.Text() + rand.Text())
	cfg.TOTP = mfa.TOTP{}
	svc, err = localauth.New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if _, err := svc.Authenticate(ctx, res.Token); err != nil {
		t.Fatalf("a session from before the migration: %v", err)
	}
	var zero localauth.TokenHash
	if _, err := handoffStore(t, s).TakeHandoff(ctx, zero, time.UnixMilli(0)); err != nil {
		t.Fatalf("a handoff from before the migration: %v", err)
	}
	en, err := svc.EnrollTOTP(ctx, res.Token)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(en.Secret, time.Now())
	if _, err := svc.ConfirmTOTP(ctx, res.Token, code); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Login(ctx, "alice", migrationPassword); err == nil {
		t.Fatal("a password alone logged in after TOTP was turned on")
	}
}
