package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/localauth/localauth"
)

const userColumns = `id, username, display_name, enabled, created_at`

func scanUser(r pgx.Row) (localauth.User, error) {
	var u localauth.User
	err := r.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Enabled, &u.CreatedAt)
	u.CreatedAt = utc(u.CreatedAt)
	return u, err
}

// CreateUser implements localauth.Store.
func (s *Store) CreateUser(ctx context.Context, u *localauth.User, hash []byte) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	err := s.pool.QueryRow(ctx,
		`INSERT INTO users (username, skeleton, display_name, password_hash, enabled, created_at, password_changed_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`,
		u.Username, localauth.UsernameSkeleton(u.Username), u.DisplayName, string(hash), u.Enabled, u.CreatedAt).Scan(&u.ID)
	if isUnique(err) {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.ConstraintName == "users_skeleton" {
			return localauth.ErrUsernameConfusable
		}
		return localauth.ErrUserExists
	}
	return err
}

// UserByID implements localauth.Store.
func (s *Store) UserByID(ctx context.Context, id int64) (localauth.User, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	return u, notFound(err, localauth.ErrUserNotFound)
}

// UserByName implements localauth.Store.
func (s *Store) UserByName(ctx context.Context, username string) (localauth.User, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username = $1`, username))
	return u, notFound(err, localauth.ErrUserNotFound)
}

// UserBySkeleton implements localauth.Store.
func (s *Store) UserBySkeleton(ctx context.Context, skeleton string) (localauth.User, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE skeleton = $1`, skeleton))
	return u, notFound(err, localauth.ErrUserNotFound)
}

// Users implements localauth.Store.
func (s *Store) Users(ctx context.Context) ([]localauth.User, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (localauth.User, error) { return scanUser(r) })
}

// Credential implements localauth.Store.
func (s *Store) Credential(ctx context.Context, userID int64) (localauth.Credential, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var (
		h string
		c localauth.Credential
	)
	err := s.pool.QueryRow(ctx, `SELECT password_hash, credential_version FROM users WHERE id = $1`, userID).Scan(&h, &c.Version)
	if err != nil {
		return localauth.Credential{}, notFound(err, localauth.ErrUserNotFound)
	}
	c.Hash = []byte(h)
	return c, nil
}

// SetPasswordHash implements localauth.Store.
func (s *Store) SetPasswordHash(ctx context.Context, userID int64, hash []byte, keep *localauth.TokenHash) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $1, password_changed_at = now(), credential_version = credential_version + 1 WHERE id = $2`, string(hash), userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return localauth.ErrUserNotFound
		}
		var keepHash []byte
		if keep != nil {
			keepHash = keep[:]
		}
		tag, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND ($2::bytea IS NULL OR token_hash <> $2)`, userID, keepHash)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		return logRevocation(ctx, tx, userID, nil)
	})
	return int(n), err
}

// ReplacePasswordHash implements localauth.Store.
func (s *Store) ReplacePasswordHash(ctx context.Context, userID int64, oldHash, newHash []byte) (bool, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3`,
		string(newHash), userID, string(oldHash))
	return tag.RowsAffected() == 1, err
}

// SetUserEnabled implements localauth.Store.
func (s *Store) SetUserEnabled(ctx context.Context, userID int64, enabled bool) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET enabled = $1 WHERE id = $2`, enabled, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return localauth.ErrUserNotFound
		}
		if enabled {
			return nil
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
			return err
		}
		return logRevocation(ctx, tx, userID, nil)
	})
}

// DeleteUser implements localauth.Store.
func (s *Store) DeleteUser(ctx context.Context, userID int64) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return localauth.ErrUserNotFound
		}
		return logRevocation(ctx, tx, userID, nil)
	})
}
