// Package skeletonmigration is the schema migration, shared by both stores,
// that adds users.skeleton: the UsernameSkeleton of each username, unique,
// so that a look-alike of an existing name cannot be registered even by two
// registrations racing. It has to be written in Go because the skeleton is
// computed by localauth.UsernameSkeleton, not by SQL.
//
// Where existing users already collide, the first registered keeps the
// skeleton and the others get NULL, which the unique index allows: every one
// of them goes on logging in, and no new look-alike can join them.
// `localauth migrate` reports such collisions.
package skeletonmigration

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"

	"github.com/localauth/localauth"
)

// Dialect is what differs between the stores' SQL.
type Dialect struct {
	// LengthFunc is the SQL function that counts characters in a string:
	// char_length on PostgreSQL, length on SQLite.
	LengthFunc string
	// SetSkeleton sets users.skeleton to the first argument for the user
	// whose id is the second, in the store's placeholder syntax.
	SetSkeleton string
}

// New returns the migration with the given version for one store's dialect.
func New(version int64, d Dialect) *goose.Migration {
	return goose.NewGoMigration(version,
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			if err := exec(ctx, tx,
				`ALTER TABLE users ADD COLUMN skeleton TEXT CHECK (skeleton IS NULL OR `+d.LengthFunc+`(skeleton) BETWEEN 1 AND 1024)`,
				`CREATE UNIQUE INDEX users_skeleton ON users (skeleton)`,
			); err != nil {
				return err
			}
			return backfill(ctx, tx, d.SetSkeleton)
		}},
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			return exec(ctx, tx,
				`DROP INDEX users_skeleton`,
				`ALTER TABLE users DROP COLUMN skeleton`,
			)
		}},
	)
}

func exec(ctx context.Context, tx *sql.Tx, stmts ...string) error {
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// backfill computes the skeleton of every existing user, oldest first, so
// that the first registered of colliding users is the one that keeps it.
func backfill(ctx context.Context, tx *sql.Tx, setSkeleton string) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, username FROM users ORDER BY id`)
	if err != nil {
		return err
	}
	type user struct {
		id       int64
		skeleton string
	}
	var users []user
	for rows.Next() {
		var u user
		var name string
		if err := rows.Scan(&u.id, &name); err != nil {
			rows.Close()
			return err
		}
		u.skeleton = localauth.UsernameSkeleton(name)
		users = append(users, u)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	taken := make(map[string]bool, len(users))
	for _, u := range users {
		if taken[u.skeleton] {
			continue
		}
		taken[u.skeleton] = true
		if _, err := tx.ExecContext(ctx, setSkeleton, u.skeleton, u.id); err != nil {
			return err
		}
	}
	return nil
}
