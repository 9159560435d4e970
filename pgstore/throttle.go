package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth"
)

// Throttle returns a localauth.ThrottleStore that keeps the failure
// counters in the database, so that every instance counts together. Set it
// as Config.Throttle.Store.
func (s *Store) Throttle() localauth.ThrottleStore { return throttleStore{s} }

type throttleStore struct{ s *Store }

// Failures implements localauth.ThrottleStore.
func (t throttleStore) Failures(ctx context.Context, key string) (int, time.Time, error) {
	ctx, cancel := t.s.ctx(ctx)
	defer cancel()
	var n int
	var last time.Time
	err := t.s.pool.QueryRow(ctx, `SELECT count, last FROM throttle WHERE key = $1`, key).Scan(&n, &last)
	if err == pgx.ErrNoRows {
		return 0, time.Time{}, nil
	}
	return n, last, err
}

// Fail implements localauth.ThrottleStore with one atomic upsert.
func (t throttleStore) Fail(ctx context.Context, key string, now, forgetBefore time.Time) error {
	ctx, cancel := t.s.ctx(ctx)
	defer cancel()
	_, err := t.s.pool.Exec(ctx,
		`INSERT INTO throttle (key, count, last) VALUES ($1, 1, $2)
		 ON CONFLICT (key) DO UPDATE SET
		   count = CASE WHEN throttle.last < $3 THEN 1 ELSE throttle.count + 1 END,
		   last = $2`, key, now, forgetBefore)
	return err
}

// Reset implements localauth.ThrottleStore.
func (t throttleStore) Reset(ctx context.Context, key string) error {
	ctx, cancel := t.s.ctx(ctx)
	defer cancel()
	_, err := t.s.pool.Exec(ctx, `DELETE FROM throttle WHERE key = $1`, key)
	return err
}
