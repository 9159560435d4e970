package liveauth_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/live"
	"github.com/localauth/localauth/liveauth"
	"github.com/localauth/localauth/sqlitestore"
)

// Mount adds the auth state, its handlers and the login, registration and
// account pages to a live app; RequireLogin guards a page of the app's
// own, which then reads the user on the server.
func ExampleMount() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "liveauth-example")
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

	app := live.New(live.Config{Head: liveauth.StylesheetLink})
	app.Asset(liveauth.StylesheetPath, "text/css; charset=utf-8", liveauth.Stylesheet)
	liveauth.Mount(app, svc, liveauth.Options{})
	app.State("orders", func() any { return &struct{}{} })
	app.Computed("orders.greeting", []string{"auth.authenticated_user"}, func(_ context.Context, t *live.Tab) any {
		if u, ok := liveauth.User(t); ok {
			return "Hello, " + u.DisplayName
		}
		return ""
	})
	app.Page("/orders", "Your orders", liveauth.RequireLogin(`<h1 data-text="orders.greeting"></h1>`))
	fmt.Println(app.Routes())
	// Output:
	// [/account /forgot-password /login /orders /register /reset-password /verify-email]
}
