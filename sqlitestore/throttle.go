package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/localauth/localauth/throttle"
)

// Throttle returns the throttle.Store that keeps account and
// device counters in the database file, so that a restart, or another
// process on the same file, forgets no lock. A Service over the Store uses
// it by default (localauth.ThrottleStoreProvider).
func (s *Store) Throttle() throttle.Store { return throttleStore{s} }

type throttleStore struct{ s *Store }

// Admit implements throttle.Store in one write transaction:
// SQLite runs one writer at a time, so concurrent attempts on a key are
// decided one after the other.
func (t throttleStore) Admit(ctx context.Context, key string, now time.Time, rule throttle.Rule) (time.Duration, error) {
	var wait time.Duration
	err := t.s.inTx(ctx, func(tx *sql.Tx) error {
		var (
			c    throttle.State
			last int64
		)
		err := tx.QueryRowContext(ctx, `SELECT count, last FROM throttle WHERE key = ?`, key).Scan(&c.Count, &last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		c.Last = fromMS(last)
		if err == nil {
			if wait = rule.Wait(c.Count, c.Last, now); wait > 0 {
				return nil
			}
			if c.Last.Before(now.Add(-rule.ForgetAfter)) {
				c.Count = 0
			}
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO throttle (key, count, last) VALUES (?, ?, ?)
			 ON CONFLICT (key) DO UPDATE SET count = excluded.count, last = excluded.last`,
			key, c.Count+1, ms(throttle.Latest(c.Last, now)))
		return err
	})
	return wait, err
}

// GiveBack implements throttle.Store.
func (t throttleStore) GiveBack(ctx context.Context, key string) error {
	return t.s.inTx(ctx, func(tx *sql.Tx) error { return giveBack(ctx, tx, key) })
}

func giveBack(ctx context.Context, tx *sql.Tx, key string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM throttle WHERE key = ? AND count <= 1`, key); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE throttle SET count = count - 1 WHERE key = ?`, key)
	return err
}

// Reset implements throttle.Store.
func (t throttleStore) Reset(ctx context.Context, key string) error {
	_, err := t.s.write.ExecContext(ctx, `DELETE FROM throttle WHERE key = ?`, key)
	return err
}

// Count implements throttle.Store.
func (t throttleStore) Count(ctx context.Context, key string) (throttle.State, error) {
	var (
		c    throttle.State
		last int64
	)
	err := t.s.read.QueryRowContext(ctx, `SELECT count, last FROM throttle WHERE key = ?`, key).Scan(&c.Count, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return throttle.State{}, nil
	}
	c.Last = fromMS(last)
	return c, err
}

// DeleteIdle implements throttle.Sweeper.
func (t throttleStore) DeleteIdle(ctx context.Context, forgetBefore time.Time) (int, error) {
	return t.s.affected(ctx, `DELETE FROM throttle WHERE last < ?`, ms(forgetBefore))
}
