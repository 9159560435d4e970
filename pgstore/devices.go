package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth"
)

// TrustDevice implements localauth.DeviceStore.
func (s *Store) TrustDevice(ctx context.Context, d *localauth.Device, replaces *localauth.TokenHash) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return trustDevice(ctx, tx, d, replaces) })
}

func trustDevice(ctx context.Context, tx pgx.Tx, d *localauth.Device, replaces *localauth.TokenHash) error {
	if replaces != nil {
		err := tx.QueryRow(ctx,
			`UPDATE devices SET token_hash = $1, user_agent = $2, last_used_at = $3, expires_at = $4
			 WHERE user_id = $5 AND token_hash = $6 RETURNING public_id, created_at`,
			d.TokenHash[:], d.UserAgent, d.LastUsedAt, d.ExpiresAt, d.UserID, replaces[:]).Scan(&d.PublicID, &d.CreatedAt)
		if err == nil {
			d.CreatedAt = utc(d.CreatedAt)
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
	}
	_, err := tx.Exec(ctx,
		`INSERT INTO devices (user_id, token_hash, public_id, user_agent, created_at, last_used_at, expires_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		d.UserID, d.TokenHash[:], d.PublicID, d.UserAgent, d.CreatedAt, d.LastUsedAt, d.ExpiresAt)
	if isForeignKey(err) {
		return localauth.ErrUserNotFound
	}
	return err
}

// DeviceTrusted implements localauth.DeviceStore.
func (s *Store) DeviceTrusted(ctx context.Context, userID int64, h localauth.TokenHash, now time.Time) (bool, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var ok bool
	err := s.pool.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM devices WHERE user_id = $1 AND token_hash = $2 AND expires_at > $3)`,
		userID, h[:], now).Scan(&ok)
	return ok, err
}

const deviceColumns = `user_id, public_id, token_hash, user_agent, created_at, last_used_at, expires_at`

func scanDevice(row pgx.Row) (localauth.Device, error) {
	var (
		d localauth.Device
		h []byte
	)
	if err := row.Scan(&d.UserID, &d.PublicID, &h, &d.UserAgent, &d.CreatedAt, &d.LastUsedAt, &d.ExpiresAt); err != nil {
		return localauth.Device{}, err
	}
	d.TokenHash = localauth.TokenHash(h)
	d.CreatedAt, d.LastUsedAt, d.ExpiresAt = utc(d.CreatedAt), utc(d.LastUsedAt), utc(d.ExpiresAt)
	return d, nil
}

// Devices implements localauth.DeviceStore.
func (s *Store) Devices(ctx context.Context, userID int64, now time.Time) ([]localauth.Device, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx,
		`SELECT `+deviceColumns+` FROM devices WHERE ($1 = 0 OR user_id = $1) AND expires_at > $2
		 ORDER BY last_used_at DESC, public_id`, userID, now)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []localauth.Device{}
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeleteDevice implements localauth.DeviceStore.
func (s *Store) DeleteDevice(ctx context.Context, userID int64, publicID string) (localauth.Device, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	d, err := scanDevice(s.pool.QueryRow(ctx,
		`DELETE FROM devices WHERE public_id = $1 AND ($2 = 0 OR user_id = $2) RETURNING `+deviceColumns,
		publicID, userID))
	return d, notFound(err, localauth.ErrDeviceNotFound)
}

// DeleteDevices implements localauth.DeviceStore.
func (s *Store) DeleteDevices(ctx context.Context, userID int64, except *localauth.TokenHash) (int, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var keep []byte
	if except != nil {
		keep = except[:]
	}
	tag, err := s.pool.Exec(ctx,
		`DELETE FROM devices WHERE user_id = $1 AND ($2::bytea IS NULL OR token_hash <> $2)`, userID, keep)
	return int(tag.RowsAffected()), err
}

// DeleteExpiredDevices implements localauth.DeviceStore.
func (s *Store) DeleteExpiredDevices(ctx context.Context, now time.Time) (int, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM devices WHERE expires_at <= $1`, now)
	return int(tag.RowsAffected()), err
}
