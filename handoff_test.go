package localauth_test

import (
	"database/sql"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

func TestHandoff(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	r := e.MustLogin(t, "alice", goodPW)
	code, err := e.Svc.IssueHandoff(ctx, r.Token)
	if err != nil {
		t.Fatal(err)
	}
	if code == string(r.Token) || len(code) != localauth.TokenLength {
		t.Fatalf("code %q: must be a fresh 43-character secret", code)
	}
	// Nothing in the database holds the token or the code.
	db, _ := sql.Open("sqlite", e.Path)
	defer db.Close()
	var sealed []byte
	if err := db.QueryRow(`SELECT sealed FROM handoffs`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), string(r.Token)) || strings.Contains(string(sealed), code) {
		t.Fatal("the handoff row holds the token or the code in the clear")
	}
	// Redeemed once, by one of many concurrent tries.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			tok, sess, err := e.Svc.RedeemHandoff(ctx, code)
			switch {
			case err == nil:
				wins.Add(1)
				if tok != r.Token || sess.ID != r.Session.ID {
					t.Errorf("redeemed %v for session %d, want the login's", tok == r.Token, sess.ID)
				}
			case !errors.Is(err, localauth.ErrInvalidSession):
				t.Errorf("RedeemHandoff: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d redemptions succeeded, want 1", wins.Load())
	}
	// Expired codes, codes of ended sessions and junk are refused.
	late, _ := e.Svc.IssueHandoff(ctx, r.Token)
	e.Clock.Advance(localauth.HandoffLifetime)
	if _, _, err := e.Svc.RedeemHandoff(ctx, late); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("expired code: %v", err)
	}
	ended, _ := e.Svc.IssueHandoff(ctx, r.Token)
	e.Svc.Logout(ctx, r.Token)
	if _, _, err := e.Svc.RedeemHandoff(ctx, ended); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("code of an ended session: %v", err)
	}
	for _, junk := range []string{"", "x", strings.Repeat("A", 43), string(r.Token)} {
		if _, _, err := e.Svc.RedeemHandoff(ctx, junk); !errors.Is(err, localauth.ErrInvalidSession) {
			t.Fatalf("RedeemHandoff(%q): %v", junk, err)
		}
	}
	_ = time.Second
}
