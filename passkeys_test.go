package localauth_test

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

// fakePasskeys stands in for the WebAuthn library so that the Service's
// own rules (ceremonies single-use, bound and short-lived; sign counters;
// a passkey login is a whole login) can be driven without a browser. Its
// "browser answers" are JSON naming the challenge, the credential, the user
// handle and the sign count. The real ceremonies run in Chromium
// (cmd/localauth TestBrowserPasskeys).
type fakePasskeys struct {
	mu   sync.Mutex
	last string
}

type fakeAnswer struct {
	Challenge string `json:"c"`
	Cred      string `json:"id"`
	Handle    []byte `json:"h"`
	Count     uint32 `json:"n"`
}

func (f *fakePasskeys) ceremony() (localauth.Ceremony, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last = rand.Text() + rand.Text()[:17]
	return localauth.Ceremony{Options: []byte(`{"publicKey":{}}`), State: []byte("state"), Challenge: f.last}, nil
}

func (f *fakePasskeys) BeginRegistration(localauth.PasskeyUser, []localauth.Passkey) (localauth.Ceremony, error) {
	return f.ceremony()
}

func (f *fakePasskeys) FinishRegistration(_ localauth.PasskeyUser, state, response []byte) (localauth.Passkey, error) {
	var a fakeAnswer
	json.Unmarshal(response, &a)
	if string(state) != "state" {
		return localauth.Passkey{}, errors.New("bad state")
	}
	return localauth.Passkey{CredentialID: []byte(a.Cred), Credential: []byte("{}"), SignCount: a.Count}, nil
}

func (f *fakePasskeys) BeginLogin() (localauth.Ceremony, error) { return f.ceremony() }

func (f *fakePasskeys) Inspect(response []byte) (string, []byte, []byte, error) {
	var a fakeAnswer
	err := json.Unmarshal(response, &a)
	return a.Challenge, []byte(a.Cred), a.Handle, err
}

func (f *fakePasskeys) FinishLogin(_ localauth.PasskeyUser, pks []localauth.Passkey, _, response []byte) (localauth.Passkey, bool, error) {
	var a fakeAnswer
	json.Unmarshal(response, &a)
	for _, p := range pks {
		if string(p.CredentialID) == a.Cred {
			clone := a.Count <= p.SignCount && (a.Count != 0 || p.SignCount != 0)
			p.SignCount = a.Count
			return p, clone, nil
		}
	}
	return localauth.Passkey{}, false, errors.New("not the user's")
}

func (f *fakePasskeys) challenge() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func answer(challenge, cred string, userID int64, count uint32) []byte {
	b, _ := json.Marshal(fakeAnswer{Challenge: challenge, Cred: cred, Handle: binary.BigEndian.AppendUint64(nil, uint64(userID)), Count: count})
	return b
}

func TestPasskeyRules(t *testing.T) {
	fake := &fakePasskeys{}
	e := MustFactorEnv(t, func(c *localauth.Config) { c.Passkeys = fake })
	u := e.MustRegister(t, "pat", goodPW)
	res := e.MustLogin(t, "pat", goodPW)
	other := e.MustLogin(t, "pat", goodPW)

	if _, err := e.Svc.BeginPasskeyRegistration(ctx, res.Token); err != nil {
		t.Fatal(err)
	}
	regChallenge := fake.challenge()
	if _, err := e.Svc.FinishPasskeyRegistration(ctx, other.Token, "x", answer(regChallenge, "cred-1", u.ID, 1)); !errors.Is(err, localauth.ErrInvalidCode) {
		t.Fatalf("finishing another session's registration: %v, want ErrInvalidCode", err)
	}
	if _, err := e.Svc.BeginPasskeyRegistration(ctx, res.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.FinishPasskeyRegistration(ctx, res.Token, strings.Repeat("n", 65), answer(fake.challenge(), "cred-1", u.ID, 1)); !errors.Is(err, localauth.ErrInvalidPasskeyName) {
		t.Fatalf("a 65-byte name: %v, want ErrInvalidPasskeyName", err)
	}
	pk, err := e.Svc.FinishPasskeyRegistration(ctx, res.Token, " Laptop ", answer(fake.challenge(), "cred-1", u.ID, 1))
	if err != nil || pk.Name != "Laptop" {
		t.Fatalf("FinishPasskeyRegistration: %+v %v", pk, err)
	}
	if _, err := e.Svc.Authenticate(ctx, other.Token); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("another session after adding a passkey: %v, want it ended", err)
	}
	// Passkeys alone leave the password login in one step.
	e.MustLogin(t, "pat", goodPW)

	from := localauth.WithClientIP(ctx, "203.0.113.9")
	login := func(count uint32) (localauth.LoginResult, error) {
		t.Helper()
		if _, err := e.Svc.BeginPasskeyLogin(from); err != nil {
			t.Fatal(err)
		}
		return e.Svc.PasskeyLogin(from, answer(fake.challenge(), "cred-1", u.ID, count), localauth.LoginOptions{})
	}
	got, err := login(2)
	if err != nil || got.User.ID != u.ID {
		t.Fatalf("PasskeyLogin: %v", err)
	}
	t.Run("a ceremony is single-use", func(t *testing.T) {
		if _, err := e.Svc.PasskeyLogin(from, answer(fake.challenge(), "cred-1", u.ID, 3), localauth.LoginOptions{}); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("got %v, want ErrInvalidCode", err)
		}
	})
	t.Run("bound to the client that began it", func(t *testing.T) {
		e.Svc.BeginPasskeyLogin(from)
		elsewhere := localauth.WithClientIP(ctx, "198.51.100.1")
		if _, err := e.Svc.PasskeyLogin(elsewhere, answer(fake.challenge(), "cred-1", u.ID, 4), localauth.LoginOptions{}); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("got %v, want ErrInvalidCode", err)
		}
	})
	t.Run("expires", func(t *testing.T) {
		e.Svc.BeginPasskeyLogin(from)
		e.Clock.Advance(localauth.CeremonyLifetime)
		if _, err := e.Svc.PasskeyLogin(from, answer(fake.challenge(), "cred-1", u.ID, 5), localauth.LoginOptions{}); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("got %v, want ErrInvalidCode", err)
		}
	})
	t.Run("a user handle that is not the passkey's", func(t *testing.T) {
		e.Svc.BeginPasskeyLogin(from)
		if _, err := e.Svc.PasskeyLogin(from, answer(fake.challenge(), "cred-1", u.ID+1, 6), localauth.LoginOptions{}); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("got %v, want ErrInvalidCode", err)
		}
	})
	t.Run("a sign count that does not grow is a possible clone", func(t *testing.T) {
		if _, err := login(2); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("got %v, want ErrInvalidCode", err)
		}
		if !strings.Contains(e.Log.String(), `"outcome":"passkey_clone_warning"`) {
			t.Fatal("no clone warning in the audit log")
		}
		if _, err := login(9); err != nil {
			t.Fatalf("the next count: %v", err)
		}
	})
	t.Run("removal needs a recent login and the user's own id", func(t *testing.T) {
		if err := e.Svc.RemovePasskey(ctx, got.Token, "AAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, localauth.ErrFactorNotFound) {
			t.Fatalf("an unknown id: %v, want ErrFactorNotFound", err)
		}
		e.Clock.Advance(11 * time.Minute)
		if err := e.Svc.RemovePasskey(ctx, got.Token, pk.ID); !errors.Is(err, localauth.ErrReauthRequired) {
			t.Fatalf("without a recent login: %v, want ErrReauthRequired", err)
		}
		if st, _ := e.Svc.Factors(ctx, got.Token); len(st.Passkeys) != 1 || st.Passkeys[0].LastUsedAt == nil {
			t.Fatalf("factors: %+v, want the passkey with its last use", st)
		}
	})
	t.Run("the second step after a password", func(t *testing.T) {
		e.MustEnableTOTP(t, "pat")
		sf := e.secondStep(t, "pat")
		if strings.Join(sf.Methods, ",") != "totp,recovery,passkey" {
			t.Fatalf("methods %q", sf.Methods)
		}
		e.Svc.BeginPasskeyLogin(ctx)
		if _, err := e.Svc.CompleteLogin(ctx, sf.Token, localauth.SecondFactor{Passkey: answer(fake.challenge(), "cred-1", u.ID, 20)}); err != nil {
			t.Fatalf("CompleteLogin with a passkey: %v", err)
		}
	})
}

// Anyone may begin a passkey login, and each ceremony is stored until it
// expires: beginnings are charged to the address like successful logins.
func TestPasskeyLoginBeginningsLimited(t *testing.T) {
	e := MustFactorEnv(t, func(c *localauth.Config) {
		c.Passkeys = &fakePasskeys{}
		c.Throttle.ClientLoginBurst, c.Throttle.ClientLoginsPerMinute = 3, 1
	})
	from := localauth.WithClientIP(ctx, "203.0.113.50")
	for i := range 3 {
		if _, err := e.Svc.BeginPasskeyLogin(from); err != nil {
			t.Fatalf("beginning %d: %v", i+1, err)
		}
	}
	var rl *localauth.RateLimitError
	if _, err := e.Svc.BeginPasskeyLogin(from); !errors.As(err, &rl) {
		t.Fatalf("the fourth beginning: %v, want a *RateLimitError", err)
	}
	if _, err := e.Svc.BeginPasskeyLogin(localauth.WithClientIP(ctx, "198.51.100.50")); err != nil {
		t.Fatalf("another address: %v", err)
	}
	e.Clock.Advance(time.Minute)
	if _, err := e.Svc.BeginPasskeyLogin(from); err != nil {
		t.Fatalf("a minute later: %v", err)
	}
}
