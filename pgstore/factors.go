package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth"
)

// credentialChange advances the user's credential version and ends every
// session of the user but keep, logging them, inside tx: what every change
// of a factor does (a credential change, see localauth.Store). The update locks the user's row, so a
// login inserting a session (which reads it FOR SHARE) waits for it or is
// seen by it.
func credentialChange(ctx context.Context, tx pgx.Tx, userID int64, keep *localauth.TokenHash) (int, error) {
	tag, err := tx.Exec(ctx, `UPDATE users SET credential_version = credential_version + 1 WHERE id = $1`, userID)
	if err != nil {
		return 0, err
	}
	if tag.RowsAffected() == 0 {
		return 0, localauth.ErrUserNotFound
	}
	var keepHash []byte
	if keep != nil {
		keepHash = keep[:]
	}
	tag, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND ($2::bytea IS NULL OR token_hash <> $2)`, userID, keepHash)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), logRevocation(ctx, tx, userID, nil)
}

// TOTP implements localauth.TOTPStore.
func (s *Store) TOTP(ctx context.Context, userID int64) (localauth.TOTPFactor, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var f localauth.TOTPFactor
	err := s.pool.QueryRow(ctx, `SELECT sealed, confirmed, last_step FROM totp WHERE user_id = $1`, userID).
		Scan(&f.Sealed, &f.Confirmed, &f.LastStep)
	if err != nil {
		return localauth.TOTPFactor{}, notFound(err, localauth.ErrFactorNotFound)
	}
	return f, nil
}

// SetPendingTOTP implements localauth.TOTPStore.
func (s *Store) SetPendingTOTP(ctx context.Context, userID int64, sealed []byte, at time.Time) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx,
		`INSERT INTO totp (user_id, sealed, confirmed, last_step, created_at) VALUES ($1, $2, false, 0, $3)
		 ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at WHERE NOT totp.confirmed`,
		userID, sealed, at)
	switch {
	case isForeignKey(err):
		return localauth.ErrUserNotFound
	case err != nil:
		return err
	case tag.RowsAffected() == 0:
		return localauth.ErrFactorExists
	}
	return nil
}

// ConfirmTOTP implements localauth.TOTPStore.
func (s *Store) ConfirmTOTP(ctx context.Context, userID int64, sealed []byte, step int64, hashes [][]byte, keep *localauth.TokenHash) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE totp SET confirmed = true, last_step = $1 WHERE user_id = $2 AND NOT confirmed AND sealed = $3`, step, userID, sealed)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return localauth.ErrFactorNotFound
		}
		if err := replaceRecovery(ctx, tx, userID, hashes); err != nil {
			return err
		}
		n, err = credentialChange(ctx, tx, userID, keep)
		return err
	})
	return n, err
}

func replaceRecovery(ctx context.Context, tx pgx.Tx, userID int64, hashes [][]byte) error {
	if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return err
	}
	if len(hashes) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, unnest($2::bytea[])`, userID, hashes)
	if isForeignKey(err) {
		return localauth.ErrUserNotFound
	}
	return err
}

// UseTOTPStep implements localauth.TOTPStore.
func (s *Store) UseTOTPStep(ctx context.Context, userID int64, step int64) (bool, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE totp SET last_step = $1 WHERE user_id = $2 AND confirmed AND last_step < $1`, step, userID)
	return tag.RowsAffected() == 1, err
}

// RemoveTOTP implements localauth.TOTPStore. Its transaction commits the
// deletion of a pending factor before the answer, ErrFactorNotFound.
func (s *Store) RemoveTOTP(ctx context.Context, userID int64, keep *localauth.TokenHash) (int, error) {
	var n int
	confirmed := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `DELETE FROM totp WHERE user_id = $1 RETURNING confirmed`, userID).Scan(&confirmed)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && !confirmed) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		n, err = credentialChange(ctx, tx, userID, keep)
		return err
	})
	if err == nil && !confirmed {
		err = localauth.ErrFactorNotFound
	}
	return n, err
}

// ReplaceRecoveryCodes implements localauth.RecoveryCodeStore.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID int64, hashes [][]byte, keep *localauth.TokenHash) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := replaceRecovery(ctx, tx, userID, hashes); err != nil {
			return err
		}
		var err error
		n, err = credentialChange(ctx, tx, userID, keep)
		return err
	})
	return n, err
}

// UseRecoveryCode implements localauth.RecoveryCodeStore.
func (s *Store) UseRecoveryCode(ctx context.Context, userID int64, hash []byte) (bool, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2`, userID, hash)
	return tag.RowsAffected() == 1, err
}

// RecoveryCodesLeft implements localauth.RecoveryCodeStore.
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID int64) (int, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = $1`, userID).Scan(&n)
	return n, err
}

// AddPasskey implements localauth.PasskeyStore.
func (s *Store) AddPasskey(ctx context.Context, p localauth.Passkey, keep *localauth.TokenHash) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx,
			`INSERT INTO passkeys (public_id, user_id, credential_id, name, credential, sign_count, created_at, user_handle) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			p.ID, p.UserID, p.CredentialID, p.Name, p.Credential, int64(p.SignCount), p.CreatedAt, nonNil(p.UserHandle))
		switch {
		case isForeignKey(err):
			return localauth.ErrUserNotFound
		case isUnique(err):
			return localauth.ErrPasskeyExists
		case err != nil:
			return err
		}
		n, err = credentialChange(ctx, tx, p.UserID, keep)
		return err
	})
	return n, err
}

const passkeyColumns = `public_id, user_id, credential_id, name, credential, sign_count, created_at, last_used_at, user_handle, suspended_at`

func scanPasskey(r pgx.Row) (localauth.Passkey, error) {
	var (
		p               localauth.Passkey
		count           int64
		used, suspended *time.Time
	)
	err := r.Scan(&p.ID, &p.UserID, &p.CredentialID, &p.Name, &p.Credential, &count, &p.CreatedAt, &used, &p.UserHandle, &suspended)
	p.SignCount = uint32(count)
	if suspended != nil {
		p.SuspendedAt = utc(*suspended)
	}
	p.CreatedAt = utc(p.CreatedAt)
	if used != nil {
		p.LastUsedAt = utc(*used)
	}
	return p, err
}

// Passkeys implements localauth.PasskeyStore.
func (s *Store) Passkeys(ctx context.Context, userID int64) ([]localauth.Passkey, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE user_id = $1 ORDER BY id`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (localauth.Passkey, error) { return scanPasskey(r) })
}

// PasskeyByCredentialID implements localauth.PasskeyStore.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (localauth.Passkey, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	p, err := scanPasskey(s.pool.QueryRow(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE credential_id = $1`, credentialID))
	if err != nil {
		return localauth.Passkey{}, notFound(err, localauth.ErrFactorNotFound)
	}
	return p, nil
}

// RecordPasskeyUse implements localauth.PasskeyStore.
func (s *Store) RecordPasskeyUse(ctx context.Context, credentialID []byte, signCount uint32, at time.Time) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `UPDATE passkeys SET sign_count = $1, last_used_at = $2 WHERE credential_id = $3`, int64(signCount), at, credentialID)
	return err
}

// RemovePasskey implements localauth.PasskeyStore.
func (s *Store) RemovePasskey(ctx context.Context, userID int64, id string, keep *localauth.TokenHash) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM passkeys WHERE user_id = $1 AND public_id = $2`, userID, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return localauth.ErrFactorNotFound
		}
		n, err = credentialChange(ctx, tx, userID, keep)
		return err
	})
	return n, err
}

// ResetFactors implements localauth.FactorResetter.
func (s *Store) ResetFactors(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		for _, q := range []string{`DELETE FROM totp WHERE user_id = $1`, `DELETE FROM recovery_codes WHERE user_id = $1`, `DELETE FROM passkeys WHERE user_id = $1`} {
			if _, err := tx.Exec(ctx, q, userID); err != nil {
				return err
			}
		}
		var err error
		n, err = credentialChange(ctx, tx, userID, nil)
		return err
	})
	return n, err
}
