package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth"
)

var _ localauth.LoginCommitter = (*Store)(nil)

// CommitLogin implements localauth.LoginCommitter in one transaction: one
// commit for the session, the device, the events and the counters, where
// written alone they took four round trips and four commits.
func (s *Store) CommitLogin(ctx context.Context, c *localauth.LoginCommit) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := createSession(ctx, tx, c.Session); err != nil {
			return err
		}
		if c.Device != nil {
			if err := trustDevice(ctx, tx, c.Device, c.Replaces); err != nil {
				return err
			}
		}
		for _, e := range c.Activity {
			if _, err := tx.Exec(ctx, insertActivitySQL, activityArgs(e)...); err != nil {
				if isForeignKey(err) {
					return localauth.ErrUserNotFound
				}
				return err
			}
		}
		for _, key := range c.GiveBack {
			if _, err := tx.Exec(ctx, giveBackSQL, key); err != nil {
				return err
			}
		}
		for _, key := range c.Reset {
			if _, err := tx.Exec(ctx, `DELETE FROM throttle WHERE key = $1`, key); err != nil {
				return err
			}
		}
		return nil
	})
}
