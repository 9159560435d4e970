// Command serverside is a complete server-rendered app on localauth: an
// HTML login form, a page only signed-in users see, a JSON route for
// programs, logout, and the JSON API, over an embedded SQLite file.
//
//	go run ./examples/serverside              # http://localhost:8080
//	printf 'correct horse battery staple\n' | go run ./cmd/localauth user create alice --password-stdin --db example.db
package main

import (
	"context"
	"encoding/json"
	"html/template"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/sqlitestore"
	"github.com/localauth/localauth/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	app, err := newApp(ctx, "example.db")
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close()
	srv := &http.Server{Addr: "localhost:8080", Handler: app.Handler}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	log.Print("listening on http://localhost:8080")
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// app is the assembled application.
type app struct {
	Handler http.Handler
	Service *localauth.Service
	close   func()
}

func (a *app) Close() { a.close() }

// newApp opens the database at path and wires the routes.
func newApp(ctx context.Context, path string) (*app, error) {
	store, err := sqlitestore.Open(ctx, path, sqlitestore.Options{})
	if err != nil {
		return nil, err
	}
	svc, err := localauth.New(store, localauth.Config{}) // safe defaults: bcrypt cost 12, throttling on
	if err != nil {
		store.Close()
		return nil, err
	}
	wa, err := web.New(web.Config{Service: svc}) // LoginPath "/login"
	if err != nil {
		svc.Close()
		store.Close()
		return nil, err
	}
	return &app{
		Handler: routes(wa),
		Service: svc,
		close:   func() { svc.Close(); store.Close() },
	}, nil
}

// routes wires the pages and the API on wa, under the security headers.
func routes(wa *web.Auth) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(web.APIPrefix, wa.API()) // /api/auth/login, /me, /logout…
	mux.Handle("/login", wa.LoginHandler(func(w http.ResponseWriter, r *http.Request, f web.LoginForm) {
		loginPage.Execute(w, f)
	}))
	mux.Handle("/logout", wa.LogoutHandler())
	// A page: anonymous browsers go to /login?next=/account and come back.
	mux.Handle("/account", wa.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := web.CurrentUser(r.Context())
		accountPage.Execute(w, user)
	})))
	// A route for programs: 401 JSON without a session, never a redirect.
	mux.Handle("/api/notes", wa.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := web.CurrentUser(r.Context())
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"owner": user.Username, "notes": []string{}})
	})))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
	})
	return web.SecurityHeaders(mux)
}

var funcs = template.FuncMap{"join": strings.Join}

var loginPage = template.Must(template.New("login").Funcs(funcs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Log in</title></head>
<body><main>
<h1>Log in</h1>
{{with .Error}}<p role="alert">{{.}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="next" value="{{.Next}}">
{{if .SecondStep}}
  <input type="hidden" name="mfa_token" value="{{.SecondStep}}">
  <input type="hidden" name="methods" value="{{join .Methods ","}}">
  <label for="code">Code from your authenticator app</label>
  <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required>
  <p><a href="/login?next={{.Next}}">Start over</a> if the code keeps failing.</p>
{{else}}
  <label for="username">Username</label>
  <input id="username" name="username" value="{{.Username}}" autocomplete="username" required>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <label><input type="checkbox" name="remember"> Keep me signed in</label>
{{end}}
<button>Log in</button>
</form>
</main></body></html>
`))

var accountPage = template.Must(template.New("account").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Your account</title></head>
<body><main>
<h1>Hello, {{.DisplayName}}</h1>
<form method="post" action="/logout"><button>Log out</button></form>
</main></body></html>
`))
