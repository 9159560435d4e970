package liveauth_test

import (
	"log/slog"
	"slices"
	"testing"

	"github.com/localauth/localauth/live"
	"github.com/localauth/localauth/liveauth"
)

// Mount refuses, at start-up, configurations that cannot work.
func TestMountRefusesImpossibleOptions(t *testing.T) {
	s := mustSite(t, siteConfig{})
	for _, c := range []struct {
		name string
		opts liveauth.Options
	}{
		{"unknown storage", liveauth.Options{TokenStorage: "indexeddb"}},
		{"cookie without its hooks", liveauth.Options{TokenStorage: liveauth.TokenCookie}},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Mount accepted the options")
				}
			}()
			liveauth.Mount(live.New(live.Config{Logger: slog.New(slog.DiscardHandler)}), s.svc, c.opts)
		})
	}
}

// With NoPages the app keeps its own pages: Mount adds none.
func TestMountNoPages(t *testing.T) {
	s := mustSite(t, siteConfig{})
	app := live.New(live.Config{Logger: slog.New(slog.DiscardHandler)})
	liveauth.Mount(app, s.svc, liveauth.Options{NoPages: true})
	if routes := app.Routes(); len(routes) != 0 {
		t.Fatalf("routes %v, want none", routes)
	}
	full := live.New(live.Config{Logger: slog.New(slog.DiscardHandler)})
	liveauth.Mount(full, s.svc, liveauth.Options{})
	for _, r := range []string{liveauth.LoginRoute, liveauth.RegisterRoute, liveauth.AccountRoute,
		liveauth.ForgotPasswordRoute, liveauth.ResetPasswordRoute, liveauth.VerifyEmailRoute} {
		if !slices.Contains(full.Routes(), r) {
			t.Errorf("the canned pages lack %s: %v", r, full.Routes())
		}
	}
}

// A login is remembered unless "Public or shared computer" is ticked.
func TestLoginOptionsReadTheSharedChoice(t *testing.T) {
	for _, c := range []struct {
		fields   map[string]string
		remember bool
	}{
		{nil, true},
		{map[string]string{"shared": ""}, true},
		{map[string]string{"shared": "yes"}, false},
	} {
		if got := liveauth.LoginOptions(live.Event{Fields: c.fields}).Remember; got != c.remember {
			t.Errorf("fields %v: remember %v, want %v", c.fields, got, c.remember)
		}
	}
}
