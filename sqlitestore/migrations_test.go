package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/sqlitestore"
	"github.com/localauth/localauth/storetest"
)

func TestMigrations(t *testing.T) {
	storetest.RunMigrations(t, storetest.Migrations{
		New: func(t *testing.T) (localauth.Store, func() (localauth.Store, error)) {
			path := filepath.Join(t.TempDir(), "old.db")
			open := func() (*sqlitestore.Store, error) {
				s, err := sqlitestore.Open(context.Background(), path, sqlitestore.Options{})
				if err == nil {
					t.Cleanup(func() { s.Close() })
				}
				return s, err
			}
			s, err := open()
			if err != nil {
				t.Fatal(err)
			}
			// The file is migrated by the one binary that has it open.
			return s, func() (localauth.Store, error) {
				s.Close()
				return open()
			}
		},
		DownTo: func(ctx context.Context, s localauth.Store, v int64) error {
			return sqlitestore.MigrateDownTo(ctx, s.(*sqlitestore.Store), v)
		},
		AddLookAlike: func(ctx context.Context, s localauth.Store, lookAlike, original string) error {
			return sqlitestore.Exec(ctx, s.(*sqlitestore.Store),
				`INSERT INTO users (username, display_name, password_hash, enabled, created_at, password_changed_at)
				 SELECT ?, ?, password_hash, 1, created_at, password_changed_at FROM users WHERE username = ?`,
				lookAlike, lookAlike, original)
		},
		AddHandoff: func(ctx context.Context, s localauth.Store) error {
			return sqlitestore.Exec(ctx, s.(*sqlitestore.Store), `INSERT INTO handoffs (code_hash, sealed, expires_at) VALUES (zeroblob(32), x'01', 1)`)
		},
	})
}
