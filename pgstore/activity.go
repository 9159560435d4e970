package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth"
)

var _ localauth.ActivityStore = (*Store)(nil)

const activityColumns = `id, user_id, type, at, first_at, count, ip, device, session_id, detail`

// AddActivity implements localauth.ActivityStore.
func (s *Store) AddActivity(ctx context.Context, e localauth.ActivityEvent) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	_, err := s.pool.Exec(ctx, insertActivitySQL, activityArgs(e)...)
	if isForeignKey(err) {
		return localauth.ErrUserNotFound
	}
	return err
}

const insertActivitySQL = `INSERT INTO activity (user_id, type, at, first_at, count, ip, device, session_id, detail)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

func activityArgs(e localauth.ActivityEvent) []any {
	return []any{e.UserID, e.Type, e.At, e.FirstAt, max(e.Count, 1), e.IP, e.Device, e.SessionID, e.Detail}
}

// FoldActivity implements localauth.ActivityStore. The user's row, locked
// FOR NO KEY UPDATE, serializes concurrent folds for one user without
// holding up the inserts of sessions that refer to it.
func (s *Store) FoldActivity(ctx context.Context, e localauth.ActivityEvent, since string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE`, e.UserID).Scan(&one)
		if err != nil {
			return notFound(err, localauth.ErrUserNotFound)
		}
		var (
			id      int64
			firstAt time.Time
			count   int
		)
		err = tx.QueryRow(ctx,
			`SELECT id, first_at, count FROM activity WHERE user_id = $1 AND type = $2
			   AND id > coalesce((SELECT max(id) FROM activity WHERE user_id = $1 AND type = $3), 0)
			 ORDER BY id DESC LIMIT 1`,
			e.UserID, e.Type, since).Scan(&id, &firstAt, &count)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		default:
			if _, err := tx.Exec(ctx, `DELETE FROM activity WHERE id = $1`, id); err != nil {
				return err
			}
			e.FirstAt = firstAt
			e.Count = count + max(e.Count, 1)
		}
		_, err = tx.Exec(ctx, insertActivitySQL, activityArgs(e)...)
		return err
	})
}

// Activity implements localauth.ActivityStore.
func (s *Store) Activity(ctx context.Context, userID, before int64, limit int) ([]localauth.ActivityEvent, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx,
		`SELECT `+activityColumns+` FROM activity WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`,
		userID, before, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []localauth.ActivityEvent
	for rows.Next() {
		var e localauth.ActivityEvent
		if err := rows.Scan(&e.ID, &e.UserID, &e.Type, &e.At, &e.FirstAt, &e.Count, &e.IP, &e.Device, &e.SessionID, &e.Detail); err != nil {
			return nil, err
		}
		e.At, e.FirstAt = e.At.UTC(), e.FirstAt.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeleteActivityBefore implements localauth.ActivityStore.
func (s *Store) DeleteActivityBefore(ctx context.Context, t time.Time) (int, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM activity WHERE at < $1`, t)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// SignInAlerts implements localauth.ActivityStore.
func (s *Store) SignInAlerts(ctx context.Context, userID int64) (bool, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var on bool
	err := s.pool.QueryRow(ctx, `SELECT sign_in_alerts FROM users WHERE id = $1`, userID).Scan(&on)
	return on, notFound(err, localauth.ErrUserNotFound)
}

// SetSignInAlerts implements localauth.ActivityStore.
func (s *Store) SetSignInAlerts(ctx context.Context, userID int64, on bool) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE users SET sign_in_alerts = $1 WHERE id = $2`, on, userID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return localauth.ErrUserNotFound
	}
	return nil
}
