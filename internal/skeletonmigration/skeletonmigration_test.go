package skeletonmigration_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/skeletonmigration"
)

// provider runs the migration alone, as version 1, on a SQLite file whose
// users table is as it was before it.
func provider(tb testing.TB, names ...string) (*goose.Provider, *sql.DB) {
	tb.Helper()
	db, err := sql.Open("sqlite", filepath.Join(tb.TempDir(), "m.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE)`); err != nil {
		tb.Fatal(err)
	}
	for _, n := range names {
		if _, err := db.Exec(`INSERT INTO users (username) VALUES (?)`, n); err != nil {
			tb.Fatal(err)
		}
	}
	m := skeletonmigration.New(1, skeletonmigration.Dialect{
		LengthFunc:  "length",
		SetSkeleton: `UPDATE users SET skeleton = ? WHERE id = ?`,
	})
	p, err := goose.NewProvider(goose.DialectSQLite3, db, nil, goose.WithGoMigrations(m))
	if err != nil {
		tb.Fatal(err)
	}
	return p, db
}

// The migration gives every existing user the skeleton of its name; of
// users whose names look alike, the first registered keeps it and the
// others get none (NULL), so that all of them can still log in while the
// unique index refuses any new look-alike.
func TestSkeletonBackfillFirstRegisteredKeepsIt(t *testing.T) {
	// "аlice" begins with a Cyrillic а: it looks like "alice".
	p, db := provider(t, "alice", "bob", "аlice")
	if localauth.UsernameSkeleton("аlice") != localauth.UsernameSkeleton("alice") {
		t.Fatal("the test's look-alike does not share alice's skeleton")
	}
	if _, err := p.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT username, skeleton FROM users ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]sql.NullString{}
	for rows.Next() {
		var name string
		var skel sql.NullString
		if err := rows.Scan(&name, &skel); err != nil {
			t.Fatal(err)
		}
		got[name] = skel
	}
	rows.Close()
	for _, name := range []string{"alice", "bob"} {
		if want := localauth.UsernameSkeleton(name); !got[name].Valid || got[name].String != want {
			t.Errorf("%s: skeleton %v, want %q", name, got[name], want)
		}
	}
	if got["аlice"].Valid {
		t.Errorf("the later look-alike kept skeleton %q; want none", got["аlice"].String)
	}
	_, err = db.Exec(`INSERT INTO users (username, skeleton) VALUES (?, ?)`, "alicе", localauth.UsernameSkeleton("alice"))
	if err == nil {
		t.Fatal("the unique index let a new look-alike in")
	}
	if _, err := db.Exec(`INSERT INTO users (username, skeleton) VALUES (?, ?)`, "carol", ""); err == nil {
		t.Fatal("an empty skeleton was accepted")
	}
}

// The migration goes down again: the column and its index are gone.
func TestSkeletonMigrationDown(t *testing.T) {
	p, db := provider(t, "alice")
	ctx := context.Background()
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`SELECT skeleton FROM users`); err == nil {
		t.Fatal("users.skeleton outlived the migration's down")
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("the migration does not run again after its down: %v", err)
	}
}
