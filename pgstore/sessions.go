package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth"
)

const sessionColumns = `s.id, s.user_id, s.token_hash, s.created_at, s.expires_at, s.last_seen_at,
	coalesce(s.public_id, ''), s.ip, s.user_agent, s.remember, s.reauth_at`

func scanSession(r pgx.Row, extra ...any) (localauth.Session, error) {
	var sess localauth.Session
	var hash []byte
	err := r.Scan(append([]any{&sess.ID, &sess.UserID, &hash, &sess.CreatedAt, &sess.ExpiresAt, &sess.LastSeenAt,
		&sess.PublicID, &sess.IP, &sess.UserAgent, &sess.Remember, &sess.ReauthAt}, extra...)...)
	copy(sess.TokenHash[:], hash)
	sess.CreatedAt, sess.ExpiresAt, sess.LastSeenAt = utc(sess.CreatedAt), utc(sess.ExpiresAt), utc(sess.LastSeenAt)
	sess.ReauthAt = utc(sess.ReauthAt)
	return sess, err
}

// CreateSession implements localauth.Store.
//
// The user's row is read FOR SHARE before the insert: a password change
// (an UPDATE of that row) that committed first is seen, and one that comes
// later waits for this transaction, so its DELETE of the user's sessions
// sees the new one. Either way no session outlives the change.
func (s *Store) CreateSession(ctx context.Context, sess *localauth.Session) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return createSession(ctx, tx, sess) })
}

func createSession(ctx context.Context, tx pgx.Tx, sess *localauth.Session) error {
	var version int64
	err := tx.QueryRow(ctx, `SELECT credential_version FROM users WHERE id = $1 FOR SHARE`, sess.UserID).Scan(&version)
	if err != nil {
		return notFound(err, localauth.ErrUserNotFound)
	}
	if version != sess.CredentialVersion {
		return localauth.ErrCredentialChanged
	}
	err = tx.QueryRow(ctx,
		`INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at, public_id, ip, user_agent, remember, reauth_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		sess.TokenHash[:], sess.UserID, sess.CreatedAt, sess.ExpiresAt, sess.LastSeenAt,
		sess.PublicID, sess.IP, sess.UserAgent, sess.Remember, sess.ReauthAt).Scan(&sess.ID)
	if isForeignKey(err) {
		return localauth.ErrUserNotFound
	}
	return err
}

// SessionByTokenHash implements localauth.Store.
func (s *Store) SessionByTokenHash(ctx context.Context, h localauth.TokenHash) (localauth.Session, localauth.User, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var u localauth.User
	sess, err := scanSession(s.pool.QueryRow(ctx,
		`SELECT `+sessionColumns+`, u.id, u.username, u.display_name, u.enabled, u.created_at
		 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`, h[:]),
		&u.ID, &u.Username, &u.DisplayName, &u.Enabled, &u.CreatedAt)
	u.CreatedAt = utc(u.CreatedAt)
	return sess, u, notFound(err, localauth.ErrInvalidSession)
}

// TouchSession implements localauth.Store.
func (s *Store) TouchSession(ctx context.Context, h localauth.TokenHash, at time.Time) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2`, at, h[:])
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return localauth.ErrInvalidSession
	}
	return nil
}

// DeleteSession implements localauth.Store.
func (s *Store) DeleteSession(ctx context.Context, h localauth.TokenHash) (int64, error) {
	var userID int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id`, h[:]).Scan(&userID); err != nil {
			return notFound(err, localauth.ErrInvalidSession)
		}
		return logRevocation(ctx, tx, userID, &h)
	})
	return userID, err
}

// DeleteUserSessions implements localauth.Store.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64, keep *localauth.TokenHash) (int, error) {
	var keepHash []byte
	if keep != nil {
		keepHash = keep[:]
	}
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND ($2::bytea IS NULL OR token_hash <> $2)`, userID, keepHash)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		return logRevocation(ctx, tx, userID, nil)
	})
	return int(n), err
}

// DeleteSessionByPublicID implements localauth.Store.
func (s *Store) DeleteSessionByPublicID(ctx context.Context, userID int64, publicID string) (localauth.Session, error) {
	var sess localauth.Session
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		sess, err = scanSession(tx.QueryRow(ctx,
			`DELETE FROM sessions AS s WHERE s.public_id = $1 AND ($2 = 0 OR s.user_id = $2) RETURNING `+sessionColumns,
			publicID, userID))
		if err != nil {
			return notFound(err, localauth.ErrInvalidSession)
		}
		return logRevocation(ctx, tx, sess.UserID, &sess.TokenHash)
	})
	return sess, err
}

// TrimSessions implements localauth.Store. Most logins leave the user under
// the cap: a count decides whether a write is needed.
func (s *Store) TrimSessions(ctx context.Context, userID int64, keep int) ([]localauth.TokenHash, error) {
	var n int
	cctx, cancel := s.ctx(ctx)
	err := s.pool.QueryRow(cctx, `SELECT count(*) FROM sessions WHERE user_id = $1`, userID).Scan(&n)
	cancel()
	if err != nil || n <= keep {
		return nil, err
	}
	var trimmed []localauth.TokenHash
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		trimmed = trimmed[:0]
		rows, err := tx.Query(ctx,
			`DELETE FROM sessions WHERE user_id = $1 AND id NOT IN
			   (SELECT id FROM sessions WHERE user_id = $1 ORDER BY id DESC LIMIT $2)
			 RETURNING token_hash`, userID, keep)
		if err != nil {
			return err
		}
		hashes, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			return err
		}
		for _, h := range hashes {
			trimmed = append(trimmed, localauth.TokenHash(h))
		}
		for i := range trimmed {
			if err := logRevocation(ctx, tx, userID, &trimmed[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return trimmed, err
}

// SetReauth implements localauth.Store.
func (s *Store) SetReauth(ctx context.Context, h localauth.TokenHash, at time.Time) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET reauth_at = $1 WHERE token_hash = $2`, at, h[:])
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return localauth.ErrInvalidSession
	}
	return nil
}

// Sessions implements localauth.Store.
func (s *Store) Sessions(ctx context.Context, userID int64) ([]localauth.Session, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx,
		`SELECT `+sessionColumns+` FROM sessions s WHERE $1 = 0 OR s.user_id = $1 ORDER BY s.id`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (localauth.Session, error) { return scanSession(r) })
}

// DeleteExpiredSessions implements localauth.Store.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var idle *time.Time
	if !idleBefore.IsZero() {
		idle = &idleBefore
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1 OR ($2::timestamptz IS NOT NULL AND last_seen_at < $2)`, now, idle)
	return int(tag.RowsAffected()), err
}

// CreateHandoff implements localauth.HandoffStore.
func (s *Store) CreateHandoff(ctx context.Context, h localauth.Handoff) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO handoffs (code_hash, sealed, expires_at) VALUES ($1, $2, $3)`,
		h.CodeHash[:], h.Sealed, h.ExpiresAt)
	return err
}

// TakeHandoff implements localauth.HandoffStore.
func (s *Store) TakeHandoff(ctx context.Context, codeHash localauth.TokenHash, now time.Time) (localauth.Handoff, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	h := localauth.Handoff{CodeHash: codeHash}
	err := s.pool.QueryRow(ctx, `DELETE FROM handoffs WHERE code_hash = $1 RETURNING sealed, expires_at`, codeHash[:]).
		Scan(&h.Sealed, &h.ExpiresAt)
	if err != nil {
		return localauth.Handoff{}, notFound(err, localauth.ErrHandoffNotFound)
	}
	h.ExpiresAt = utc(h.ExpiresAt)
	if !now.Before(h.ExpiresAt) {
		return localauth.Handoff{}, localauth.ErrHandoffNotFound
	}
	return h, nil
}

// DeleteExpiredHandoffs implements localauth.HandoffStore.
func (s *Store) DeleteExpiredHandoffs(ctx context.Context, now time.Time) (int, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM handoffs WHERE expires_at <= $1`, now)
	return int(tag.RowsAffected()), err
}
