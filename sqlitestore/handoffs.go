package sqlitestore

import (
	"context"
	"time"

	"github.com/localauth/localauth"
)

// CreateHandoff implements localauth.HandoffStore.
func (s *Store) CreateHandoff(ctx context.Context, h localauth.Handoff) error {
	_, err := s.write.ExecContext(ctx,
		`INSERT INTO handoffs (code_hash, sealed, expires_at) VALUES (?, ?, ?)`,
		h.CodeHash[:], h.Sealed, ms(h.ExpiresAt))
	return err
}

// TakeHandoff implements localauth.HandoffStore.
func (s *Store) TakeHandoff(ctx context.Context, codeHash localauth.TokenHash, now time.Time) (localauth.Handoff, error) {
	h := localauth.Handoff{CodeHash: codeHash}
	var expires int64
	err := s.write.QueryRowContext(ctx,
		`DELETE FROM handoffs WHERE code_hash = ? RETURNING sealed, expires_at`, codeHash[:]).Scan(&h.Sealed, &expires)
	if err != nil {
		return localauth.Handoff{}, notFound(err, localauth.ErrHandoffNotFound)
	}
	h.ExpiresAt = fromMS(expires)
	if !now.Before(h.ExpiresAt) {
		return localauth.Handoff{}, localauth.ErrHandoffNotFound
	}
	return h, nil
}

// DeleteExpiredHandoffs implements localauth.HandoffStore.
func (s *Store) DeleteExpiredHandoffs(ctx context.Context, now time.Time) (int, error) {
	return s.affected(ctx, `DELETE FROM handoffs WHERE expires_at <= ?`, ms(now))
}
