package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth/throttle"
)

// Throttle returns the throttle.Store that keeps account and
// device counters in the database, so that every instance counts together
// and a restart forgets nothing. A Service over the Store uses it by
// default (localauth.ThrottleStoreProvider).
func (s *Store) Throttle() throttle.Store { return throttleStore{s} }

type throttleStore struct{ s *Store }

// Admit implements throttle.Store: the key's row is locked (FOR
// UPDATE, created first if missing) while the rule decides, so concurrent
// attempts on one key are decided one after the other.
func (t throttleStore) Admit(ctx context.Context, key string, now time.Time, rule throttle.Rule) (time.Duration, error) {
	var wait time.Duration
	err := t.s.inTx(ctx, func(tx pgx.Tx) error {
		var c throttle.State
		err := tx.QueryRow(ctx, `SELECT count, last FROM throttle WHERE key = $1 FOR UPDATE`, key).Scan(&c.Count, &c.Last)
		if errors.Is(err, pgx.ErrNoRows) {
			tag, ierr := tx.Exec(ctx, `INSERT INTO throttle (key, count, last) VALUES ($1, 1, $2) ON CONFLICT (key) DO NOTHING`, key, now)
			if ierr != nil || tag.RowsAffected() == 1 {
				return ierr // a new key: admitted, counted
			}
			// Another attempt created it first: decide after it.
			err = tx.QueryRow(ctx, `SELECT count, last FROM throttle WHERE key = $1 FOR UPDATE`, key).Scan(&c.Count, &c.Last)
		}
		if err != nil {
			return err
		}
		if wait = rule.Wait(c.Count, c.Last, now); wait > 0 {
			return nil
		}
		if c.Last.Before(now.Add(-rule.ForgetAfter)) {
			c.Count = 0
		}
		_, err = tx.Exec(ctx, `UPDATE throttle SET count = $2, last = $3 WHERE key = $1`, key, c.Count+1, throttle.Latest(c.Last, now))
		return err
	})
	return wait, err
}

// GiveBack implements throttle.Store.
func (t throttleStore) GiveBack(ctx context.Context, key string) error {
	ctx, cancel := t.s.ctx(ctx)
	defer cancel()
	_, err := t.s.pool.Exec(ctx, giveBackSQL, key)
	return err
}

const giveBackSQL = `WITH gone AS (DELETE FROM throttle WHERE key = $1 AND count <= 1)
	UPDATE throttle SET count = count - 1 WHERE key = $1 AND count > 1`

// Reset implements throttle.Store.
func (t throttleStore) Reset(ctx context.Context, key string) error {
	ctx, cancel := t.s.ctx(ctx)
	defer cancel()
	_, err := t.s.pool.Exec(ctx, `DELETE FROM throttle WHERE key = $1`, key)
	return err
}

// Count implements throttle.Store.
func (t throttleStore) Count(ctx context.Context, key string) (throttle.State, error) {
	ctx, cancel := t.s.ctx(ctx)
	defer cancel()
	var c throttle.State
	err := t.s.pool.QueryRow(ctx, `SELECT count, last FROM throttle WHERE key = $1`, key).Scan(&c.Count, &c.Last)
	if errors.Is(err, pgx.ErrNoRows) {
		return throttle.State{}, nil
	}
	c.Last = utc(c.Last)
	return c, err
}

// DeleteIdle implements throttle.Sweeper.
func (t throttleStore) DeleteIdle(ctx context.Context, forgetBefore time.Time) (int, error) {
	ctx, cancel := t.s.ctx(ctx)
	defer cancel()
	tag, err := t.s.pool.Exec(ctx, `DELETE FROM throttle WHERE last < $1`, forgetBefore)
	return int(tag.RowsAffected()), err
}
