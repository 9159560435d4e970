package sqlitestore

import (
	"context"
	"time"

	"github.com/localauth/localauth"
)

// CreateHandoff implements localauth.Store.
func (s *Store) CreateHandoff(ctx context.Context, h localauth.Handoff) error {
	_, err := s.write.ExecContext(ctx,
		`INSERT INTO handoffs (code_hash, sealed, expires_at) VALUES (?, ?, ?)`,
		h.CodeHash[:], h.Sealed, ms(h.ExpiresAt))
	return err
}

// TakeHandoff implements localauth.Store.
func (s *Store) TakeHandoff(ctx context.Context, codeHash localauth.TokenHash, now time.Time) (localauth.Handoff, error) {
	h := localauth.Handoff{CodeHash: codeHash}
	var expires int64
	err := s.write.QueryRowContext(ctx,
		`DELETE FROM handoffs WHERE code_hash = ? RETURNING sealed, expires_at`, codeHash[:]).Scan(&h.Sealed, &expires)
	if err != nil {
		return localauth.Handoff{}, notFound(err, localauth.ErrInvalidSession)
	}
	h.ExpiresAt = fromMS(expires)
	if !now.Before(h.ExpiresAt) {
		return localauth.Handoff{}, localauth.ErrInvalidSession
	}
	return h, nil
}
