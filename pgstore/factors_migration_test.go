package pgstore_test

import (
	"context"
	"crypto/rand"
	"os"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/mfa"
	"github.com/localauth/localauth/pgstore"
)

// A database from before second factors (schema 6) migrates: its users'
// sessions and its handoffs survive, and an account can then turn TOTP on.
func TestSecondFactorMigration(t *testing.T) {
	ctx := context.Background()
	const pw = "correct horse battery staple"
	s := MustOpen(t)
	cfg := localauth.Config{Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, NoClientAddress: true,
		SecretKey: []byte(rand.Text() + rand.Text()), TOTP: mfa.TOTP{}}
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
	if err := pgstore.MigrateDownTo(ctx, s, 6); err != nil {
		t.Fatalf("migrating down to 6: %v", err)
	}
	if err := pgstore.Exec(ctx, s, `INSERT INTO handoffs (code_hash, sealed, expires_at) VALUES ($1, '\x01', now() + interval '1 hour')`, make([]byte, 32)); err != nil {
		t.Fatalf("a handoff at version 6: %v", err)
	}

	s2, err := pgstore.Open(ctx, os.Getenv("LOCALAUTH_TEST_POSTGRES"), pgstore.Options{Schema: s.SchemaName()})
	if err != nil {
		t.Fatalf("migrating: %v", err)
	}
	defer s2.Close()
	if cur, latest, err := s2.SchemaVersion(ctx); err != nil || cur != latest || cur < 7 {
		t.Fatalf("schema at %d of %d (%v), want the latest, at least 7", cur, latest, err)
	}
	svc, err = localauth.New(s2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if _, err := svc.Authenticate(ctx, res.Token); err != nil {
		t.Fatalf("a session from before the migration: %v", err)
	}
	var zero localauth.TokenHash
	if _, err := s2.TakeHandoff(ctx, zero, time.Now()); err != nil {
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
