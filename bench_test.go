package localauth_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/localauth/localauth"
)

// The benchmarks come in pairs with a baseline, so that the overhead of
// localauth reads as a ratio measured in the same run:
//
//	go test -run '^$' -bench . -benchmem .
//
// Login beside a raw bcrypt comparison at the same cost; Authenticate beside
// the SHA-256 of a token that it cannot avoid.

const benchCost = 10

func BenchmarkLogin(b *testing.B) {
	hash, _ := bcrypt.GenerateFromPassword([]byte(goodPW), benchCost)
	b.Run("baseline=bcrypt", func(b *testing.B) {
		for b.Loop() {
			if err := bcrypt.CompareHashAndPassword(hash, []byte(goodPW)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("login", func(b *testing.B) {
		e := MustEnv(b, func(c *localauth.Config) {
			c.Hasher = localauth.BcryptHasher{Cost: benchCost}
			c.Logger = discardLogger()
		})
		e.MustRegister(b, "alice", goodPW)
		for b.Loop() {
			if _, err := e.Svc.Login(ctx, "alice", goodPW); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("login-unknown-user", func(b *testing.B) {
		e := MustEnv(b, func(c *localauth.Config) {
			c.Hasher = localauth.BcryptHasher{Cost: benchCost}
			c.Logger = discardLogger()
			c.Throttle.Disabled = true
		})
		for b.Loop() {
			if _, err := e.Svc.Login(ctx, "nobody", goodPW); !errors.Is(err, localauth.ErrInvalidCredentials) {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAuthenticate(b *testing.B) {
	b.Run("baseline=sha256", func(b *testing.B) {
		tok := []byte("0123456789012345678901234567890123456789012")
		for b.Loop() {
			_ = sha256.Sum256(tok)
		}
	})
	for _, cached := range []bool{true, false} {
		b.Run(fmt.Sprintf("cached=%v", cached), func(b *testing.B) {
			e := MustEnv(b, func(c *localauth.Config) {
				c.Logger = discardLogger()
				if !cached {
					c.CacheSize = -1
				}
			})
			e.MustRegister(b, "alice", goodPW)
			r := e.MustLogin(b, "alice", goodPW)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := e.Svc.Authenticate(ctx, r.Token); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkToken(b *testing.B) {
	e := MustEnv(b)
	for b.Loop() {
		if _, err := localauth.NewToken(e.Svc); err != nil {
			b.Fatal(err)
		}
	}
}
