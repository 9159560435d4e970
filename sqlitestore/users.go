package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/localauth/localauth"
)

const userColumns = `id, username, display_name, enabled, created_at`

type scanner interface{ Scan(dest ...any) error }

func scanUser(r scanner) (localauth.User, error) {
	var u localauth.User
	var created int64
	err := r.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Enabled, &created)
	u.CreatedAt = fromMS(created)
	return u, err
}

func notFound(err, sentinel error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return sentinel
	}
	return err
}

// CreateUser implements localauth.Store.
func (s *Store) CreateUser(ctx context.Context, u *localauth.User, hash []byte) error {
	err := s.write.QueryRowContext(ctx,
		`INSERT INTO users (username, skeleton, display_name, password_hash, enabled, created_at, password_changed_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		u.Username, localauth.UsernameSkeleton(u.Username), u.DisplayName, string(hash), u.Enabled, ms(u.CreatedAt), ms(u.CreatedAt),
	).Scan(&u.ID)
	if isUnique(err) {
		// The skeleton's index is the only unique one whose message
		// names the skeleton column.
		if strings.Contains(err.Error(), "users.skeleton") {
			return localauth.ErrUsernameConfusable
		}
		return localauth.ErrUserExists
	}
	return err
}

// UserByID implements localauth.Store.
func (s *Store) UserByID(ctx context.Context, id int64) (localauth.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	return u, notFound(err, localauth.ErrUserNotFound)
}

// UserByName implements localauth.Store.
func (s *Store) UserByName(ctx context.Context, username string) (localauth.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, username))
	return u, notFound(err, localauth.ErrUserNotFound)
}

// UserBySkeleton implements localauth.Store.
func (s *Store) UserBySkeleton(ctx context.Context, skeleton string) (localauth.User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE skeleton = ?`, skeleton))
	return u, notFound(err, localauth.ErrUserNotFound)
}

// Users implements localauth.Store.
func (s *Store) Users(ctx context.Context) ([]localauth.User, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var us []localauth.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		us = append(us, u)
	}
	return us, rows.Err()
}

// Credential implements localauth.Store.
func (s *Store) Credential(ctx context.Context, userID int64) (localauth.Credential, error) {
	var (
		h string
		c localauth.Credential
	)
	err := s.read.QueryRowContext(ctx, `SELECT password_hash, credential_version FROM users WHERE id = ?`, userID).Scan(&h, &c.Version)
	if err != nil {
		return localauth.Credential{}, notFound(err, localauth.ErrUserNotFound)
	}
	c.Hash = []byte(h)
	return c, nil
}

// SetPasswordHash implements localauth.Store.
func (s *Store) SetPasswordHash(ctx context.Context, userID int64, hash []byte, keep *localauth.TokenHash) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE users SET password_hash = ?, password_changed_at = ?, credential_version = credential_version + 1 WHERE id = ?`,
			string(hash), ms(s.now()), userID)
		if err != nil {
			return err
		}
		if err := oneRow(res, localauth.ErrUserNotFound); err != nil {
			return err
		}
		var keepHash []byte
		if keep != nil {
			keepHash = keep[:]
		}
		res, err = tx.ExecContext(ctx,
			`DELETE FROM sessions WHERE user_id = ? AND (? IS NULL OR token_hash <> ?)`,
			userID, keepHash, keepHash)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return s.logRevocation(ctx, tx, userID, nil)
	})
	return int(n), err
}

// ReplacePasswordHash implements localauth.Store.
func (s *Store) ReplacePasswordHash(ctx context.Context, userID int64, oldHash, newHash []byte) (bool, error) {
	res, err := s.write.ExecContext(ctx,
		`UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`,
		string(newHash), userID, string(oldHash))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SetUserEnabled implements localauth.Store.
func (s *Store) SetUserEnabled(ctx context.Context, userID int64, enabled bool) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET enabled = ? WHERE id = ?`, enabled, userID)
		if err != nil {
			return err
		}
		if err := oneRow(res, localauth.ErrUserNotFound); err != nil || enabled {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
			return err
		}
		return s.logRevocation(ctx, tx, userID, nil)
	})
}

// DeleteUser implements localauth.Store.
func (s *Store) DeleteUser(ctx context.Context, userID int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, userID)
		if err != nil {
			return err
		}
		if err := oneRow(res, localauth.ErrUserNotFound); err != nil {
			return err
		}
		return s.logRevocation(ctx, tx, userID, nil)
	})
}

// oneRow returns sentinel when res changed no row.
func oneRow(res sql.Result, sentinel error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return sentinel
	}
	return nil
}
