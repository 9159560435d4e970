package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/localauth/localauth"
)

const sessionColumns = `s.id, s.user_id, s.token_hash, s.created_at, s.expires_at, s.last_seen_at,
	coalesce(s.public_id, ''), s.ip, s.user_agent, s.remember, s.reauth_at`

// returningSession is sessionColumns for a RETURNING clause, where SQLite
// takes no table names.
var returningSession = strings.ReplaceAll(sessionColumns, "s.", "")

func scanSession(r scanner, extra ...any) (localauth.Session, error) {
	var (
		sess                           localauth.Session
		hash                           []byte
		created, expires, seen, reauth int64
	)
	err := r.Scan(append([]any{&sess.ID, &sess.UserID, &hash, &created, &expires, &seen,
		&sess.PublicID, &sess.IP, &sess.UserAgent, &sess.Remember, &reauth}, extra...)...)
	copy(sess.TokenHash[:], hash)
	sess.CreatedAt, sess.ExpiresAt, sess.LastSeenAt = fromMS(created), fromMS(expires), fromMS(seen)
	sess.ReauthAt = fromMS(reauth)
	return sess, err
}

// CreateSession implements localauth.Store. The version check and the
// insert are one statement on the single writer connection, so no password
// change can commit between them.
func (s *Store) CreateSession(ctx context.Context, sess *localauth.Session) error {
	return createSession(ctx, s.write, sess)
}

// createSession is CreateSession on q: the single writer connection, or a
// transaction on it.
func createSession(ctx context.Context, q queryRower, sess *localauth.Session) error {
	err := q.QueryRowContext(ctx,
		`INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at, public_id, ip, user_agent, remember, reauth_at)
		 SELECT ?, id, ?, ?, ?, ?, ?, ?, ?, ? FROM users WHERE id = ? AND credential_version = ? RETURNING id`,
		sess.TokenHash[:], ms(sess.CreatedAt), ms(sess.ExpiresAt), ms(sess.LastSeenAt),
		sess.PublicID, sess.IP, sess.UserAgent, sess.Remember, ms(sess.ReauthAt),
		sess.UserID, sess.CredentialVersion,
	).Scan(&sess.ID)
	if errors.Is(err, sql.ErrNoRows) {
		// Nothing inserted: either no such user or a newer credential.
		var one int
		if err := q.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`, sess.UserID).Scan(&one); err != nil {
			return notFound(err, localauth.ErrUserNotFound)
		}
		return localauth.ErrCredentialChanged
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
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64, keep *localauth.TokenHash) (int, error) {
	var keepHash []byte
	if keep != nil {
		keepHash = keep[:]
	}
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND (? IS NULL OR token_hash <> ?)`, userID, keepHash, keepHash)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return s.logRevocation(ctx, tx, userID, nil)
	})
	return int(n), err
}

// DeleteSessionByPublicID implements localauth.Store.
func (s *Store) DeleteSessionByPublicID(ctx context.Context, userID int64, publicID string) (localauth.Session, error) {
	var sess localauth.Session
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		sess, err = scanSession(tx.QueryRowContext(ctx,
			`DELETE FROM sessions WHERE public_id = ? AND (? = 0 OR user_id = ?) RETURNING `+returningSession,
			publicID, userID, userID))
		if err != nil {
			return notFound(err, localauth.ErrInvalidSession)
		}
		return s.logRevocation(ctx, tx, sess.UserID, &sess.TokenHash)
	})
	return sess, err
}

// TrimSessions implements localauth.Store. Most logins leave the user under
// the cap: a count on the read pool decides whether a write is needed.
func (s *Store) TrimSessions(ctx context.Context, userID int64, keep int) ([]localauth.TokenHash, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE user_id = ?`, userID).Scan(&n); err != nil || n <= keep {
		return nil, err
	}
	var trimmed []localauth.TokenHash
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		trimmed = trimmed[:0]
		rows, err := tx.QueryContext(ctx,
			`DELETE FROM sessions WHERE user_id = ? AND id NOT IN
			   (SELECT id FROM sessions WHERE user_id = ? ORDER BY id DESC LIMIT ?)
			 RETURNING token_hash`, userID, userID, keep)
		if err != nil {
			return err
		}
		for rows.Next() {
			var h []byte
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return err
			}
			trimmed = append(trimmed, localauth.TokenHash(h))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range trimmed {
			if err := s.logRevocation(ctx, tx, userID, &trimmed[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return trimmed, err
}

// SetReauth implements localauth.Store.
func (s *Store) SetReauth(ctx context.Context, h localauth.TokenHash, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE sessions SET reauth_at = ? WHERE token_hash = ?`, ms(at), h[:])
	if err != nil {
		return err
	}
	return oneRow(res, localauth.ErrInvalidSession)
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
	return s.affected(ctx,
		`DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at < ?`, ms(now), idle)
}

// ImportSessions inserts complete sessions (token hash, user, times,
// PublicID…) in one transaction: all of them or, on any error, none. It is
// for bringing sessions over from another system and for seeding a large
// database quickly (the benchmark's million sessions), where one
// transaction per session would take hours. Unlike CreateSession it does
// not check credential versions: imported sessions are taken as valid.
// Each user must exist (else ErrUserNotFound) and each PublicID be new.
func (s *Store) ImportSessions(ctx context.Context, sessions []localauth.Session) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx,
		`INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at, public_id, ip, user_agent, remember, reauth_at)
		 SELECT ?, id, ?, ?, ?, ?, ?, ?, ?, ? FROM users WHERE id = ?`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, sess := range sessions {
		res, err := stmt.ExecContext(ctx, sess.TokenHash[:], ms(sess.CreatedAt), ms(sess.ExpiresAt), ms(sess.LastSeenAt),
			sess.PublicID, sess.IP, sess.UserAgent, sess.Remember, ms(sess.ReauthAt), sess.UserID)
		if err != nil {
			return err
		}
		if err := oneRow(res, localauth.ErrUserNotFound); err != nil {
			return err
		}
	}
	return tx.Commit()
}
