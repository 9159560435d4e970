package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/localauth/localauth"
)

var _ localauth.ActivityStore = (*Store)(nil)

const activityColumns = `id, user_id, type, at, first_at, count, ip, device, session_id, detail`

// AddActivity implements localauth.ActivityStore.
func (s *Store) AddActivity(ctx context.Context, e localauth.ActivityEvent) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return insertActivity(ctx, tx, e) })
}

func insertActivity(ctx context.Context, tx *sql.Tx, e localauth.ActivityEvent) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO activity (user_id, type, at, first_at, count, ip, device, session_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.UserID, e.Type, ms(e.At), ms(e.FirstAt), max(e.Count, 1), e.IP, e.Device, e.SessionID, e.Detail)
	if isForeignKey(err) {
		return localauth.ErrUserNotFound
	}
	return err
}

// FoldActivity implements localauth.ActivityStore. The write transaction
// (BEGIN IMMEDIATE) serializes concurrent folds.
func (s *Store) FoldActivity(ctx context.Context, e localauth.ActivityEvent, since string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var id, firstAt int64
		var count int
		err := tx.QueryRowContext(ctx,
			`SELECT id, first_at, count FROM activity WHERE user_id = ? AND type = ?
			   AND id > coalesce((SELECT max(id) FROM activity WHERE user_id = ? AND type = ?), 0)
			 ORDER BY id DESC LIMIT 1`,
			e.UserID, e.Type, e.UserID, since).Scan(&id, &firstAt, &count)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			if _, err := tx.ExecContext(ctx, `DELETE FROM activity WHERE id = ?`, id); err != nil {
				return err
			}
			e.FirstAt = fromMS(firstAt)
			e.Count = count + max(e.Count, 1)
		}
		return insertActivity(ctx, tx, e)
	})
}

// Activity implements localauth.ActivityStore.
func (s *Store) Activity(ctx context.Context, userID, before int64, limit int) ([]localauth.ActivityEvent, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.read.QueryContext(ctx,
		`SELECT `+activityColumns+` FROM activity WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
		userID, before, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []localauth.ActivityEvent
	for rows.Next() {
		var e localauth.ActivityEvent
		var at, firstAt int64
		if err := rows.Scan(&e.ID, &e.UserID, &e.Type, &at, &firstAt, &e.Count, &e.IP, &e.Device, &e.SessionID, &e.Detail); err != nil {
			return nil, err
		}
		e.At, e.FirstAt = fromMS(at), fromMS(firstAt)
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeleteActivityBefore implements localauth.ActivityStore.
func (s *Store) DeleteActivityBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM activity WHERE at < ?`, ms(t))
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// SignInAlerts implements localauth.ActivityStore.
func (s *Store) SignInAlerts(ctx context.Context, userID int64) (bool, error) {
	var on bool
	err := s.read.QueryRowContext(ctx, `SELECT sign_in_alerts FROM users WHERE id = ?`, userID).Scan(&on)
	return on, notFound(err, localauth.ErrUserNotFound)
}

// SetSignInAlerts implements localauth.ActivityStore.
func (s *Store) SetSignInAlerts(ctx context.Context, userID int64, on bool) error {
	res, err := s.write.ExecContext(ctx, `UPDATE users SET sign_in_alerts = ? WHERE id = ?`, on, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return localauth.ErrUserNotFound
	}
	return nil
}
