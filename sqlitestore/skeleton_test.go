package sqlitestore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/sqlitestore"
)

// A database from before the skeleton column, holding two pairs of
// look-alike users, migrates: all four users go on logging in, and a new
// look-alike of either pair is refused.
func TestSkeletonMigrationKeepsCollidingUsers(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	const pw = "correct horse battery staple"
	cfg := localauth.Config{Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, NoClientAddress: true}

	s, err := sqlitestore.Open(ctx, path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := localauth.New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ace", "bob"} {
		if _, err := svc.Register(ctx, name, pw); err != nil {
			t.Fatalf("Register(%q): %v", name, err)
		}
	}
	svc.Close()
	if err := sqlitestore.MigrateDownTo(ctx, s, 3); err != nil {
		t.Fatalf("migrating down to 3: %v", err)
	}
	// What an older binary allowed: look-alikes beside the originals.
	for _, pair := range [][2]string{{"асе", "ace"}, {"bòb", "bob"}} {
		err := sqlitestore.Exec(ctx, s,
			`INSERT INTO users (username, display_name, password_hash, enabled, created_at, password_changed_at)
			 SELECT ?, ?, password_hash, 1, created_at, password_changed_at FROM users WHERE username = ?`,
			pair[0], pair[0], pair[1])
		if err != nil {
			t.Fatalf("inserting %q at version 3: %v", pair[0], err)
		}
	}
	s.Close()

	s, err = sqlitestore.Open(ctx, path, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("migrating a database with look-alikes: %v", err)
	}
	defer s.Close()
	if cur, latest, err := s.SchemaVersion(ctx); err != nil || cur != latest || cur < 4 {
		t.Fatalf("schema at %d of %d (%v), want the latest, at least 4", cur, latest, err)
	}
	svc, err = localauth.New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	for _, name := range []string{"ace", "асе", "bob", "bòb"} {
		if _, err := svc.Login(ctx, name, pw); err != nil {
			t.Errorf("Login(%q) after the migration: %v", name, err)
		}
	}
	for _, name := range []string{"áce", "bób", "асё"} {
		if _, err := svc.Register(ctx, name, pw); !errors.Is(err, localauth.ErrUsernameConfusable) {
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
