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
// connection of its own, made from Options.ListenDSN (a LISTEN needs a
// session, which a pooler in transaction mode does not keep), and reads the revocation log at every notification,
// and every Options.ResyncInterval besides. Once it has its starting point it
// reports a flush of everything; when the listening connection drops it
// reconnects and, since it cannot tell what it missed meanwhile, reports a
// flush of everything again.
//
// The log cannot be read by id alone. Ids are drawn when a row is inserted,
// but transactions commit in any order: the row with id 41 may become
// visible after the row with id 42 was read. So each read also returns
// every row written by a transaction that was still running at the
// previous read (its xid is at or above that read's snapshot xmin, or it
// had no xid yet and so gets one above it), and rows already reported are
// skipped by id. Whatever the commit order, and across reconnections, every
// revocation is reported.
func (s *Store) WatchRevocations(ctx context.Context, fn func(localauth.Revocation)) error {
	var cur logCursor
	started := false
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		wasListening := started
		err := s.listen(ctx, &cur, &started, fn)
		if ctx.Err() != nil {
			break
		}
		if wasListening || started {
			// Deaf from now on: revocations made elsewhere go unheard.
			// Every cached session is dropped now and again once the
			// listener is back; what is cached meanwhile is trusted
			// for the cache's age bound at most.
			fn(localauth.Revocation{All: true})
		}
		if err != nil {
			s.log.Warn("pgstore: revocation listener failed; reconnecting", "err", err, "retry_in", backoff)
		}
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

// logCursor is how far a reader has read the revocation log.
type logCursor struct {
	// last is the highest id reported.
	last int64
	// xmin is the oldest transaction still running at the previous read:
	// rows it (or any later transaction) writes may still appear below
	// last.
	xmin int64
	// pending holds the ids already reported whose transactions were still
	// at or above xmin, so that re-reading them reports nothing twice.
	pending map[int64]int64
}

// listen runs one listening connection until it fails.
func (s *Store) listen(ctx context.Context, cur *logCursor, started *bool, fn func(localauth.Revocation)) error {
	conn := s.takeIdle()
	if conn == nil || conn.IsClosed() {
		cctx, cancel := s.ctx(ctx)
		var err error
		conn, err = pgx.ConnectConfig(cctx, s.session.Copy())
		cancel()
		if err != nil {
			return err
		}
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+channel); err != nil {
		return err
	}
	if !*started {
		// Start at the end of the log as it is now, remembering which
		// transactions are still running so that their rows are read.
		err := conn.QueryRow(ctx, s.pool.q.sql(`SELECT coalesce(max(id), 0), pg_snapshot_xmin(pg_current_snapshot())::text::bigint FROM revocations`)).
			Scan(&cur.last, &cur.xmin)
		if err != nil {
			return err
		}
		*started = true
	}
	// Started or reconnected: what was cached before (at the start, while
	// the watch had no starting point; later, while deaf) may have been
	// revoked unheard, so every cached session is dropped, then the log is
	// followed.
	fn(localauth.Revocation{All: true})
	lastPrune := time.Time{}
	for {
		if err := s.readLog(ctx, conn, cur, fn); err != nil {
			return err
		}
		if time.Since(lastPrune) > time.Minute {
			lastPrune = time.Now()
			if _, err := conn.Exec(ctx, s.pool.q.sql(`DELETE FROM revocations WHERE created_at < now() - interval '1 hour'`)); err != nil && ctx.Err() == nil {
				s.log.Warn("pgstore: pruning the revocation log failed", "err", err)
			}
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

// readLog reports the rows of the log that cur has not reported yet and
// advances cur. The rows and the snapshot's xmin come from one statement,
// so one snapshot.
func (s *Store) readLog(ctx context.Context, conn *pgx.Conn, cur *logCursor, fn func(localauth.Revocation)) error {
	rows, err := conn.Query(ctx, s.pool.q.sql(
		`SELECT x.xmin, r.id, r.user_id, r.token_hash, r.xid,
		        extract(epoch FROM clock_timestamp() - r.created_at)::float8
		 FROM (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin) x
		 LEFT JOIN revocations r ON r.id > $1 OR r.xid >= $2
		 ORDER BY r.id`), cur.last, cur.xmin)
	if err != nil {
		return err
	}
	type row struct {
		r   localauth.Revocation
		id  int64
		xid int64
		age float64 // seconds since the revoking transaction began
	}
	var (
		batch []row
		xmin  int64
	)
	for rows.Next() {
		var (
			id, userID, xid *int64
			hash            []byte
			age             *float64
		)
		if err := rows.Scan(&xmin, &id, &userID, &hash, &xid, &age); err != nil {
			rows.Close()
			return err
		}
		if id == nil {
			continue // the log has nothing new: only the snapshot row
		}
		b := row{id: *id, xid: *xid, age: *age, r: localauth.Revocation{UserID: *userID}}
		if hash == nil {
			b.r.All = true
		} else {
			copy(b.r.TokenHash[:], hash)
		}
		batch = append(batch, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if cur.pending == nil {
		cur.pending = make(map[int64]int64)
	}
	for _, b := range batch {
		if _, seen := cur.pending[b.id]; seen || (b.id <= cur.last && b.xid < cur.xmin) {
			continue
		}
		cur.pending[b.id] = b.xid
		cur.last = max(cur.last, b.id)
		s.revocationRead(time.Duration(b.age * float64(time.Second)))
		fn(b.r)
	}
	cur.xmin = xmin
	// Rows of transactions older than the new xmin are all visible now and
	// at or below last: they will not be read again.
	for id, xid := range cur.pending {
		if xid < xmin {
			delete(cur.pending, id)
		}
	}
	return nil
}
