package localauth_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/sqlitestore"
)

// Register a user, log in, and check the session token, as a request
// handler would on every request.
func Example() {
	// In a handler, the request's context with its client address:
	// web.Auth.Context(r). Throttling per address needs it.
	ctx := localauth.WithClientIP(context.Background(), "203.0.113.7")
	dir, _ := os.MkdirTemp("", "localauth-example")
	defer os.RemoveAll(dir)

	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "auth.db"), sqlitestore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	svc, err := localauth.New(store, localauth.Config{
		// The zero Config is the safe default (bcrypt cost 12); the lower
		// cost here only keeps the example quick.
		Hasher: localauth.BcryptHasher{Cost: localauth.MinBcryptCost},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()

	if _, err := svc.Register(ctx, "Alice", "correct horse battery staple"); err != nil {
		log.Fatal(err)
	}
	res, err := svc.Login(ctx, "alice", "correct horse battery staple")
	if err != nil {
		log.Fatal(err)
	}
	// Hand string(res.Token) to the client: a cookie, a header, LocalStorage.
	user, err := svc.Authenticate(ctx, res.Token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(user.Username, user.DisplayName)
	// Output: alice Alice
}

// A refused registration says why, and which field to correct.
func ExampleService_Register_policy() {
	// In a handler, the request's context with its client address:
	// web.Auth.Context(r). Throttling per address needs it.
	ctx := localauth.WithClientIP(context.Background(), "203.0.113.7")
	dir, _ := os.MkdirTemp("", "localauth-example")
	defer os.RemoveAll(dir)
	store, _ := sqlitestore.Open(ctx, filepath.Join(dir, "auth.db"), sqlitestore.Options{})
	defer store.Close()
	svc, _ := localauth.New(store, localauth.Config{Hasher: localauth.BcryptHasher{Cost: localauth.MinBcryptCost}, Logger: slog.New(slog.DiscardHandler)})
	defer svc.Close()

	_, err := svc.Register(ctx, "bob", "password")
	var pe *localauth.PolicyError
	if errors.As(err, &pe) {
		fmt.Println(pe.Field+":", pe.Message)
	}
	// Output: password: This password is too common and easy to guess; please choose another.
}

// Login answers the same for an unknown user and a wrong password.
func ExampleService_Login() {
	// In a handler, the request's context with its client address:
	// web.Auth.Context(r). Throttling per address needs it.
	ctx := localauth.WithClientIP(context.Background(), "203.0.113.7")
	dir, _ := os.MkdirTemp("", "localauth-example")
	defer os.RemoveAll(dir)
	store, _ := sqlitestore.Open(ctx, filepath.Join(dir, "auth.db"), sqlitestore.Options{})
	defer store.Close()
	svc, _ := localauth.New(store, localauth.Config{Hasher: localauth.BcryptHasher{Cost: localauth.MinBcryptCost}, Logger: slog.New(slog.DiscardHandler)})
	defer svc.Close()
	svc.Register(ctx, "carol", "correct horse battery staple")

	_, err1 := svc.Login(ctx, "carol", "wrong password")
	_, err2 := svc.Login(ctx, "nobody", "wrong password")
	fmt.Println(errors.Is(err1, localauth.ErrInvalidCredentials), errors.Is(err2, localauth.ErrInvalidCredentials))
	// Output: true true
}
