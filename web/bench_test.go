package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/sqlitestore"
	"github.com/localauth/localauth/web"
)

// headerSink is a ResponseWriter that keeps the headers and drops the body.
type headerSink struct{ h http.Header }

func (s *headerSink) Header() http.Header         { return s.h }
func (s *headerSink) Write(b []byte) (int, error) { return len(b), nil }
func (s *headerSink) WriteHeader(int)             {}

// BenchmarkMe is GET /api/auth/me behind SecurityHeaders with a session
// cookie, beside a bare handler that sets the same headers and writes a
// body of the same length: what the API adds to a request, without the
// network (localauth bench measures it with one).
func BenchmarkMe(b *testing.B) {
	ctx := localauth.WithClientIP(context.Background(), "192.0.2.1")
	st, err := sqlitestore.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc, err := localauth.New(st, localauth.Config{Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	if _, err := svc.Register(ctx, "bench", "correct horse battery staple"); err != nil {
		b.Fatal(err)
	}
	res, err := svc.Login(ctx, "bench", "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	wa, err := web.New(web.Config{Service: svc})
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://localhost/api/auth/me", nil)
	req.Header.Set("Cookie", web.CookieName+"="+string(res.Token))
	req.RemoteAddr = "127.0.0.1:1234"
	body := make([]byte, 100)
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"me", web.SecurityHeaders(wa.API())},
		{"bare", web.SecurityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = []string{"application/json; charset=utf-8"}
			w.Write(body)
		}))},
	} {
		b.Run(c.name, func(b *testing.B) {
			w := &headerSink{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				c.h.ServeHTTP(w, req)
			}
		})
	}
}
