package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth"
)

// SuspendPasskey implements localauth.PasskeyStore.
func (s *Store) SuspendPasskey(ctx context.Context, credentialID []byte, at time.Time) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `UPDATE passkeys SET suspended_at = $1 WHERE credential_id = $2 AND suspended_at IS NULL`, at, credentialID)
	return err
}

// ConfirmPasskey implements localauth.PasskeyStore.
func (s *Store) ConfirmPasskey(ctx context.Context, userID int64, id string, keep *localauth.TokenHash) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE passkeys SET suspended_at = NULL WHERE user_id = $1 AND public_id = $2 AND suspended_at IS NOT NULL`, userID, id)
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

// PasskeyHandle implements localauth.PasskeyStore.
func (s *Store) PasskeyHandle(ctx context.Context, userID int64, fresh []byte) ([]byte, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO passkey_handles (user_id, handle) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING`, userID, fresh)
	if isForeignKey(err) {
		return nil, localauth.ErrUserNotFound
	}
	if err != nil {
		return nil, err
	}
	var h []byte
	err = s.pool.QueryRow(ctx, `SELECT handle FROM passkey_handles WHERE user_id = $1`, userID).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, localauth.ErrUserNotFound
	}
	return h, err
}

// nonNil stores a nil byte slice as an empty bytea, not NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
