package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/localauth/localauth"
)

// SuspendPasskey implements localauth.PasskeyStore.
func (s *Store) SuspendPasskey(ctx context.Context, credentialID []byte, at time.Time) error {
	_, err := s.write.ExecContext(ctx, `UPDATE passkeys SET suspended_at = ? WHERE credential_id = ? AND suspended_at = 0`, ms(at), credentialID)
	return err
}

// ConfirmPasskey implements localauth.PasskeyStore.
func (s *Store) ConfirmPasskey(ctx context.Context, userID int64, id string, keep *localauth.TokenHash) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE passkeys SET suspended_at = 0 WHERE user_id = ? AND public_id = ? AND suspended_at <> 0`, userID, id)
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

// PasskeyHandle implements localauth.PasskeyStore.
func (s *Store) PasskeyHandle(ctx context.Context, userID int64, fresh []byte) ([]byte, error) {
	_, err := s.write.ExecContext(ctx, `INSERT INTO passkey_handles (user_id, handle) VALUES (?, ?) ON CONFLICT (user_id) DO NOTHING`, userID, fresh)
	if isForeignKey(err) {
		return nil, localauth.ErrUserNotFound
	}
	if err != nil {
		return nil, err
	}
	var h []byte
	err = s.write.QueryRowContext(ctx, `SELECT handle FROM passkey_handles WHERE user_id = ?`, userID).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, localauth.ErrUserNotFound
	}
	return h, err
}

// nonNil stores a nil byte slice as an empty blob, not NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
