package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth"
)

// logRevocation records, inside tx, that one session (h set) or all of a
// user's sessions ended, and announces it: NOTIFY is delivered at commit.
func logRevocation(ctx context.Context, tx pgx.Tx, userID int64, h *localauth.TokenHash) error {
	var hash []byte
	if h != nil {
		hash = h[:]
	}
	if _, err := tx.Exec(ctx, `INSERT INTO revocations (user_id, token_hash) VALUES ($1, $2)`, userID, hash); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, channel)
	return err
}

// WatchRevocations implements localauth.RevocationWatcher: it LISTENs on a
// connection of its own and reads the revocation log at every notification,
// and every Options.ResyncInterval besides. When the listening connection
// drops it reconnects and, since it cannot tell what it missed meanwhile,
// reports a flush of everything first.
func (s *Store) WatchRevocations(ctx context.Context, fn func(localauth.Revocation)) error {
	var last int64
	started := false
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		wasListening := started
		err := s.listen(ctx, &last, &started, fn)
		if ctx.Err() != nil {
			break
		}
		if wasListening || started {
			// Deaf from now on: revocations made elsewhere would go
			// unheard, so nothing cached may be trusted until the
			// listener is back (and then everything is dropped again).
			fn(localauth.Revocation{All: true})
		}
		_ = err
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	return ctx.Err()
}

// listen runs one listening connection until it fails.
func (s *Store) listen(ctx context.Context, last *int64, started *bool, fn func(localauth.Revocation)) error {
	pooled, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection that has LISTENed is not handed back to the pool.
	conn := pooled.Hijack()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+channel); err != nil {
		return err
	}
	if !*started {
		if err := conn.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM revocations`).Scan(last); err != nil {
			return err
		}
		*started = true
	} else {
		// Reconnected: whatever happened while deaf, drop every cached
		// session, then catch up with the log.
		fn(localauth.Revocation{All: true})
	}
	lastPrune := time.Time{}
	for {
		if err := s.readLog(ctx, conn, last, fn); err != nil {
			return err
		}
		if time.Since(lastPrune) > time.Minute {
			lastPrune = time.Now()
			conn.Exec(ctx, `DELETE FROM revocations WHERE created_at < now() - interval '1 hour'`)
		}
		wctx, cancel := context.WithTimeout(ctx, s.resync)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && wctx.Err() == nil {
			return err
		}
	}
}

func (s *Store) readLog(ctx context.Context, conn *pgx.Conn, last *int64, fn func(localauth.Revocation)) error {
	rows, err := conn.Query(ctx, `SELECT id, user_id, token_hash FROM revocations WHERE id > $1 ORDER BY id LIMIT 1000`, *last)
	if err != nil {
		return err
	}
	var batch []localauth.Revocation
	next := *last
	for rows.Next() {
		var r localauth.Revocation
		var hash []byte
		if err := rows.Scan(&next, &r.UserID, &hash); err != nil {
			rows.Close()
			return err
		}
		if hash == nil {
			r.All = true
		} else {
			copy(r.TokenHash[:], hash)
		}
		batch = append(batch, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	*last = next
	for _, r := range batch {
		fn(r)
	}
	return nil
}
