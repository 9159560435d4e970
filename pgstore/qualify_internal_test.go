package pgstore

import "testing"

// Each table of the store's, wherever a statement names it as a table, is
// qualified; literals, columns, functions, other schemas' tables and names
// already qualified are left alone.
func TestQualify(t *testing.T) {
	q := newQualifier("auth")
	for _, c := range []struct{ in, want string }{
		{`SELECT id FROM users WHERE id = $1`, `SELECT id FROM "auth".users WHERE id = $1`},
		{`select s.id from sessions s join users u on u.id = s.user_id`, `select s.id from "auth".sessions s join "auth".users u on u.id = s.user_id`},
		{`INSERT INTO totp (user_id) VALUES ($1) ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed WHERE NOT totp.confirmed`,
			`INSERT INTO "auth".totp (user_id) VALUES ($1) ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed WHERE NOT totp.confirmed`},
		{`WITH gone AS (DELETE FROM throttle WHERE key = $1) UPDATE throttle SET count = count - 1`,
			`WITH gone AS (DELETE FROM "auth".throttle WHERE key = $1) UPDATE "auth".throttle SET count = count - 1`},
		{`SELECT 1 FROM users u, sessions s WHERE u.id = s.user_id`, `SELECT 1 FROM "auth".users u, "auth".sessions s WHERE u.id = s.user_id`},
		{`SELECT extract(epoch FROM clock_timestamp() - r.created_at) FROM (SELECT 1) x LEFT JOIN revocations r ON true`,
			`SELECT extract(epoch FROM clock_timestamp() - r.created_at) FROM (SELECT 1) x LEFT JOIN "auth".revocations r ON true`},
		{`SELECT 'FROM users', "users" FROM public.users, pg_namespace -- FROM users`, `SELECT 'FROM users', "users" FROM public.users, pg_namespace -- FROM users`},
		{`SELECT count(*) FROM localauth_migrations`, `SELECT count(*) FROM "auth".localauth_migrations`},
		{`DELETE FROM sessions WHERE user_id = $1 AND ($2::bytea IS NULL OR token_hash <> $2)`, `DELETE FROM "auth".sessions WHERE user_id = $1 AND ($2::bytea IS NULL OR token_hash <> $2)`},
		{`SELECT users FROM unnest($1::text[]) users`, `SELECT users FROM unnest($1::text[]) users`},
	} {
		if got := q.sql(c.in); got != c.want {
			t.Errorf("%s\n got %s\nwant %s", c.in, got, c.want)
		}
		if got := q.sql(c.in); got != c.want {
			t.Errorf("cached %s\n got %s", c.in, got)
		}
	}
}
