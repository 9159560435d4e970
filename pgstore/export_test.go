package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/localauth/localauth"
)

// PoolOf exposes the pool to the tests, to exhaust it.
func PoolOf(s *Store) *pgxpool.Pool { return s.pool.raw }

// Begin starts a transaction whose statements name the store's schema.
func Begin(ctx context.Context, s *Store) (pgx.Tx, error) { return s.pool.Begin(ctx) }

// LogRevocation exposes the log writer, so that tests can hold a revoking
// transaction open and choose the commit order.
func LogRevocation(ctx context.Context, tx pgx.Tx, userID int64, h *localauth.TokenHash) error {
	return logRevocation(ctx, tx, userID, h)
}
