package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth"
)

var _ localauth.MailStore = (*Store)(nil)

// UserEmail implements localauth.MailStore.
func (s *Store) UserEmail(ctx context.Context, userID int64) (localauth.EmailState, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var st localauth.EmailState
	err := s.pool.QueryRow(ctx, `SELECT email, email_verified, pending_email FROM users WHERE id = $1`, userID).
		Scan(&st.Email, &st.Verified, &st.Pending)
	return st, notFound(err, localauth.ErrUserNotFound)
}

// UserByEmailKey implements localauth.MailStore.
func (s *Store) UserByEmailKey(ctx context.Context, key string) (localauth.User, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email_key = $1`, key))
	return u, notFound(err, localauth.ErrUserNotFound)
}

// SetEmail implements localauth.MailStore.
func (s *Store) SetEmail(ctx context.Context, userID int64, addr string, t *localauth.MailToken, mails []localauth.Mail, now time.Time) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET
			pending_email = CASE WHEN email_verified THEN $1 ELSE '' END,
			email = CASE WHEN email_verified THEN email ELSE $1 END
			WHERE id = $2`, addr, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return localauth.ErrUserNotFound
		}
		if t != nil {
			if err := insertMailToken(ctx, tx, *t); err != nil {
				return err
			}
		}
		return enqueue(ctx, tx, mails, now)
	})
}

// SetVerifiedEmail implements localauth.MailStore.
func (s *Store) SetVerifiedEmail(ctx context.Context, userID int64, addr, key string) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE users SET email = $1, email_key = $2, email_verified = true, pending_email = '' WHERE id = $3`, addr, key, userID)
	if isUnique(err) {
		return localauth.ErrEmailTaken
	}
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return localauth.ErrUserNotFound
	}
	return nil
}

func insertMailToken(ctx context.Context, tx pgx.Tx, t localauth.MailToken) error {
	_, err := tx.Exec(ctx, `INSERT INTO mail_tokens (token_hash, user_id, purpose, email, email_key, credential_version, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.Hash[:], t.UserID, t.Purpose, t.Email, t.EmailKey, t.CredentialVersion, t.CreatedAt, t.ExpiresAt)
	if isForeignKey(err) {
		return localauth.ErrUserNotFound
	}
	return err
}

func enqueue(ctx context.Context, tx pgx.Tx, mails []localauth.Mail, now time.Time) error {
	for _, m := range mails {
		if _, err := tx.Exec(ctx, `INSERT INTO mail_outbox (kind, recipient, subject, body, created_at, next_at) VALUES ($1, $2, $3, $4, $5, $5)`,
			m.Kind, m.To, m.Subject, m.Text, now); err != nil {
			return err
		}
	}
	return nil
}

// IssueMailToken implements localauth.MailStore. The user's row is locked
// first, so that concurrent requests for one account count one after the
// other.
func (s *Store) IssueMailToken(ctx context.Context, t localauth.MailToken, mails []localauth.Mail, lim localauth.MailLimit) (bool, error) {
	issued := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var perUser, perAddr int
		if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, t.UserID); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM mail_tokens WHERE user_id = $1 AND purpose = $2 AND created_at > $3`,
			t.UserID, t.Purpose, lim.Since).Scan(&perUser); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM mail_tokens WHERE email_key = $1 AND created_at > $2`,
			t.EmailKey, lim.AddressSince).Scan(&perAddr); err != nil {
			return err
		}
		if perUser >= lim.PerAccount || perAddr >= lim.PerAddress {
			return nil
		}
		if err := insertMailToken(ctx, tx, t); err != nil {
			return err
		}
		issued = true
		return enqueue(ctx, tx, mails, t.CreatedAt)
	})
	return issued, err
}

// PeekMailToken implements localauth.MailStore.
func (s *Store) PeekMailToken(ctx context.Context, h localauth.TokenHash, purpose string, now time.Time) (localauth.MailToken, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	return peekMailToken(ctx, s.pool, h, purpose, now, "")
}

type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func peekMailToken(ctx context.Context, q rowQuerier, h localauth.TokenHash, purpose string, now time.Time, lock string) (localauth.MailToken, error) {
	var t localauth.MailToken
	err := q.QueryRow(ctx, `SELECT t.user_id, t.purpose, t.email, t.email_key, t.credential_version, t.created_at, t.expires_at
		FROM mail_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.token_hash = $1 AND t.purpose = $2 AND t.used_at IS NULL AND t.expires_at > $3
		AND t.credential_version = u.credential_version`+lock, h[:], purpose, now).
		Scan(&t.UserID, &t.Purpose, &t.Email, &t.EmailKey, &t.CredentialVersion, &t.CreatedAt, &t.ExpiresAt)
	if err != nil {
		return localauth.MailToken{}, notFound(err, localauth.ErrInvalidMailToken)
	}
	t.Hash, t.CreatedAt, t.ExpiresAt = h, utc(t.CreatedAt), utc(t.ExpiresAt)
	return t, nil
}

// useMailToken marks a valid token used and returns it. The rows are
// locked, so that of two concurrent uses one waits and then finds the
// token used.
func useMailToken(ctx context.Context, tx pgx.Tx, h localauth.TokenHash, purpose string, now time.Time) (localauth.MailToken, error) {
	t, err := peekMailToken(ctx, tx, h, purpose, now, " FOR UPDATE")
	if err != nil {
		return t, err
	}
	_, err = tx.Exec(ctx, `UPDATE mail_tokens SET used_at = $1 WHERE token_hash = $2`, now, h[:])
	return t, err
}

// VerifyEmail implements localauth.MailStore.
func (s *Store) VerifyEmail(ctx context.Context, h localauth.TokenHash, now time.Time) (int64, error) {
	var userID int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		t, err := useMailToken(ctx, tx, h, "verify", now)
		if err != nil {
			return err
		}
		userID = t.UserID
		_, err = tx.Exec(ctx, `UPDATE users SET email = $1, email_key = $2, email_verified = true, pending_email = '' WHERE id = $3`,
			t.Email, t.EmailKey, t.UserID)
		if isUnique(err) {
			return localauth.ErrEmailTaken
		}
		return err
	})
	return userID, err
}

// ResetPassword implements localauth.MailStore.
func (s *Store) ResetPassword(ctx context.Context, h localauth.TokenHash, now time.Time, hash []byte, mails []localauth.Mail) (int64, int, error) {
	var (
		userID int64
		n      int64
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		t, err := useMailToken(ctx, tx, h, "reset", now)
		if err != nil {
			return err
		}
		userID = t.UserID
		if _, err := tx.Exec(ctx,
			`UPDATE users SET password_hash = $1, password_changed_at = $2, credential_version = credential_version + 1 WHERE id = $3`,
			string(hash), now, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE mail_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = 'reset' AND used_at IS NULL`, now, userID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		if _, err := tx.Exec(ctx, `DELETE FROM devices WHERE user_id = $1`, userID); err != nil {
			return err
		}
		if err := logRevocation(ctx, tx, userID, nil); err != nil {
			return err
		}
		return enqueue(ctx, tx, mails, now)
	})
	return userID, int(n), err
}

// EnqueueMail implements localauth.MailStore.
func (s *Store) EnqueueMail(ctx context.Context, mails []localauth.Mail, now time.Time) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return enqueue(ctx, tx, mails, now) })
}

// ClaimMail implements localauth.MailStore. FOR UPDATE SKIP LOCKED lets
// instances claim at once without waiting on each other's rows, and never
// the same row.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, lease time.Duration) (localauth.OutboxMail, bool, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var m localauth.OutboxMail
	err := s.pool.QueryRow(ctx, `UPDATE mail_outbox SET claimed_until = $1, attempts = attempts + 1
		WHERE id = (SELECT id FROM mail_outbox WHERE next_at <= $2 AND (claimed_until IS NULL OR claimed_until <= $2)
			ORDER BY next_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING id, kind, recipient, subject, body, created_at, attempts`,
		now.Add(lease), now).
		Scan(&m.ID, &m.Kind, &m.To, &m.Subject, &m.Text, &m.CreatedAt, &m.Attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return localauth.OutboxMail{}, false, nil
	}
	if err != nil {
		return localauth.OutboxMail{}, false, err
	}
	m.CreatedAt = utc(m.CreatedAt)
	return m, true, nil
}

// DeleteMail implements localauth.MailStore.
func (s *Store) DeleteMail(ctx context.Context, id int64) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `DELETE FROM mail_outbox WHERE id = $1`, id)
	return err
}

// RetryMail implements localauth.MailStore.
func (s *Store) RetryMail(ctx context.Context, id int64, next time.Time) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `UPDATE mail_outbox SET next_at = $1, claimed_until = NULL WHERE id = $2`, next, id)
	return err
}

// OutboxStats implements localauth.MailStore.
func (s *Store) OutboxStats(ctx context.Context) (int, time.Time, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var (
		n      int
		oldest *time.Time
	)
	if err := s.pool.QueryRow(ctx, `SELECT count(*), min(created_at) FROM mail_outbox`).Scan(&n, &oldest); err != nil || oldest == nil {
		return n, time.Time{}, err
	}
	return n, utc(*oldest), nil
}

// DeleteOldMailTokens implements localauth.MailStore.
func (s *Store) DeleteOldMailTokens(ctx context.Context, before time.Time) (int, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM mail_tokens WHERE created_at < $1`, before)
	return int(tag.RowsAffected()), err
}
