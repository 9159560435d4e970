package sqlitestore_test

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/sqlitestore"
)

// Passkeys added before user handles were random hold the user's id, 8
// bytes big-endian, in their authenticators: the migration records that
// handle with each, so that they keep logging in, and leaves them in use.
func TestPasskeyHandleMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := sqlitestore.Open(ctx, path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var last localauth.User
	for _, name := range []string{"ann", "bob", "cyd"} {
		last = localauth.User{Username: name, DisplayName: name, Enabled: true}
		if err := s.CreateUser(ctx, &last, []byte("$2a$04$"+strings.Repeat("x", 53))); err != nil {
			t.Fatal(err)
		}
	}
	if err := sqlitestore.MigrateDownTo(ctx, s, 7); err != nil {
		t.Fatalf("migrating down to 7: %v", err)
	}
	if err := sqlitestore.Exec(ctx, s, `INSERT INTO passkeys (public_id, user_id, credential_id, name, credential, sign_count, created_at)
		VALUES ('passkey-public-old', ?, x'0102', 'Old', x'7b7d', 4, 1)`, last.ID); err != nil {
		t.Fatalf("a passkey at version 7: %v", err)
	}
	s.Close()

	s, err = sqlitestore.Open(ctx, path, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("migrating: %v", err)
	}
	defer s.Close()
	p, err := s.PasskeyByCredentialID(ctx, []byte{1, 2})
	want := binary.BigEndian.AppendUint64(nil, uint64(last.ID))
	if err != nil || string(p.UserHandle) != string(want) || !p.SuspendedAt.IsZero() {
		t.Fatalf("the old passkey after migrating: handle %x suspended %v (err=%v), want handle %x and in use", p.UserHandle, p.SuspendedAt, err, want)
	}
}
