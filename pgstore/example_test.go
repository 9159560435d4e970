package pgstore_test

import (
	"context"
	"log"
	"os"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/pgstore"
)

// Several instances of an app share one PostgreSQL database: each opens
// the store (the first migrates; the others wait for it), and a logout,
// password change or disabled account on one reaches the cached sessions
// of the others within milliseconds. Second factors need the same secret
// key on every instance.
func ExampleOpen() {
	ctx := context.Background()
	store, err := pgstore.Open(ctx, os.Getenv("DATABASE_URL"), pgstore.Options{
		MaxConns: 20, // the default is 10
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	svc, err := localauth.New(store, localauth.Config{SecretKey: []byte(os.Getenv("LOCALAUTH_SECRET_KEY"))})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()
	// Serve svc through package web or liveauth.
}
