package sqlitestore

import (
	"context"
	"database/sql"
	"time"

	"github.com/localauth/localauth"
)

// revocationRetention is how long revocation log rows are kept. A watcher
// that could not read the log for longer than this drops its whole cache
// instead.
const revocationRetention = time.Hour

// logRevocation records, inside tx, that one session (h set) or all of a
// user's sessions ended.
func (s *Store) logRevocation(ctx context.Context, tx *sql.Tx, userID int64, h *localauth.TokenHash) error {
	var hash []byte
	if h != nil {
		hash = h[:]
	}
	_, err := tx.ExecContext(ctx,
		`INSERT INTO revocations (user_id, token_hash, created_at) VALUES (?, ?, ?)`, userID, hash, ms(s.now()))
	return err
}

// WatchRevocations implements localauth.RevocationWatcher by polling the
// revocation log every Options.PollInterval. Once it has its starting point,
// and after a failed read, it reports a flush of everything, since it cannot
// tell what it missed.
func (s *Store) WatchRevocations(ctx context.Context, fn func(localauth.Revocation)) error {
	var last int64
	for {
		err := s.read.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM revocations`).Scan(&last)
		if err == nil {
			break
		}
		if !sleep(ctx, s.poll) {
			return ctx.Err()
		}
	}
	// What was cached before the starting point may have been revoked
	// unheard: every cached session is dropped, then the log is followed.
	fn(localauth.Revocation{All: true})
	t := time.NewTicker(s.poll)
	defer t.Stop()
	failed := false
	lastPrune := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		next, err := s.readRevocations(ctx, last, fn)
		if err != nil {
			failed = true
			continue
		}
		if failed {
			fn(localauth.Revocation{All: true})
			failed = false
		}
		last = next
		if now := s.now(); now.Sub(lastPrune) > time.Minute {
			lastPrune = now
			s.write.ExecContext(ctx, `DELETE FROM revocations WHERE created_at < ?`, ms(now.Add(-revocationRetention)))
		}
	}
}

func (s *Store) readRevocations(ctx context.Context, after int64, fn func(localauth.Revocation)) (int64, error) {
	rows, err := s.read.QueryContext(ctx,
		`SELECT id, user_id, token_hash FROM revocations WHERE id > ? ORDER BY id LIMIT 1000`, after)
	if err != nil {
		return after, err
	}
	defer rows.Close()
	var batch []localauth.Revocation
	last := after
	for rows.Next() {
		var (
			r    localauth.Revocation
			hash []byte
		)
		if err := rows.Scan(&last, &r.UserID, &hash); err != nil {
			return after, err
		}
		if hash == nil {
			r.All = true
		} else {
			copy(r.TokenHash[:], hash)
		}
		batch = append(batch, r)
	}
	if err := rows.Err(); err != nil {
		return after, err
	}
	rows.Close()
	for _, r := range batch {
		fn(r)
	}
	return last, nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
