package sqlitestore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/sqlitestore"
)

// Open creates the database file (mode 0600) and brings its schema up to
// date; a Service runs over it.
func ExampleOpen() {
	ctx := localauth.WithClientIP(context.Background(), "203.0.113.7") // in a handler: web.Auth.Context(r)
	dir, _ := os.MkdirTemp("", "sqlitestore-example")
	defer os.RemoveAll(dir)

	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "auth.db"), sqlitestore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	current, latest, err := store.SchemaVersion(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("schema up to date:", current == latest)

	svc, err := localauth.New(store, localauth.Config{Hasher: localauth.BcryptHasher{Cost: localauth.MinBcryptCost}})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()
	u, err := svc.Register(ctx, "Alice", "correct horse battery staple")
	if err != nil {
		log.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(dir, "auth.db"))
	fmt.Println(u.Username, fi.Mode().Perm())
	// Output:
	// schema up to date: true
	// alice -rw-------
}
