package sqlitestore

import (
	"context"
	"database/sql"

	"github.com/localauth/localauth"
)

var _ localauth.LoginCommitter = (*Store)(nil)

// CommitLogin implements localauth.LoginCommitter in one write transaction:
// one fsync of the log where the parts written alone took four.
func (s *Store) CommitLogin(ctx context.Context, c *localauth.LoginCommit) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := createSession(ctx, tx, c.Session); err != nil {
			return err
		}
		if c.Device != nil {
			if err := trustDevice(ctx, tx, c.Device, c.Replaces); err != nil {
				return err
			}
		}
		for _, e := range c.Activity {
			if err := insertActivity(ctx, tx, e); err != nil {
				return err
			}
		}
		for _, key := range c.GiveBack {
			if err := giveBack(ctx, tx, key); err != nil {
				return err
			}
		}
		for _, key := range c.Reset {
			if _, err := tx.ExecContext(ctx, `DELETE FROM throttle WHERE key = ?`, key); err != nil {
				return err
			}
		}
		return nil
	})
}
