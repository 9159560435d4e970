package pgstore_test

import (
	"context"
	"os"
	"testing"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/pgstore"
	"github.com/localauth/localauth/storetest"
)

func TestMigrations(t *testing.T) {
	storetest.RunMigrations(t, storetest.Migrations{
		New: func(t *testing.T) (localauth.Store, func() (localauth.Store, error)) {
			s := MustOpen(t)
			// A new instance starting on the old schema migrates it.
			return s, func() (localauth.Store, error) {
				again, err := pgstore.Open(context.Background(), os.Getenv("LOCALAUTH_TEST_POSTGRES"), pgstore.Options{Schema: s.SchemaName()})
				if err != nil {
					return nil, err
				}
				t.Cleanup(func() { again.Close() })
				return again, nil
			}
		},
		DownTo: func(ctx context.Context, s localauth.Store, v int64) error {
			return pgstore.MigrateDownTo(ctx, s.(*pgstore.Store), v)
		},
		AddLookAlike: func(ctx context.Context, s localauth.Store, lookAlike, original string) error {
			return pgstore.Exec(ctx, s.(*pgstore.Store),
				`INSERT INTO users (username, display_name, password_hash, enabled, created_at, password_changed_at)
				 SELECT $1, $1, password_hash, true, created_at, password_changed_at FROM users WHERE username = $2`,
				lookAlike, original)
		},
		AddHandoff: func(ctx context.Context, s localauth.Store) error {
			return pgstore.Exec(ctx, s.(*pgstore.Store),
				`INSERT INTO handoffs (code_hash, sealed, expires_at) VALUES ($1, '\x01', now() + interval '1 hour')`, make([]byte, 32))
		},
	})
}
