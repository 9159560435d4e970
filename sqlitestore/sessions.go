package sqlitestore

import (
	"context"
	"database/sql"
	"time"

	"github.com/localauth/localauth"
)

const sessionColumns = `s.id, s.user_id, s.token_hash, s.created_at, s.expires_at, s.last_seen_at`

func scanSession(r scanner, extra ...any) (localauth.Session, error) {
	var (
		sess                   localauth.Session
		hash                   []byte
		created, expires, seen int64
	)
	err := r.Scan(append([]any{&sess.ID, &sess.UserID, &hash, &created, &expires, &seen}, extra...)...)
	copy(sess.TokenHash[:], hash)
	sess.CreatedAt, sess.ExpiresAt, sess.LastSeenAt = fromMS(created), fromMS(expires), fromMS(seen)
	return sess, err
}

// CreateSession implements localauth.Store.
func (s *Store) CreateSession(ctx context.Context, sess *localauth.Session) error {
	err := s.write.QueryRowContext(ctx,
		`INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at)
		 VALUES (?, ?, ?, ?, ?) RETURNING id`,
		sess.TokenHash[:], sess.UserID, ms(sess.CreatedAt), ms(sess.ExpiresAt), ms(sess.LastSeenAt),
	).Scan(&sess.ID)
	if isForeignKey(err) {
		return localauth.ErrUserNotFound
	}
	return err
}

// SessionByTokenHash implements localauth.Store.
func (s *Store) SessionByTokenHash(ctx context.Context, h localauth.TokenHash) (localauth.Session, localauth.User, error) {
	var (
		u       localauth.User
		created int64
	)
	sess, err := scanSession(s.read.QueryRowContext(ctx,
		`SELECT `+sessionColumns+`, u.id, u.username, u.display_name, u.enabled, u.created_at
		 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, h[:]),
		&u.ID, &u.Username, &u.DisplayName, &u.Enabled, &created)
	u.CreatedAt = fromMS(created)
	return sess, u, notFound(err, localauth.ErrInvalidSession)
}

// TouchSession implements localauth.Store.
func (s *Store) TouchSession(ctx context.Context, h localauth.TokenHash, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?`, ms(at), h[:])
	if err != nil {
		return err
	}
	return oneRow(res, localauth.ErrInvalidSession)
}

// DeleteSession implements localauth.Store.
func (s *Store) DeleteSession(ctx context.Context, h localauth.TokenHash) (int64, error) {
	var userID int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `DELETE FROM sessions WHERE token_hash = ? RETURNING user_id`, h[:]).Scan(&userID)
		if err != nil {
			return notFound(err, localauth.ErrInvalidSession)
		}
		return s.logRevocation(ctx, tx, userID, &h)
	})
	return userID, err
}

// DeleteUserSessions implements localauth.Store.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return s.logRevocation(ctx, tx, userID, nil)
	})
	return int(n), err
}

// Sessions implements localauth.Store.
func (s *Store) Sessions(ctx context.Context, userID int64) ([]localauth.Session, error) {
	rows, err := s.read.QueryContext(ctx,
		`SELECT `+sessionColumns+` FROM sessions s WHERE ? = 0 OR s.user_id = ? ORDER BY s.id`, userID, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []localauth.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	return out, rows.Err()
}

// DeleteExpiredSessions implements localauth.Store.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int, error) {
	idle := int64(0)
	if !idleBefore.IsZero() {
		idle = ms(idleBefore)
	}
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at < ?`, ms(now), idle)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `DELETE FROM handoffs WHERE expires_at <= ?`, ms(now))
		return err
	})
	return int(n), err
}
