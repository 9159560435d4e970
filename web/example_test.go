package web_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/sqlitestore"
	"github.com/localauth/localauth/web"
)

// A login form, a guarded page and the JSON API under one mux. A browser
// that asks for the page is sent to the form, and back after logging in.
func Example() {
	ctx := localauth.WithClientIP(context.Background(), "203.0.113.7") // a handler passes wa.Context(r)
	dir, _ := os.MkdirTemp("", "web-example")
	defer os.RemoveAll(dir)
	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "auth.db"), sqlitestore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	svc, err := localauth.New(store, localauth.Config{
		Hasher: localauth.BcryptHasher{Cost: localauth.MinBcryptCost}, // the default, 12, in production
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()
	svc.Register(ctx, "alice", "correct horse battery staple")

	wa, err := web.New(web.Config{Service: svc})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(web.APIPrefix, wa.API())
	mux.Handle("/login", wa.LoginHandler(func(w http.ResponseWriter, r *http.Request, f web.LoginForm) {
		fmt.Fprintf(w, "<form method=post>%s</form>", f.Error) // a template, in a real app
	}))
	mux.Handle("/orders", wa.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := web.CurrentUser(r.Context())
		fmt.Fprintf(w, "orders of %s", u.Username)
	})))
	srv := httptest.NewServer(web.SecurityHeaders(mux))
	defer srv.Close()

	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, _ := c.Get(srv.URL + "/orders")
	fmt.Println(res.StatusCode, res.Header.Get("Location"))
	res, _ = c.PostForm(srv.URL+"/login", url.Values{
		"username": {"alice"}, "password": {"correct horse battery staple"}, "next": {"/orders"},
	})
	fmt.Println(res.StatusCode, res.Header.Get("Location"), len(res.Cookies()) > 0)
	// Output:
	// 303 /login?next=%2Forders
	// 303 /orders true
}

// Programs get 401 JSON from RequireAuth, never a redirect to a page.
func ExampleAuth_RequireAuth() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "web-example")
	defer os.RemoveAll(dir)
	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "auth.db"), sqlitestore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	svc, err := localauth.New(store, localauth.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()
	wa, _ := web.New(web.Config{Service: svc})
	h := wa.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/orders", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 401 {"error":"unauthenticated","message":"You are not logged in, or your session has ended."}
}
