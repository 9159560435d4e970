package localauth_test

import (
	"crypto/rand"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/mfa"
)

func TestHandoff(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	r := e.MustLogin(t, "alice", goodPW)
	const browser = "the browser's binding"
	code, err := e.Svc.IssueHandoff(ctx, r.Token, browser)
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
			tok, sess, err := e.Svc.RedeemHandoff(ctx, code, browser)
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
	late, _ := e.Svc.IssueHandoff(ctx, r.Token, browser)
	e.Clock.Advance(localauth.HandoffLifetime)
	if _, _, err := e.Svc.RedeemHandoff(ctx, late, browser); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("expired code: %v", err)
	}
	ended, _ := e.Svc.IssueHandoff(ctx, r.Token, browser)
	e.Svc.Logout(ctx, r.Token)
	if _, _, err := e.Svc.RedeemHandoff(ctx, ended, browser); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("code of an ended session: %v", err)
	}
	for _, junk := range []string{"", "x", strings.Repeat("A", 43), string(r.Token)} {
		if _, _, err := e.Svc.RedeemHandoff(ctx, junk, browser); !errors.Is(err, localauth.ErrInvalidSession) {
			t.Fatalf("RedeemHandoff(%q): %v", junk, err)
		}
	}
	_ = time.Second
}

// The background purge deletes expired handoffs, through the store's
// HandoffStore, and leaves live ones.
func TestPurgeExpiredDeletesHandoffs(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	r := e.MustLogin(t, "alice", goodPW)
	if _, err := e.Svc.IssueHandoff(ctx, r.Token, "binding"); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(localauth.HandoffLifetime)
	live, err := e.Svc.IssueHandoff(ctx, r.Token, "binding")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	db, _ := sql.Open("sqlite", e.Path)
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM handoffs`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("handoffs after the purge: %d (%v), want the live one", n, err)
	}
	if _, _, err := e.Svc.RedeemHandoff(ctx, live, "binding"); err != nil {
		t.Fatalf("the live handoff after the purge: %v", err)
	}
}

// A code is bound to the browser that asked for it: presented with another
// binding, or none, it gives nothing and is spent; a code cannot be issued
// unbound.
func TestHandoffBoundToBrowser(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	r := e.MustLogin(t, "alice", goodPW)
	if _, err := e.Svc.IssueHandoff(ctx, r.Token, ""); err == nil {
		t.Fatal("IssueHandoff without a binding succeeded")
	}
	for _, other := range []string{"", "another browser", "the browser's binding "} {
		code, err := e.Svc.IssueHandoff(ctx, r.Token, "the browser's binding")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.Svc.RedeemHandoff(ctx, code, other); !errors.Is(err, localauth.ErrInvalidSession) {
			t.Fatalf("RedeemHandoff with binding %q: got %v, want ErrInvalidSession", other, err)
		}
		if _, _, err := e.Svc.RedeemHandoff(ctx, code, "the browser's binding"); !errors.Is(err, localauth.ErrInvalidSession) {
			t.Fatalf("the code still worked after a try with binding %q: %v", other, err)
		}
	}
	code, _ := e.Svc.IssueHandoff(ctx, r.Token, "the browser's binding")
	if tok, _, err := e.Svc.RedeemHandoff(ctx, code, "the browser's binding"); err != nil || tok != r.Token {
		t.Fatalf("RedeemHandoff with the right binding: %v", err)
	}
}

// coreStore hides every optional ability of a store: what a store written
// for passwords and sessions alone offers.
type coreStore struct{ localauth.Store }

// A store with the core contract only runs logins and sessions; what needs
// handoffs says so with errors.ErrUnsupported, and second factors are
// unavailable rather than broken.
func TestCoreStoreOnly(t *testing.T) {
	e := MustEnv(t)
	svc, err := localauth.New(coreStore{e.Store}, localauth.Config{
		Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, NoClientAddress: true,
		SecretKey: []byte(rand.Text() + rand.Text()), TOTP: mfa.TOTP{},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	if _, err := svc.Register(ctx, "alice", goodPW); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Login(ctx, "alice", goodPW)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, res.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.IssueHandoff(ctx, res.Token, "binding"); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("IssueHandoff without a HandoffStore: %v, want errors.ErrUnsupported", err)
	}
	if _, _, err := svc.RedeemHandoff(ctx, strings.Repeat("A", 43), "binding"); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("RedeemHandoff without a HandoffStore: %v, want errors.ErrUnsupported", err)
	}
	if svc.TOTPAvailable() {
		t.Fatal("TOTP offered without a store for its second step")
	}
	if _, err := svc.EnrollTOTP(ctx, res.Token); !errors.Is(err, localauth.ErrFactorUnavailable) {
		t.Fatalf("EnrollTOTP: %v, want ErrFactorUnavailable", err)
	}
	if err := svc.Logout(ctx, res.Token); err != nil {
		t.Fatal(err)
	}
}
