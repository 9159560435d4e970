package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/localauth/localauth"
)

// TrustDevice implements localauth.DeviceStore.
func (s *Store) TrustDevice(ctx context.Context, d *localauth.Device, replaces *localauth.TokenHash) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return trustDevice(ctx, tx, d, replaces) })
}

func trustDevice(ctx context.Context, tx *sql.Tx, d *localauth.Device, replaces *localauth.TokenHash) error {
	if replaces != nil {
		var created int64
		err := tx.QueryRowContext(ctx,
			`UPDATE devices SET token_hash = ?, user_agent = ?, last_used_at = ?, expires_at = ?
			 WHERE user_id = ? AND token_hash = ? RETURNING public_id, created_at`,
			d.TokenHash[:], d.UserAgent, ms(d.LastUsedAt), ms(d.ExpiresAt), d.UserID, replaces[:]).Scan(&d.PublicID, &created)
		if err == nil {
			d.CreatedAt = fromMS(created)
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	_, err := tx.ExecContext(ctx,
		`INSERT INTO devices (user_id, token_hash, public_id, user_agent, created_at, last_used_at, expires_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?)`,
		d.UserID, d.TokenHash[:], d.PublicID, d.UserAgent, ms(d.CreatedAt), ms(d.LastUsedAt), ms(d.ExpiresAt))
	if isForeignKey(err) {
		return localauth.ErrUserNotFound
	}
	return err
}

// DeviceTrusted implements localauth.DeviceStore.
func (s *Store) DeviceTrusted(ctx context.Context, userID int64, h localauth.TokenHash, now time.Time) (bool, error) {
	var ok bool
	err := s.read.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM devices WHERE user_id = ? AND token_hash = ? AND expires_at > ?)`,
		userID, h[:], ms(now)).Scan(&ok)
	return ok, err
}

const deviceColumns = `user_id, public_id, token_hash, user_agent, created_at, last_used_at, expires_at`

func scanDevice(row interface{ Scan(...any) error }) (localauth.Device, error) {
	var (
		d                      localauth.Device
		h                      []byte
		created, used, expires int64
	)
	if err := row.Scan(&d.UserID, &d.PublicID, &h, &d.UserAgent, &created, &used, &expires); err != nil {
		return localauth.Device{}, err
	}
	d.TokenHash = localauth.TokenHash(h)
	d.CreatedAt, d.LastUsedAt, d.ExpiresAt = fromMS(created), fromMS(used), fromMS(expires)
	return d, nil
}

// Devices implements localauth.DeviceStore.
func (s *Store) Devices(ctx context.Context, userID int64, now time.Time) ([]localauth.Device, error) {
	rows, err := s.read.QueryContext(ctx,
		`SELECT `+deviceColumns+` FROM devices WHERE (? = 0 OR user_id = ?) AND expires_at > ?
		 ORDER BY last_used_at DESC, public_id`, userID, userID, ms(now))
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
	d, err := scanDevice(s.write.QueryRowContext(ctx,
		`DELETE FROM devices WHERE public_id = ? AND (? = 0 OR user_id = ?) RETURNING `+deviceColumns,
		publicID, userID, userID))
	return d, notFound(err, localauth.ErrDeviceNotFound)
}

// DeleteDevices implements localauth.DeviceStore.
func (s *Store) DeleteDevices(ctx context.Context, userID int64, except *localauth.TokenHash) (int, error) {
	var keep []byte
	if except != nil {
		keep = except[:]
	}
	return s.affected(ctx,
		`DELETE FROM devices WHERE user_id = ? AND (? IS NULL OR token_hash <> ?)`, userID, keep, keep)
}

// DeleteExpiredDevices implements localauth.DeviceStore.
func (s *Store) DeleteExpiredDevices(ctx context.Context, now time.Time) (int, error) {
	return s.affected(ctx, `DELETE FROM devices WHERE expires_at <= ?`, ms(now))
}
