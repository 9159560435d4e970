package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/localauth/localauth"
)

// Throttle returns the localauth.ThrottleStore that keeps account and
// device counters in the database file, so that a restart, or another
// process on the same file, forgets no lock. A Service over the Store uses
// it by default (localauth.ThrottleStoreProvider).
func (s *Store) Throttle() localauth.ThrottleStore { return throttleStore{s} }

type throttleStore struct{ s *Store }

// Admit implements localauth.ThrottleStore in one write transaction:
// SQLite runs one writer at a time, so concurrent attempts on a key are
// decided one after the other.
func (t throttleStore) Admit(ctx context.Context, key string, now time.Time, rule localauth.ThrottleRule) (time.Duration, error) {
	var wait time.Duration
	err := t.s.inTx(ctx, func(tx *sql.Tx) error {
		var (
			c    localauth.ThrottleCount
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
			key, c.Count+1, ms(now))
		return err
	})
	return wait, err
}

// GiveBack implements localauth.ThrottleStore.
func (t throttleStore) GiveBack(ctx context.Context, key string) error {
	return t.s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM throttle WHERE key = ? AND count <= 1`, key); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE throttle SET count = count - 1 WHERE key = ?`, key)
		return err
	})
}

// Reset implements localauth.ThrottleStore.
func (t throttleStore) Reset(ctx context.Context, key string) error {
	_, err := t.s.write.ExecContext(ctx, `DELETE FROM throttle WHERE key = ?`, key)
	return err
}

// Count implements localauth.ThrottleStore.
func (t throttleStore) Count(ctx context.Context, key string) (localauth.ThrottleCount, error) {
	var (
		c    localauth.ThrottleCount
		last int64
	)
	err := t.s.read.QueryRowContext(ctx, `SELECT count, last FROM throttle WHERE key = ?`, key).Scan(&c.Count, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return localauth.ThrottleCount{}, nil
	}
	c.Last = fromMS(last)
	return c, err
}
