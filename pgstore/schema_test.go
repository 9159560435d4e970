package pgstore_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/testkit"
	"github.com/localauth/localauth/pgstore"
)

// freshDatabase returns the URL of a database of its own and a connection
// to it, for tests about what lives in its public schema.
func freshDatabase(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	u := testkit.FreshDatabase(t)
	conn, err := pgx.Connect(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return u.String(), conn
}

func tableIn(t *testing.T, conn *pgx.Conn, schema, table string) bool {
	t.Helper()
	var ok bool
	if err := conn.QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, schema+"."+table).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func service(t *testing.T, st localauth.Store) *localauth.Service {
	t.Helper()
	svc, err := localauth.New(st, localauth.Config{Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, NoClientAddress: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

// An application with its own users table and its own goose history in
// public: the store keeps to its schema, and the application's tables and
// history are untouched.
func TestOwnSchemaBesideAnApplication(t *testing.T) {
	dsn, conn := freshDatabase(t)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE public.users (id serial PRIMARY KEY, email text NOT NULL)`,
		`INSERT INTO public.users (email) VALUES ('app@example.com')`,
		`CREATE TABLE public.goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now())`,
		`INSERT INTO public.goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true)`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	st, err := pgstore.Open(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if cur, latest, err := st.SchemaVersion(ctx); err != nil || cur != latest || cur < 7 {
		t.Fatalf("schema version %d of %d: %v", cur, latest, err)
	}
	svc := service(t, st)
	if _, err := svc.Register(ctx, "alice", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"users", "sessions", "revocations", "localauth_migrations"} {
		if !tableIn(t, conn, "localauth", table) {
			t.Errorf("no localauth.%s", table)
		}
	}
	var email string
	var versions int
	conn.QueryRow(ctx, `SELECT email FROM public.users`).Scan(&email)
	conn.QueryRow(ctx, `SELECT count(*) FROM public.goose_db_version`).Scan(&versions)
	if email != "app@example.com" || versions != 3 || tableIn(t, conn, "public", "sessions") {
		t.Fatalf("the application's tables changed: email %q, %d versions", email, versions)
	}
}

// A database migrated by an earlier version, with the tables and goose's
// default history in public, keeps working in place: the tables stay where
// they are (instances of the earlier version may still run), a history of
// the store's own records what they show, and goose_db_version, which an
// application may share (here with timestamp versions of its own), is left
// alone and never believed.
func TestEarlierLayoutUsedInPlace(t *testing.T) {
	dsn, conn := freshDatabase(t)
	ctx := context.Background()
	old, err := pgstore.Open(ctx, dsn, pgstore.Options{Schema: "public"})
	if err != nil {
		t.Fatal(err)
	}
	svc := service(t, old)
	if _, err := svc.Register(ctx, "alice", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Login(ctx, "alice", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	svc.Close()
	old.Close()
	// What an earlier version left: the same tables under goose's default
	// history table, shared with an application's timestamped migrations.
	for _, q := range []string{
		`DROP TABLE public.localauth_migrations`,
		`CREATE TABLE public.goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now())`,
		`INSERT INTO public.goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true), (20240101120000, true)`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}

	// Two instances start together on it.
	type opened struct {
		st  *pgstore.Store
		err error
	}
	results := make(chan opened, 2)
	for range 2 {
		go func() {
			st, err := pgstore.Open(ctx, dsn, pgstore.Options{})
			results <- opened{st, err}
		}()
	}
	var stores []*pgstore.Store
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Fatalf("opening the earlier layout: %v", r.err)
		}
		stores = append(stores, r.st)
		defer r.st.Close()
	}
	if got := stores[0].SchemaName(); got != "public" {
		t.Fatalf("schema %q, want the earlier layout's public", got)
	}
	if _, err := service(t, stores[0]).Authenticate(ctx, res.Token); err != nil {
		t.Fatalf("a session from before: %v", err)
	}
	if _, err := service(t, stores[1]).Login(ctx, "ALICE", "correct horse battery staple"); err != nil {
		t.Fatalf("login: %v", err)
	}
	if cur, latest, err := stores[1].SchemaVersion(ctx); err != nil || cur != latest {
		t.Fatalf("schema version %d of %d: %v", cur, latest, err)
	}
	var versions int
	conn.QueryRow(ctx, `SELECT count(*) FROM public.goose_db_version`).Scan(&versions)
	if versions != 4 || tableIn(t, conn, "localauth", "users") {
		t.Fatalf("the shared goose history has %d rows (want 4, untouched); tables moved: %v", versions, tableIn(t, conn, "localauth", "users"))
	}
}

// A search_path in the URL names the schema when Options.Schema does not,
// as it did for earlier versions.
func TestSearchPathInURL(t *testing.T) {
	dsn, conn := freshDatabase(t)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `CREATE SCHEMA auth`); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(dsn)
	q := u.Query()
	q.Set("search_path", "auth")
	u.RawQuery = q.Encode()
	st, err := pgstore.Open(ctx, u.String(), pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.SchemaName() != "auth" || !tableIn(t, conn, "auth", "users") || tableIn(t, conn, "localauth", "users") {
		t.Fatalf("schema %q; auth.users %v", st.SchemaName(), tableIn(t, conn, "auth", "users"))
	}
}

// An application's own tables that happen to share the store's names, but
// not its columns, are not taken for an earlier layout.
func TestLookalikeTablesNotAdopted(t *testing.T) {
	dsn, conn := freshDatabase(t)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE public.users (id serial PRIMARY KEY, email text)`,
		`CREATE TABLE public.sessions (id serial PRIMARY KEY, data text)`,
		`CREATE TABLE public.revocations (id serial PRIMARY KEY)`,
		`CREATE TABLE public.devices (id serial PRIMARY KEY)`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	st, err := pgstore.Open(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.SchemaName() != pgstore.DefaultSchema || !tableIn(t, conn, "public", "devices") || !tableIn(t, conn, "localauth", "devices") {
		t.Fatalf("schema %q", st.SchemaName())
	}
}

// A pool the application made, configured in nothing for the store: the
// store uses it, its statements naming their schema, and leaves it open on
// Close.
func TestOpenPool(t *testing.T) {
	dsn, _ := freshDatabase(t)
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	st, err := pgstore.OpenPool(ctx, pool, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := service(t, st).Register(ctx, "bob", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM localauth.users`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the application's pool after Close: %d users, %v", n, err)
	}
	var current string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&current); err != nil || current != "public" {
		t.Fatalf("the application's connections search %q (%v), want public as they were", current, err)
	}
	if _, err := pgstore.Open(ctx, dsn, pgstore.Options{Schema: "Bad-Name"}); err == nil {
		t.Fatal("a schema name that needs quoting was accepted")
	}
}

// Options.Existing refuses a schema without the store's tables and creates
// nothing; it opens one that has them.
func TestExistingStoreRequired(t *testing.T) {
	dsn, conn := freshDatabase(t)
	ctx := context.Background()
	if _, err := pgstore.Open(ctx, dsn, pgstore.Options{Schema: "nothing_here", Existing: true}); !errors.Is(err, pgstore.ErrNoStore) {
		t.Fatalf("Existing on an empty schema: %v, want ErrNoStore", err)
	}
	var exists bool
	conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'nothing_here')`).Scan(&exists)
	if exists {
		t.Fatal("a refused Open created the schema")
	}
	st, err := pgstore.Open(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	again, err := pgstore.Open(ctx, dsn, pgstore.Options{Existing: true})
	if err != nil {
		t.Fatalf("Existing on a made store: %v", err)
	}
	again.Close()
}
