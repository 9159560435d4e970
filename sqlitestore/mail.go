package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/localauth/localauth"
)

var _ localauth.MailStore = (*Store)(nil)

// UserEmail implements localauth.MailStore.
func (s *Store) UserEmail(ctx context.Context, userID int64) (localauth.EmailState, error) {
	var st localauth.EmailState
	err := s.read.QueryRowContext(ctx, `SELECT email, email_verified, pending_email FROM users WHERE id = ?`, userID).
		Scan(&st.Email, &st.Verified, &st.Pending)
	return st, notFound(err, localauth.ErrUserNotFound)
}

// UserByEmailKey implements localauth.MailStore.
func (s *Store) UserByEmailKey(ctx context.Context, key string) (localauth.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email_key = ?`, key))
	return u, notFound(err, localauth.ErrUserNotFound)
}

// SetEmail implements localauth.MailStore.
func (s *Store) SetEmail(ctx context.Context, userID int64, addr string, t *localauth.MailToken, mails []localauth.Mail, now time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET
			pending_email = CASE WHEN email_verified THEN ? ELSE '' END,
			email = CASE WHEN email_verified THEN email ELSE ? END
			WHERE id = ?`, addr, addr, userID)
		if err != nil {
			return err
		}
		if err := oneRow(res, localauth.ErrUserNotFound); err != nil {
			return err
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
	res, err := s.write.ExecContext(ctx, `UPDATE users SET email = ?, email_key = ?, email_verified = 1, pending_email = '' WHERE id = ?`, addr, key, userID)
	if isUnique(err) {
		return localauth.ErrEmailTaken
	}
	if err != nil {
		return err
	}
	return oneRow(res, localauth.ErrUserNotFound)
}

func insertMailToken(ctx context.Context, tx *sql.Tx, t localauth.MailToken) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO mail_tokens (token_hash, user_id, purpose, email, email_key, credential_version, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.Hash[:], t.UserID, t.Purpose, t.Email, t.EmailKey, t.CredentialVersion, ms(t.CreatedAt), ms(t.ExpiresAt))
	if isForeignKey(err) {
		return localauth.ErrUserNotFound
	}
	return err
}

func enqueue(ctx context.Context, tx *sql.Tx, mails []localauth.Mail, at time.Time) error {
	now := ms(at)
	for _, m := range mails {
		if _, err := tx.ExecContext(ctx, `INSERT INTO mail_outbox (kind, recipient, subject, body, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?)`,
			m.Kind, m.To, m.Subject, m.Text, now, now); err != nil {
			return err
		}
	}
	return nil
}

// IssueMailToken implements localauth.MailStore. SQLite has one writer at
// a time, so the count and the insert in one write transaction cannot
// interleave with another's.
func (s *Store) IssueMailToken(ctx context.Context, t localauth.MailToken, mails []localauth.Mail, lim localauth.MailLimit) (bool, error) {
	issued := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var perUser, perAddr int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM mail_tokens WHERE user_id = ? AND purpose = ? AND created_at > ?`,
			t.UserID, t.Purpose, ms(lim.Since)).Scan(&perUser); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM mail_tokens WHERE email_key = ? AND created_at > ?`,
			t.EmailKey, ms(lim.AddressSince)).Scan(&perAddr); err != nil {
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

const mailTokenValid = `used_at IS NULL AND expires_at > ? AND credential_version = (SELECT credential_version FROM users WHERE users.id = mail_tokens.user_id)`

// PeekMailToken implements localauth.MailStore.
func (s *Store) PeekMailToken(ctx context.Context, h localauth.TokenHash, purpose string, now time.Time) (localauth.MailToken, error) {
	return peekMailToken(ctx, s.read, h, purpose, now)
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func peekMailToken(ctx context.Context, q queryRower, h localauth.TokenHash, purpose string, now time.Time) (localauth.MailToken, error) {
	var (
		t                localauth.MailToken
		created, expires int64
	)
	err := q.QueryRowContext(ctx, `SELECT user_id, purpose, email, email_key, credential_version, created_at, expires_at
		FROM mail_tokens WHERE token_hash = ? AND purpose = ? AND `+mailTokenValid, h[:], purpose, ms(now)).
		Scan(&t.UserID, &t.Purpose, &t.Email, &t.EmailKey, &t.CredentialVersion, &created, &expires)
	if err != nil {
		return localauth.MailToken{}, notFound(err, localauth.ErrInvalidMailToken)
	}
	t.Hash, t.CreatedAt, t.ExpiresAt = h, fromMS(created), fromMS(expires)
	return t, nil
}

// useMailToken marks a valid token used and returns it.
func useMailToken(ctx context.Context, tx *sql.Tx, h localauth.TokenHash, purpose string, now time.Time) (localauth.MailToken, error) {
	t, err := peekMailToken(ctx, tx, h, purpose, now)
	if err != nil {
		return t, err
	}
	_, err = tx.ExecContext(ctx, `UPDATE mail_tokens SET used_at = ? WHERE token_hash = ?`, ms(now), h[:])
	return t, err
}

// VerifyEmail implements localauth.MailStore.
func (s *Store) VerifyEmail(ctx context.Context, h localauth.TokenHash, now time.Time) (int64, error) {
	var userID int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := useMailToken(ctx, tx, h, "verify", now)
		if err != nil {
			return err
		}
		userID = t.UserID
		_, err = tx.ExecContext(ctx, `UPDATE users SET email = ?, email_key = ?, email_verified = 1, pending_email = '' WHERE id = ?`,
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
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := useMailToken(ctx, tx, h, "reset", now)
		if err != nil {
			return err
		}
		userID = t.UserID
		if _, err := tx.ExecContext(ctx,
			`UPDATE users SET password_hash = ?, password_changed_at = ?, credential_version = credential_version + 1 WHERE id = ?`,
			string(hash), ms(now), userID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE mail_tokens SET used_at = ? WHERE user_id = ? AND purpose = 'reset' AND used_at IS NULL`, ms(now), userID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE user_id = ?`, userID); err != nil {
			return err
		}
		if err := s.logRevocation(ctx, tx, userID, nil); err != nil {
			return err
		}
		return enqueue(ctx, tx, mails, now)
	})
	return userID, int(n), err
}

// EnqueueMail implements localauth.MailStore.
func (s *Store) EnqueueMail(ctx context.Context, mails []localauth.Mail, now time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return enqueue(ctx, tx, mails, now) })
}

// ClaimMail implements localauth.MailStore. The claim is one UPDATE on
// SQLite's single writer: two instances on one file cannot both take a
// row.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, lease time.Duration) (localauth.OutboxMail, bool, error) {
	var (
		m       localauth.OutboxMail
		created int64
	)
	err := s.write.QueryRowContext(ctx, `UPDATE mail_outbox SET claimed_until = ?, attempts = attempts + 1
		WHERE id = (SELECT id FROM mail_outbox WHERE next_at <= ? AND claimed_until <= ? ORDER BY next_at, id LIMIT 1)
		RETURNING id, kind, recipient, subject, body, created_at, attempts`,
		ms(now.Add(lease)), ms(now), ms(now)).
		Scan(&m.ID, &m.Kind, &m.To, &m.Subject, &m.Text, &created, &m.Attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return localauth.OutboxMail{}, false, nil
	}
	if err != nil {
		return localauth.OutboxMail{}, false, err
	}
	m.CreatedAt = fromMS(created)
	return m, true, nil
}

// DeleteMail implements localauth.MailStore.
func (s *Store) DeleteMail(ctx context.Context, id int64) error {
	_, err := s.write.ExecContext(ctx, `DELETE FROM mail_outbox WHERE id = ?`, id)
	return err
}

// RetryMail implements localauth.MailStore.
func (s *Store) RetryMail(ctx context.Context, id int64, next time.Time) error {
	_, err := s.write.ExecContext(ctx, `UPDATE mail_outbox SET next_at = ?, claimed_until = 0 WHERE id = ?`, ms(next), id)
	return err
}

// OutboxStats implements localauth.MailStore.
func (s *Store) OutboxStats(ctx context.Context) (int, time.Time, error) {
	var (
		n      int
		oldest sql.NullInt64
	)
	err := s.read.QueryRowContext(ctx, `SELECT count(*), min(created_at) FROM mail_outbox`).Scan(&n, &oldest)
	if err != nil || !oldest.Valid {
		return n, time.Time{}, err
	}
	return n, fromMS(oldest.Int64), nil
}

// DeleteOldMailTokens implements localauth.MailStore.
func (s *Store) DeleteOldMailTokens(ctx context.Context, before time.Time) (int, error) {
	return s.affected(ctx, `DELETE FROM mail_tokens WHERE created_at < ?`, ms(before))
}
