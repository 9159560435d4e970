package sqlitestore_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/mfa"
	"github.com/localauth/localauth/sqlitestore"
)

// A database from before second factors (schema 6) migrates: its users'
// sessions and its handoffs survive, and an account can then turn TOTP on.
func TestSecondFactorMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	const pw = "correct horse battery staple"
	cfg := localauth.Config{Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, NoClientAddress: true,
		SecretKey: []byte(rand.Text() + rand.Text()), TOTP: mfa.TOTP{}}
	s, err := sqlitestore.Open(ctx, path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := localauth.New(s, localauth.Config{Hasher: cfg.Hasher, AllowWeakCost: true, NoClientAddress: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Register(ctx, "alice", pw); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Login(ctx, "alice", pw)
	if err != nil {
		t.Fatal(err)
	}
	svc.Close()
	// The user and the session, as a binary before second factors left
	// them (the Down migration removes what 00007 added).
	if err := sqlitestore.MigrateDownTo(ctx, s, 6); err != nil {
		t.Fatalf("migrating down to 6: %v", err)
	}
	if err := sqlitestore.Exec(ctx, s, `INSERT INTO handoffs (code_hash, sealed, expires_at) VALUES (zeroblob(32), x'01', 1)`); err != nil {
		t.Fatalf("a handoff at version 6: %v", err)
	}
	s.Close()

	s, err = sqlitestore.Open(ctx, path, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("migrating: %v", err)
	}
	defer s.Close()
	if cur, latest, err := s.SchemaVersion(ctx); err != nil || cur != latest || cur < 7 {
		t.Fatalf("schema at %d of %d (%v), want the latest, at least 7", cur, latest, err)
	}
	svc, err = localauth.New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if _, err := svc.Authenticate(ctx, res.Token); err != nil {
		t.Fatalf("a session from before the migration: %v", err)
	}
	var zero localauth.TokenHash
	if _, err := s.TakeHandoff(ctx, zero, time.UnixMilli(0)); err != nil {
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
	if _, err := svc.Login(ctx, "alice", pw); err == nil {
		t.Fatal("a password alone logged in after TOTP was turned on")
	}
}
