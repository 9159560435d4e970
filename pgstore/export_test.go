package pgstore

import "github.com/jackc/pgx/v5/pgxpool"

// PoolOf exposes the pool to the tests, to exhaust it.
func PoolOf(s *Store) *pgxpool.Pool { return s.pool }
