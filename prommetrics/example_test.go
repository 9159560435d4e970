package prommetrics_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/prommetrics"
	"github.com/localauth/localauth/sqlitestore"
)

// An app with a registry of its own hands localauth the Prometheus
// metrics through Config.Metrics; it serves the registry wherever it
// serves its metrics (promhttp.HandlerFor).
func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	ctx := localauth.WithClientIP(context.Background(), "203.0.113.7") // in a handler: web.Auth.Context(r)
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "auth.db"), sqlitestore.Options{})
	if err != nil {
		panic(err)
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	m, err := prommetrics.New(reg, "v1.0.0")
	if err != nil {
		panic(err)
	}
	svc, err := localauth.New(st, localauth.Config{
		Metrics:       m,
		Hasher:        localauth.BcryptHasher{Cost: 4},
		AllowWeakCost: true, // for a fast example; never in production
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer svc.Close()
	svc.Register(ctx, "alice", "correct horse battery staple")
	svc.Login(ctx, "alice", "correct horse battery staple")
	svc.Login(ctx, "alice", "not the password")

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "localauth_logins_total" {
			for _, s := range mf.GetMetric() {
				if v := s.GetCounter().GetValue(); v > 0 {
					fmt.Println(s.GetLabel()[0].GetValue(), v)
				}
			}
		}
	}
	// Output:
	// bad_credentials 1
	// success 1
}
