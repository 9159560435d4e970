package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/localauth/localauth"
)

// credentialChange advances the user's credential version and ends every
// session of the user but keep, logging them, inside tx: what every change
// of a factor does (a credential change, see localauth.Store).
func (s *Store) credentialChange(ctx context.Context, tx *sql.Tx, userID int64, keep *localauth.TokenHash) (int, error) {
	res, err := tx.ExecContext(ctx, `UPDATE users SET credential_version = credential_version + 1 WHERE id = ?`, userID)
	if err != nil {
		return 0, err
	}
	if err := oneRow(res, localauth.ErrUserNotFound); err != nil {
		return 0, err
	}
	var keepHash []byte
	if keep != nil {
		keepHash = keep[:]
	}
	res, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND (? IS NULL OR token_hash <> ?)`, userID, keepHash, keepHash)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), s.logRevocation(ctx, tx, userID, nil)
}

// TOTP implements localauth.TOTPStore.
func (s *Store) TOTP(ctx context.Context, userID int64) (localauth.TOTPFactor, error) {
	var f localauth.TOTPFactor
	err := s.read.QueryRowContext(ctx, `SELECT sealed, confirmed, last_step FROM totp WHERE user_id = ?`, userID).
		Scan(&f.Sealed, &f.Confirmed, &f.LastStep)
	if err != nil {
		return localauth.TOTPFactor{}, notFound(err, localauth.ErrFactorNotFound)
	}
	return f, nil
}

// SetPendingTOTP implements localauth.TOTPStore.
func (s *Store) SetPendingTOTP(ctx context.Context, userID int64, sealed []byte, at time.Time) error {
	res, err := s.write.ExecContext(ctx,
		`INSERT INTO totp (user_id, sealed, confirmed, last_step, created_at) VALUES (?, ?, 0, 0, ?)
		 ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at WHERE confirmed = 0`,
		userID, sealed, ms(at))
	if isForeignKey(err) {
		return localauth.ErrUserNotFound
	}
	if err != nil {
		return err
	}
	return oneRow(res, localauth.ErrFactorExists)
}

// ConfirmTOTP implements localauth.TOTPStore.
func (s *Store) ConfirmTOTP(ctx context.Context, userID int64, sealed []byte, step int64, hashes [][]byte, keep *localauth.TokenHash) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE totp SET confirmed = 1, last_step = ? WHERE user_id = ? AND confirmed = 0 AND sealed = ?`, step, userID, sealed)
		if err != nil {
			return err
		}
		if err := oneRow(res, localauth.ErrFactorNotFound); err != nil {
			return err
		}
		if err := replaceRecovery(ctx, tx, userID, hashes); err != nil {
			return err
		}
		n, err = s.credentialChange(ctx, tx, userID, keep)
		return err
	})
	return n, err
}

func replaceRecovery(ctx context.Context, tx *sql.Tx, userID int64, hashes [][]byte) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)`, userID, h); err != nil {
			if isForeignKey(err) {
				return localauth.ErrUserNotFound
			}
			return err
		}
	}
	return nil
}

// UseTOTPStep implements localauth.TOTPStore.
func (s *Store) UseTOTPStep(ctx context.Context, userID int64, step int64) (bool, error) {
	n, err := s.affected(ctx, `UPDATE totp SET last_step = ? WHERE user_id = ? AND confirmed = 1 AND last_step < ?`, step, userID, step)
	return n == 1, err
}

// RemoveTOTP implements localauth.TOTPStore. Its transaction commits the
// deletion of a pending factor before the answer, ErrFactorNotFound.
func (s *Store) RemoveTOTP(ctx context.Context, userID int64, keep *localauth.TokenHash) (int, error) {
	var n int
	confirmed := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `DELETE FROM totp WHERE user_id = ? RETURNING confirmed`, userID).Scan(&confirmed)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !confirmed) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
			return err
		}
		n, err = s.credentialChange(ctx, tx, userID, keep)
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
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := replaceRecovery(ctx, tx, userID, hashes); err != nil {
			return err
		}
		var err error
		n, err = s.credentialChange(ctx, tx, userID, keep)
		return err
	})
	return n, err
}

// UseRecoveryCode implements localauth.RecoveryCodeStore.
func (s *Store) UseRecoveryCode(ctx context.Context, userID int64, hash []byte) (bool, error) {
	n, err := s.affected(ctx, `DELETE FROM recovery_codes WHERE user_id = ? AND code_hash = ?`, userID, hash)
	return n == 1, err
}

// RecoveryCodesLeft implements localauth.RecoveryCodeStore.
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = ?`, userID).Scan(&n)
	return n, err
}

// AddPasskey implements localauth.PasskeyStore.
func (s *Store) AddPasskey(ctx context.Context, p localauth.Passkey, keep *localauth.TokenHash) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO passkeys (public_id, user_id, credential_id, name, credential, sign_count, created_at, user_handle) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.UserID, p.CredentialID, p.Name, p.Credential, int64(p.SignCount), ms(p.CreatedAt), nonNil(p.UserHandle))
		switch {
		case isForeignKey(err):
			return localauth.ErrUserNotFound
		case isUnique(err):
			return localauth.ErrPasskeyExists
		case err != nil:
			return err
		}
		n, err = s.credentialChange(ctx, tx, p.UserID, keep)
		return err
	})
	return n, err
}

const passkeyColumns = `public_id, user_id, credential_id, name, credential, sign_count, created_at, last_used_at, user_handle, suspended_at`

func scanPasskey(r scanner) (localauth.Passkey, error) {
	var (
		p                        localauth.Passkey
		count                    int64
		created, used, suspended int64
	)
	err := r.Scan(&p.ID, &p.UserID, &p.CredentialID, &p.Name, &p.Credential, &count, &created, &used, &p.UserHandle, &suspended)
	p.SignCount = uint32(count)
	if suspended != 0 {
		p.SuspendedAt = fromMS(suspended)
	}
	p.CreatedAt = fromMS(created)
	if used != 0 {
		p.LastUsedAt = fromMS(used)
	}
	return p, err
}

// Passkeys implements localauth.PasskeyStore.
func (s *Store) Passkeys(ctx context.Context, userID int64) ([]localauth.Passkey, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE user_id = ? ORDER BY id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []localauth.Passkey
	for rows.Next() {
		p, err := scanPasskey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PasskeyByCredentialID implements localauth.PasskeyStore.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (localauth.Passkey, error) {
	p, err := scanPasskey(s.read.QueryRowContext(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE credential_id = ?`, credentialID))
	if err != nil {
		return localauth.Passkey{}, notFound(err, localauth.ErrFactorNotFound)
	}
	return p, nil
}

// RecordPasskeyUse implements localauth.PasskeyStore.
func (s *Store) RecordPasskeyUse(ctx context.Context, credentialID []byte, signCount uint32, at time.Time) error {
	_, err := s.write.ExecContext(ctx, `UPDATE passkeys SET sign_count = ?, last_used_at = ? WHERE credential_id = ?`, int64(signCount), ms(at), credentialID)
	return err
}

// RemovePasskey implements localauth.PasskeyStore.
func (s *Store) RemovePasskey(ctx context.Context, userID int64, id string, keep *localauth.TokenHash) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM passkeys WHERE user_id = ? AND public_id = ?`, userID, id)
		if err != nil {
			return err
		}
		if err := oneRow(res, localauth.ErrFactorNotFound); err != nil {
			return err
		}
		n, err = s.credentialChange(ctx, tx, userID, keep)
		return err
	})
	return n, err
}

// ResetFactors implements localauth.FactorResetter.
func (s *Store) ResetFactors(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM totp WHERE user_id = ?`, `DELETE FROM recovery_codes WHERE user_id = ?`, `DELETE FROM passkeys WHERE user_id = ?`} {
			if _, err := tx.ExecContext(ctx, q, userID); err != nil {
				return err
			}
		}
		var err error
		n, err = s.credentialChange(ctx, tx, userID, nil)
		return err
	})
	return n, err
}
