package pgstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/pgstore"
	"github.com/localauth/localauth/storetest"
)

// MustOpen opens a store in a fresh schema of the database named by
// LOCALAUTH_TEST_POSTGRES, dropped when the test ends. Without the variable
// the test skips with a message; CI sets it.
func MustOpen(tb testing.TB) *pgstore.Store {
	tb.Helper()
	return mustOpenThrough(tb, "")
}

// mustOpenThrough is MustOpen with the pool on pooled (a URL through a
// pooler in transaction mode) and the session connection direct; pooled ""
// is direct.
func mustOpenThrough(tb testing.TB, pooled string) *pgstore.Store {
	tb.Helper()
	dsn := os.Getenv("LOCALAUTH_TEST_POSTGRES")
	if dsn == "" {
		tb.Skip("PostgreSQL test: set LOCALAUTH_TEST_POSTGRES (e.g. postgres://postgres@127.0.0.1:5432/test) to run it")
	}
	opts := pgstore.Options{}
	if pooled != "" {
		opts.ListenDSN, dsn = dsn, pooled
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv("LOCALAUTH_TEST_POSTGRES"))
	if err != nil {
		tb.Fatalf("connecting to LOCALAUTH_TEST_POSTGRES: %v", err)
	}
	schema := fmt.Sprintf("localauth_test_%x", rand.Text()[:10])
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatal(err)
	}
	opts.Schema = schema
	s, err := pgstore.Open(ctx, dsn, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		s.Close()
		conn.Exec(context.Background(), `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
		conn.Close(context.Background())
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) localauth.Store { return MustOpen(t) })
}

// Two services on one database behave as one: a login on A works on B, and
// a logout on A ends the session on B, cache and all, within a second.
func TestTwoInstances(t *testing.T) {
	a := MustOpen(t)
	// B shares A's schema through a second pool, as another instance would.
	b, err := pgstore.Open(context.Background(), os.Getenv("LOCALAUTH_TEST_POSTGRES"), pgstore.Options{Schema: a.SchemaName()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	newSvc := func(st localauth.Store) *localauth.Service {
		s, err := localauth.New(st, localauth.Config{Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, NoClientAddress: true, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	svcA, svcB := newSvc(a), newSvc(b)
	ctx := context.Background()
	if _, err := svcA.Register(ctx, "alice", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	var delays []time.Duration
	for range 20 {
		res, err := svcA.Login(ctx, "alice", "correct horse battery staple")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svcB.Authenticate(ctx, res.Token); err != nil {
			t.Fatalf("a session from A on B: %v", err)
		}
		start := time.Now()
		if err := svcA.Logout(ctx, res.Token); err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := svcB.Authenticate(ctx, res.Token); errors.Is(err, localauth.ErrInvalidSession) {
				break
			}
			// Generous for a loaded machine, and under the 30 s after
			// which the cache re-reads the store anyway.
			if time.Since(start) > 10*time.Second {
				t.Fatal("B still accepts the session 10s after a logout on A")
			}
			time.Sleep(time.Millisecond)
		}
		delays = append(delays, time.Since(start))
	}
	slices.Sort(delays)
	t.Logf("revocation delay A→B over %d logouts: p50 %v, max %v", len(delays), delays[len(delays)/2], delays[len(delays)-1])
}

// Two instances count failed logins together, through the database (the
// counters' atomicity is in the conformance suite).
func TestThrottleSharedByInstances(t *testing.T) {
	s := MustOpen(t)
	ctx := context.Background()
	// The service counts through it: two services throttle together.
	frozen := time.Now()
	svcs := make([]*localauth.Service, 2)
	for i := range svcs {
		// A clock that stands still: the first delay holds however long
		// the logins take.
		svc, err := localauth.New(s, localauth.Config{Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, NoClientAddress: true,
			Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return frozen }})
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		svcs[i] = svc
	}
	for i := range 6 {
		svcs[i%2].Login(ctx, "victim", "guess")
	}
	if _, err := svcs[0].Login(ctx, "victim", "guess"); !errors.Is(err, localauth.ErrRateLimited) {
		t.Fatalf("6 failures spread over two instances did not throttle: %v", err)
	}
}

// An exhausted pool fails within the query timeout; it never hangs.
func TestExhaustedPoolFailsFast(t *testing.T) {
	base := MustOpen(t)
	s, err := pgstore.Open(context.Background(), os.Getenv("LOCALAUTH_TEST_POSTGRES"),
		pgstore.Options{Schema: base.SchemaName(), MaxConns: 1, QueryTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	held, err := pgstore.PoolOf(s).Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.UserByID(context.Background(), 1)
	took := time.Since(start)
	held.Release()
	if err == nil || errors.Is(err, localauth.ErrUserNotFound) {
		t.Fatalf("a query on an exhausted pool: %v, want a timeout", err)
	}
	if took > 10*time.Second {
		t.Fatalf("the query waited %v on an exhausted pool, want about 300ms", took)
	}
	if _, err := s.UserByID(context.Background(), 1); !errors.Is(err, localauth.ErrUserNotFound) {
		t.Fatalf("after the pool freed up: %v", err)
	}
}

// Authenticate on PostgreSQL, cached and uncached, beside the SHA-256 it
// cannot avoid:
//
//	LOCALAUTH_TEST_POSTGRES=... go test -run '^$' -bench . ./pgstore
func BenchmarkAuthenticate(b *testing.B) {
	b.Run("baseline=sha256", func(b *testing.B) {
		tok := localauth.Token("0123456789012345678901234567890123456789012")
		for b.Loop() {
			_ = localauth.HashToken(tok)
		}
	})
	for _, cached := range []bool{true, false} {
		b.Run(fmt.Sprintf("cached=%v", cached), func(b *testing.B) {
			s := MustOpen(b)
			cfg := localauth.Config{Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, NoClientAddress: true, Logger: slog.New(slog.DiscardHandler)}
			if !cached {
				cfg.CacheSize = -1
			}
			svc, err := localauth.New(s, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer svc.Close()
			ctx := context.Background()
			if _, err := svc.Register(ctx, "alice", "correct horse battery staple"); err != nil {
				b.Fatal(err)
			}
			res, err := svc.Login(ctx, "alice", "correct horse battery staple")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := svc.Authenticate(ctx, res.Token); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
