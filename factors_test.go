package localauth_test

import (
	"crypto/rand"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/testkit"
	"github.com/localauth/localauth/mfa"
)

// MustFactorEnv is an Env whose Service offers TOTP (the real verifier of
// package mfa) with a fresh secret key.
func MustFactorEnv(tb testing.TB, edit ...func(*localauth.Config)) *Env {
	tb.Helper()
	return MustEnv(tb, append([]func(*localauth.Config){func(c *localauth.Config) {
		c.SecretKey = []byte(rand.Text() + rand.Text())
		c.TOTP = mfa.TOTP{}
	}}, edit...)...)
}

// code is the TOTP code of secret at the env's clock.
func (e *Env) code(tb testing.TB, secret string, shift time.Duration) string {
	tb.Helper()
	c, err := totp.GenerateCode(secret, e.Clock.Now().Add(shift))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// wrongCode returns a code the verifier refuses now (see
// testkit.WrongTOTPCode).
func (e *Env) wrongCode(tb testing.TB, secret string) string {
	return testkit.WrongTOTPCode(secret, e.Clock.Now())
}

// MustEnableTOTP turns TOTP on for the user with the password and returns
// the secret and the recovery codes.
func (e *Env) MustEnableTOTP(tb testing.TB, name string) (string, []string) {
	tb.Helper()
	res := e.MustLogin(tb, name, goodPW)
	en, err := e.Svc.EnrollTOTP(ctx, res.Token)
	if err != nil {
		tb.Fatalf("EnrollTOTP: %v", err)
	}
	codes, err := e.Svc.ConfirmTOTP(ctx, res.Token, e.code(tb, en.Secret, 0))
	if err != nil {
		tb.Fatalf("ConfirmTOTP: %v", err)
	}
	return en.Secret, codes
}

// secondStep logs in with the password and returns the second-step error.
func (e *Env) secondStep(tb testing.TB, name string) *localauth.SecondFactorRequiredError {
	tb.Helper()
	_, err := e.Svc.Login(ctx, name, goodPW)
	var sf *localauth.SecondFactorRequiredError
	if !errors.As(err, &sf) {
		tb.Fatalf("Login of an account with TOTP: %v, want a *SecondFactorRequiredError", err)
	}
	return sf
}

func TestTOTPEnrolmentAndLogin(t *testing.T) {
	e := MustFactorEnv(t)
	e.MustRegister(t, "alice", goodPW)
	first := e.MustLogin(t, "alice", goodPW)
	other := e.MustLogin(t, "alice", goodPW)
	en, err := e.Svc.EnrollTOTP(ctx, first.Token)
	if err != nil {
		t.Fatal(err)
	}
	if len(en.QRCode) < 100 || string(en.QRCode[1:4]) != "PNG" || !strings.HasPrefix(en.URL, "otpauth://totp/") || !strings.Contains(en.URL, en.Secret) {
		t.Fatalf("enrolment: QR %d bytes, URL %q; want a PNG and an otpauth URL holding the secret", len(en.QRCode), en.URL)
	}
	// Not active until confirmed: the password alone still logs in.
	e.MustLogin(t, "alice", goodPW)

	t.Run("wrong confirmation code changes nothing", func(t *testing.T) {
		if _, err := e.Svc.ConfirmTOTP(ctx, first.Token, "000000x"); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("got %v, want ErrInvalidCode", err)
		}
		st, _ := e.Svc.Factors(ctx, first.Token)
		if st.TOTP {
			t.Fatal("TOTP on after a wrong code")
		}
	})
	codes, err := e.Svc.ConfirmTOTP(ctx, first.Token, e.code(t, en.Secret, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != localauth.RecoveryCodeCount || len(slices.Compact(slices.Sorted(slices.Values(codes)))) != len(codes) {
		t.Fatalf("recovery codes: got %q, want %d distinct", codes, localauth.RecoveryCodeCount)
	}
	if _, err := e.Svc.Authenticate(ctx, other.Token); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("another session after turning TOTP on: %v, want it ended", err)
	}
	if _, err := e.Svc.Authenticate(ctx, first.Token); err != nil {
		t.Fatalf("the session that turned TOTP on: %v", err)
	}
	st, err := e.Svc.Factors(ctx, first.Token)
	if err != nil || !st.TOTP || st.RecoveryCodesLeft != 10 {
		t.Fatalf("factors: %+v %v, want TOTP on, 10 codes", st, err)
	}
	if _, err := e.Svc.EnrollTOTP(ctx, first.Token); !errors.Is(err, localauth.ErrFactorExists) {
		t.Fatalf("enrolling twice: %v, want ErrFactorExists", err)
	}

	sf := e.secondStep(t, "alice")
	if !slices.Equal(sf.Methods, []string{"totp", "recovery"}) {
		t.Fatalf("methods: got %q, want totp, recovery", sf.Methods)
	}
	t.Run("the code of the confirmation cannot be replayed", func(t *testing.T) {
		if _, err := e.Svc.CompleteLogin(ctx, sf.Token, localauth.SecondFactor{Code: e.code(t, en.Secret, 0)}); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("got %v, want ErrInvalidCode", err)
		}
	})
	e.Clock.Advance(30 * time.Second)
	code := e.code(t, en.Secret, 0)
	res, err := e.Svc.CompleteLogin(ctx, sf.Token, localauth.SecondFactor{Code: code})
	if err != nil {
		t.Fatalf("CompleteLogin with the next code (same token after a wrong try): %v", err)
	}
	if _, err := e.Svc.Authenticate(ctx, res.Token); err != nil {
		t.Fatalf("the session of a second step: %v", err)
	}
	t.Run("a spent token is refused", func(t *testing.T) {
		e.Clock.Advance(30 * time.Second)
		if _, err := e.Svc.CompleteLogin(ctx, sf.Token, localauth.SecondFactor{Code: e.code(t, en.Secret, 0)}); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("got %v, want ErrInvalidCode", err)
		}
	})
	t.Run("an accepted code is refused within its window", func(t *testing.T) {
		sf := e.secondStep(t, "alice")
		e.Clock.Advance(60 * time.Second)
		// The code just accepted is still within one step of drift.
		if _, err := e.Svc.CompleteLogin(ctx, sf.Token, localauth.SecondFactor{Code: e.code(t, en.Secret, -60*time.Second)}); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("got %v, want ErrInvalidCode", err)
		}
	})
	t.Run("one step of drift either way, not two", func(t *testing.T) {
		e.Clock.Advance(5 * time.Minute)
		sf := e.secondStep(t, "alice")
		if _, err := e.Svc.CompleteLogin(ctx, sf.Token, localauth.SecondFactor{Code: e.code(t, en.Secret, -60*time.Second)}); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("a code two steps old: %v, want ErrInvalidCode", err)
		}
		if _, err := e.Svc.CompleteLogin(ctx, sf.Token, localauth.SecondFactor{Code: e.code(t, en.Secret, 30*time.Second)}); err != nil {
			t.Fatalf("a code one step ahead: %v", err)
		}
	})
	t.Run("a recovery code works once", func(t *testing.T) {
		sf := e.secondStep(t, "alice")
		if !slices.Contains(sf.Methods, "recovery") {
			t.Fatalf("methods %q lack recovery", sf.Methods)
		}
		typed := strings.ToUpper(strings.ReplaceAll(codes[0], "-", " "))
		if _, err := e.Svc.CompleteLogin(ctx, sf.Token, localauth.SecondFactor{RecoveryCode: typed}); err != nil {
			t.Fatalf("recovery code as typed %q: %v", typed, err)
		}
		sf = e.secondStep(t, "alice")
		if _, err := e.Svc.CompleteLogin(ctx, sf.Token, localauth.SecondFactor{RecoveryCode: codes[0]}); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("a used recovery code: %v, want ErrInvalidCode", err)
		}
		st, _ := e.Svc.Factors(ctx, first.Token)
		if st.RecoveryCodesLeft != 9 {
			t.Fatalf("recovery codes left: got %d, want 9", st.RecoveryCodesLeft)
		}
	})
	t.Run("secrets never logged", func(t *testing.T) {
		log := e.Log.String()
		for _, s := range append([]string{en.Secret, string(sf.Token), code}, codes...) {
			if testkit.HoldsSecret(log, s) {
				t.Fatalf("the log holds a secret (%d chars)", len(s))
			}
		}
	})
	t.Run("the secret is sealed at rest", func(t *testing.T) {
		db, err := sql.Open("sqlite", e.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var sealed []byte
		if err := db.QueryRow(`SELECT sealed FROM totp`).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(sealed), en.Secret) || len(sealed) < len(en.Secret) {
			t.Fatal("the stored TOTP secret is in the clear")
		}
	})
}

func TestSecondStepToken(t *testing.T) {
	e := MustFactorEnv(t)
	e.MustRegister(t, "bob", goodPW)
	secret, _ := e.MustEnableTOTP(t, "bob")
	fromA := localauth.WithClientIP(ctx, "192.0.2.1")
	login := func() localauth.Token {
		_, err := e.Svc.Login(fromA, "bob", goodPW)
		var sf *localauth.SecondFactorRequiredError
		if !errors.As(err, &sf) {
			t.Fatalf("Login: %v", err)
		}
		return sf.Token
	}
	e.Clock.Advance(time.Minute)
	t.Run("bound to the client that logged in", func(t *testing.T) {
		tok := login()
		fromB := localauth.WithClientIP(ctx, "198.51.100.7")
		if _, err := e.Svc.CompleteLogin(fromB, tok, localauth.SecondFactor{Code: e.code(t, secret, 0)}); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("from another address: %v, want ErrInvalidCode", err)
		}
		withDevice := localauth.WithDeviceToken(fromA, localauth.Token(strings.Repeat("d", localauth.TokenLength)))
		if _, err := e.Svc.CompleteLogin(withDevice, login(), localauth.SecondFactor{Code: e.code(t, secret, 0)}); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("with another device cookie: %v, want ErrInvalidCode", err)
		}
	})
	t.Run("expires", func(t *testing.T) {
		tok := login()
		e.Clock.Advance(localauth.SecondStepLifetime)
		if _, err := e.Svc.CompleteLogin(fromA, tok, localauth.SecondFactor{Code: e.code(t, secret, 0)}); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("after its lifetime: %v, want ErrInvalidCode", err)
		}
	})
	t.Run("spent after five wrong answers", func(t *testing.T) {
		e.Clock.Advance(time.Minute)
		tok := login()
		for range 5 {
			if _, err := e.Svc.CompleteLogin(fromA, tok, localauth.SecondFactor{Code: e.wrongCode(t, secret)}); !errors.Is(err, localauth.ErrInvalidCode) {
				t.Fatalf("a wrong code: %v", err)
			}
		}
		if _, err := e.Svc.CompleteLogin(fromA, tok, localauth.SecondFactor{Code: e.code(t, secret, 0)}); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("the right code after five wrong: %v, want ErrInvalidCode", err)
		}
	})
	t.Run("a password change between the steps wins", func(t *testing.T) {
		e.Clock.Advance(time.Minute)
		tok := login()
		u, _ := e.Svc.UserByName(ctx, "bob")
		if err := e.Svc.SetPassword(ctx, u.ID, "another long passphrase here"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Svc.CompleteLogin(fromA, tok, localauth.SecondFactor{Code: e.code(t, secret, 0)}); !errors.Is(err, localauth.ErrInvalidCredentials) {
			t.Fatalf("got %v, want ErrInvalidCredentials", err)
		}
	})
	t.Run("malformed answers", func(t *testing.T) {
		for _, a := range []localauth.SecondFactor{{}, {Code: "1", RecoveryCode: "2"}} {
			if _, err := e.Svc.CompleteLogin(fromA, "x", a); !errors.Is(err, localauth.ErrInvalidCode) {
				t.Fatalf("%+v: %v, want ErrInvalidCode", a, err)
			}
		}
	})
}

func TestSecondStepGuessesThrottled(t *testing.T) {
	e := MustFactorEnv(t, func(c *localauth.Config) { c.Throttle.AccountFree = 3 })
	e.MustRegister(t, "carol", goodPW)
	secret, _ := e.MustEnableTOTP(t, "carol")
	var tokens []localauth.Token
	for range 10 {
		tokens = append(tokens, e.secondStep(t, "carol").Token)
	}
	var limited error
	for i := 0; i < 10 && limited == nil; i++ {
		_, err := e.Svc.CompleteLogin(ctx, tokens[i], localauth.SecondFactor{Code: e.wrongCode(t, secret)})
		if errors.Is(err, localauth.ErrRateLimited) {
			limited = err
		} else if !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	var rl *localauth.RateLimitError
	if !errors.As(limited, &rl) || rl.RetryAfter <= 0 {
		t.Fatalf("wrong codes never throttled: %v", limited)
	}
	// Counted under the account: a fresh password login does not start the
	// count again, its code is refused as well.
	sf := e.secondStep(t, "carol")
	if _, err := e.Svc.CompleteLogin(ctx, sf.Token, localauth.SecondFactor{Code: e.wrongCode(t, secret)}); !errors.Is(err, localauth.ErrRateLimited) {
		t.Fatalf("a code after a fresh password login: %v, want ErrRateLimited", err)
	}
}

func TestFactorChangesNeedRecentLogin(t *testing.T) {
	e := MustFactorEnv(t)
	e.MustRegister(t, "dan", goodPW)
	secret, codes := e.MustEnableTOTP(t, "dan")
	sf := e.secondStep(t, "dan")
	res, err := e.Svc.CompleteLogin(ctx, sf.Token, localauth.SecondFactor{RecoveryCode: codes[1]})
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(11 * time.Minute)
	if _, err := e.Svc.RegenerateRecoveryCodes(ctx, res.Token); !errors.Is(err, localauth.ErrSecondFactorReauthRequired) {
		t.Fatalf("regenerate without a recent login: %v, want ErrSecondFactorReauthRequired", err)
	}
	if err := e.Svc.DisableTOTP(ctx, res.Token); !errors.Is(err, localauth.ErrReauthRequired) {
		t.Fatalf("disable without a recent login: %v, want ErrReauthRequired", err)
	}
	// The password alone is no longer a recent login on this account.
	if err := e.Svc.Reauth(ctx, res.Token, goodPW); !errors.Is(err, localauth.ErrSecondFactorReauthRequired) {
		t.Fatalf("password-only reauth on a TOTP account: %v, want ErrSecondFactorReauthRequired", err)
	}
	if err := e.Svc.DisableTOTP(ctx, res.Token); !errors.Is(err, localauth.ErrSecondFactorReauthRequired) {
		t.Fatalf("disable after a password-only reauth: %v, want ErrSecondFactorReauthRequired", err)
	}
	if err := e.Svc.ReauthWith(ctx, res.Token, goodPW, localauth.SecondFactor{Code: e.code(t, secret, 0)}); err != nil {
		t.Fatal(err)
	}
	fresh, err := e.Svc.RegenerateRecoveryCodes(ctx, res.Token)
	if err != nil || len(fresh) != 10 {
		t.Fatalf("regenerate: %d codes, %v", len(fresh), err)
	}
	sf = e.secondStep(t, "dan")
	if _, err := e.Svc.CompleteLogin(ctx, sf.Token, localauth.SecondFactor{RecoveryCode: codes[2]}); !errors.Is(err, localauth.ErrInvalidCode) {
		t.Fatalf("an old recovery code after regenerating: %v, want ErrInvalidCode", err)
	}
	if err := e.Svc.DisableTOTP(ctx, res.Token); err != nil {
		t.Fatal(err)
	}
	e.MustLogin(t, "dan", goodPW)
}

func TestResetFactors(t *testing.T) {
	e := MustFactorEnv(t)
	u := e.MustRegister(t, "erin", goodPW)
	e.MustEnableTOTP(t, "erin")
	sf := e.secondStep(t, "erin")
	_ = sf
	if err := e.Svc.ResetFactors(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	sessions, _ := e.Svc.Sessions(ctx, u.ID)
	if len(sessions) != 0 {
		t.Fatalf("sessions after a reset: %d, want 0", len(sessions))
	}
	e.MustLogin(t, "erin", goodPW)
	if err := e.Svc.ResetFactors(ctx, 424242); !errors.Is(err, localauth.ErrUserNotFound) {
		t.Fatalf("reset of a missing user: %v, want ErrUserNotFound", err)
	}
}

func TestFactorsUnavailableWithoutKey(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "fay", goodPW)
	res := e.MustLogin(t, "fay", goodPW)
	if _, err := e.Svc.EnrollTOTP(ctx, res.Token); !errors.Is(err, localauth.ErrFactorUnavailable) {
		t.Fatalf("EnrollTOTP without a secret key: %v, want ErrFactorUnavailable", err)
	}
	if _, err := localauth.New(e.Store, localauth.Config{SecretKey: []byte("short")}); err == nil {
		t.Fatal("New accepted a 5-byte secret key")
	}
}
