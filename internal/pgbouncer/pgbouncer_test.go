package pgbouncer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth/internal/pgbouncer"
	"github.com/localauth/localauth/internal/testkit"
)

// patience bounds each wait for a condition.
const patience = 30 * time.Second

func connect(tb testing.TB, dsn string) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// PgBouncer in front of a fresh database: its URL reaches that database
// through the pooler, in transaction mode, with at most poolSize server
// connections however many clients hold transactions; Close stops it.
func TestPgBouncerPoolsInTransactionMode(t *testing.T) {
	db := testkit.FreshDatabase(t)
	ctx := context.Background()
	b, err := pgbouncer.Start(ctx, db, 2)
	if errors.Is(err, pgbouncer.ErrMissing) {
		t.Skip("PgBouncer test: install pgbouncer (Debian package pgbouncer) to run it")
	}
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			b.Close()
		}
	}()
	through := b.URL(db)
	if through.Host == db.Host || through.Path != db.Path || through.User.Username() != db.User.Username() {
		t.Fatalf("URL %v for %v: want the same database and user on another address", through, db)
	}
	if b.URL(db) == db {
		t.Fatal("URL changed the upstream URL in place")
	}

	var name string
	if err := connect(t, through.String()).QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if "/"+name != db.Path {
		t.Fatalf("reached database %q, want %q", name, db.Path)
	}

	admin := *through
	admin.Path = "/pgbouncer"
	q := admin.Query()
	q.Set("default_query_exec_mode", "simple_protocol")
	admin.RawQuery = q.Encode()
	console := connect(t, admin.String())
	if mode := configValue(t, console, "pool_mode"); mode != "transaction" {
		t.Fatalf("pool_mode %q, want transaction", mode)
	}

	// Three clients in a transaction each: two get a server connection,
	// the third waits for one.
	var held []pgx.Tx
	for range 2 {
		tx, err := connect(t, through.String()).Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		held = append(held, tx)
	}
	third := connect(t, through.String())
	done := make(chan error, 1)
	go func() {
		_, err := third.Exec(ctx, "SELECT 1")
		done <- err
	}()
	deadline := time.Now().Add(patience)
	for waiting(t, console, name) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the third client never waited for a server connection")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition
	}
	select {
	case err := <-done:
		t.Fatalf("the third client got a server connection beyond the pool's two: %v", err)
	default:
	}
	if err := held[0].Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(patience):
		t.Fatal("the third client did not get the connection the first gave back")
	}
	held[1].Rollback(ctx)

	b.Close()
	closed = true
	cctx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	if c, err := pgx.Connect(cctx, through.String()); err == nil {
		c.Close(ctx)
		t.Fatal("PgBouncer still answers after Close")
	}
}

// configValue reads a setting from the admin console's SHOW CONFIG.
func configValue(tb testing.TB, console *pgx.Conn, key string) string {
	tb.Helper()
	rows, err := console.Query(context.Background(), "SHOW CONFIG")
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			tb.Fatal(err)
		}
		if len(vals) >= 2 && asString(vals[0]) == key {
			return asString(vals[1])
		}
	}
	tb.Fatalf("SHOW CONFIG has no %s", key)
	return ""
}

// waiting is how many clients of database db wait for a server
// connection (SHOW POOLS, cl_waiting).
func waiting(tb testing.TB, console *pgx.Conn, db string) int {
	tb.Helper()
	rows, err := console.Query(context.Background(), "SHOW POOLS")
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	cols := rows.FieldDescriptions()
	n := 0
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			tb.Fatal(err)
		}
		var database string
		var w int
		for i, c := range cols {
			switch c.Name {
			case "database":
				database = asString(vals[i])
			case "cl_waiting":
				w = asInt(vals[i])
			}
		}
		if database == db {
			n += w
		}
	}
	return n
}

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	default:
		return strings.TrimSpace(strings.Trim(strings.TrimSpace(toString(x)), "\""))
	}
}

func toString(v any) string {
	if s, ok := v.(interface{ String() string }); ok {
		return s.String()
	}
	return ""
}

func asInt(v any) int {
	switch x := v.(type) {
	case int64:
		return int(x)
	case int32:
		return int(x)
	case int:
		return x
	}
	n := 0
	for _, r := range asString(v) {
		if r < '0' || r > '9' {
			break
		}
		n = n*10 + int(r-'0')
	}
	return n
}
