package pgstore_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/testkit"
	"github.com/localauth/localauth/pgstore"
	"github.com/localauth/localauth/storetest"
)

// throughPgBouncer starts PgBouncer in transaction mode with a pool of
// five in front of LOCALAUTH_TEST_POSTGRES's database and returns that
// database's URL through it.
func throughPgBouncer(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("LOCALAUTH_TEST_POSTGRES")
	if dsn == "" {
		tb.Skip("PostgreSQL test: set LOCALAUTH_TEST_POSTGRES (e.g. postgres://postgres@127.0.0.1:5432/test) to run it")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	return testkit.PgBouncer(tb, u, 5).String()
}

// The conformance suite with the pool through PgBouncer in transaction
// mode (five server connections for every store of the suite) and the
// listener direct: no statement depends on a session.
func TestConformanceThroughPgBouncer(t *testing.T) {
	pooled := throughPgBouncer(t)
	storetest.Run(t, func(t *testing.T) localauth.Store { return mustOpenThrough(t, pooled) })
}

// Without a direct URL for listening, behind a pooler in transaction mode,
// Open fails at once and says what to set, instead of starting an instance
// deaf to revocations.
func TestListenThroughTransactionPoolerRefused(t *testing.T) {
	pooled := throughPgBouncer(t)
	db := testkit.FreshDatabase(t)
	u, _ := url.Parse(pooled)
	u.Path = db.Path
	_, err := pgstore.Open(context.Background(), u.String(), pgstore.Options{QueryTimeout: time.Second})
	if !errors.Is(err, pgstore.ErrNoSession) || !strings.Contains(err.Error(), "--listen-db") || !strings.Contains(err.Error(), "ListenDSN") {
		t.Fatalf("Open through a transaction pooler without ListenDSN: %v, want ErrNoSession naming ListenDSN and --listen-db", err)
	}
	// A session URL on another database than the pool's is refused too:
	// NOTIFY does not cross databases.
	_, err = pgstore.Open(context.Background(), u.String(), pgstore.Options{QueryTimeout: time.Second, ListenDSN: os.Getenv("LOCALAUTH_TEST_POSTGRES")})
	if !errors.Is(err, pgstore.ErrNoSession) {
		t.Fatalf("a listening URL on another database: %v, want ErrNoSession", err)
	}
}

// Four instances start at once on a fresh database, their pools through
// PgBouncer and their sessions direct: the schema is migrated once, and a
// logout on one ends the session on the three others.
func TestInstancesBehindPgBouncer(t *testing.T) {
	pooled := throughPgBouncer(t)
	db := testkit.FreshDatabase(t)
	u, _ := url.Parse(pooled)
	u.Path = db.Path
	ctx := context.Background()
	stores := make([]*pgstore.Store, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			stores[i], errs[i] = pgstore.Open(ctx, u.String(), pgstore.Options{ListenDSN: db.String(), MaxConns: 4})
		})
	}
	wg.Wait()
	svcs := make([]*localauth.Service, 4)
	for i, st := range stores {
		if errs[i] != nil {
			t.Fatalf("instance %d: %v", i, errs[i])
		}
		defer st.Close()
		svcs[i] = newService(t, st)
	}
	conn, err := pgx.Connect(ctx, db.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var applied, distinct int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT version_id) FROM localauth.localauth_migrations WHERE is_applied`).Scan(&applied, &distinct); err != nil {
		t.Fatal(err)
	}
	if _, latest, _ := stores[0].SchemaVersion(ctx); applied != distinct || int64(distinct) != latest+1 {
		t.Fatalf("migration history: %d rows for %d versions, want each of 0..%d once", applied, distinct, latest)
	}
	if _, err := svcs[0].Register(ctx, "alice", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		res, err := svcs[i%4].Login(ctx, "alice", "correct horse battery staple")
		if err != nil {
			t.Fatal(err)
		}
		for _, svc := range svcs {
			if _, err := svc.Authenticate(ctx, res.Token); err != nil {
				t.Fatalf("a session from instance %d: %v", i%4, err)
			}
		}
		if err := svcs[(i+1)%4].Logout(ctx, res.Token); err != nil {
			t.Fatal(err)
		}
		for _, svc := range svcs {
			waitRefused(t, svc, res.Token, "a session logged out on another instance")
		}
	}
}
