package web_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/sqlitestore"
	"github.com/localauth/localauth/web"
)

// The JSON API's request decoding, fuzzed: whatever the body, the answer is
// a JSON error or success from the documented set, never a 500.
func FuzzAPIRequest(f *testing.F) {
	for _, s := range []string{
		`{"username":"alice","password":"correct horse battery staple"}`, `{"username":"a"}`, `{}`, `[]`, `null`, `{"username":1}`,
		`{"username":"a","password":"b","extra":true}`, `{"username":"a","password":"b"}{}`, "{\"username\":\"\xff\"}", `{"code":"x"}`,
		`{"current_password":"a","new_password":"b"}`,
	} {
		f.Add(byte(0), s)
		f.Add(byte(1), s)
	}
	st, err := sqlitestore.Open(context.Background(), filepath.Join(f.TempDir(), "fuzz.db"), sqlitestore.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	svc, err := localauth.New(st, localauth.Config{Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true,
		Logger: slog.New(slog.DiscardHandler), Throttle: localauth.ThrottleConfig{Disabled: true}})
	if err != nil {
		f.Fatal(err)
	}
	defer svc.Close()
	a, _ := web.New(web.Config{Service: svc, Logger: slog.New(slog.DiscardHandler)})
	api := a.API()
	paths := []string{"login", "register", "token", "session", "password", "logout"}
	allowed := map[int]bool{200: true, 201: true, 204: true, 400: true, 401: true, 403: true, 409: true, 413: true, 415: true, 429: true, 503: true}
	f.Fuzz(func(t *testing.T, which byte, body string) {
		path := web.APIPrefix + paths[int(which)%len(paths)]
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		if !allowed[w.Code] {
			t.Fatalf("POST %s %q: status %d", path, body, w.Code)
		}
		if w.Code >= 400 {
			var e struct{ Error, Message string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" || e.Message == "" {
				t.Fatalf("POST %s %q: %d with body %q", path, body, w.Code, w.Body.String())
			}
		}
	})
}
