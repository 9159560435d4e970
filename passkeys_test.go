package localauth_test

import (
	"bytes"
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
	mu     sync.Mutex
	last   string
	handle []byte // the user handle of the last registration
}

// userHandle returns the user handle the last registration was given.
func (f *fakePasskeys) userHandle() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.handle
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

func (f *fakePasskeys) BeginRegistration(u localauth.PasskeyUser, _ []localauth.Passkey) (localauth.Ceremony, error) {
	f.mu.Lock()
	f.handle = u.Handle
	f.mu.Unlock()
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

func answer(challenge, cred string, handle []byte, count uint32) []byte {
	b, _ := json.Marshal(fakeAnswer{Challenge: challenge, Cred: cred, Handle: handle, Count: count})
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
	h := fake.userHandle()
	// The user handle is random, not the user's sequential id.
	if len(h) < 32 || bytes.Contains(h, binary.BigEndian.AppendUint64(nil, uint64(u.ID))) {
		t.Fatalf("user handle %x: want at least 32 random bytes, not the user id", h)
	}
	if _, err := e.Svc.FinishPasskeyRegistration(ctx, other.Token, "x", answer(regChallenge, "cred-1", h, 1)); !errors.Is(err, localauth.ErrInvalidCode) {
		t.Fatalf("finishing another session's registration: %v, want ErrInvalidCode", err)
	}
	if _, err := e.Svc.BeginPasskeyRegistration(ctx, res.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.FinishPasskeyRegistration(ctx, res.Token, strings.Repeat("n", 65), answer(fake.challenge(), "cred-1", h, 1)); !errors.Is(err, localauth.ErrInvalidPasskeyName) {
		t.Fatalf("a 65-byte name: %v, want ErrInvalidPasskeyName", err)
	}
	pk, err := e.Svc.FinishPasskeyRegistration(ctx, res.Token, " Laptop ", answer(fake.challenge(), "cred-1", h, 1))
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
		return e.Svc.PasskeyLogin(from, answer(fake.challenge(), "cred-1", h, count), localauth.LoginOptions{})
	}
	got, err := login(2)
	if err != nil || got.User.ID != u.ID {
		t.Fatalf("PasskeyLogin: %v", err)
	}
	t.Run("a ceremony is single-use", func(t *testing.T) {
		if _, err := e.Svc.PasskeyLogin(from, answer(fake.challenge(), "cred-1", h, 3), localauth.LoginOptions{}); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("got %v, want ErrInvalidCode", err)
		}
	})
	t.Run("bound to the client that began it", func(t *testing.T) {
		e.Svc.BeginPasskeyLogin(from)
		elsewhere := localauth.WithClientIP(ctx, "198.51.100.1")
		if _, err := e.Svc.PasskeyLogin(elsewhere, answer(fake.challenge(), "cred-1", h, 4), localauth.LoginOptions{}); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("got %v, want ErrInvalidCode", err)
		}
	})
	t.Run("expires", func(t *testing.T) {
		e.Svc.BeginPasskeyLogin(from)
		e.Clock.Advance(localauth.CeremonyLifetime)
		if _, err := e.Svc.PasskeyLogin(from, answer(fake.challenge(), "cred-1", h, 5), localauth.LoginOptions{}); !errors.Is(err, localauth.ErrInvalidCode) {
			t.Fatalf("got %v, want ErrInvalidCode", err)
		}
	})
	t.Run("a user handle that is not the passkey's", func(t *testing.T) {
		e.Svc.BeginPasskeyLogin(from)
		if _, err := e.Svc.PasskeyLogin(from, answer(fake.challenge(), "cred-1", binary.BigEndian.AppendUint64(nil, uint64(u.ID)), 6), localauth.LoginOptions{}); !errors.Is(err, localauth.ErrInvalidCode) {
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
		// Suspended: a clone that skips ahead is refused too, as is the
		// genuine authenticator, until the owner confirms the passkey.
		for _, n := range []uint32{100, 0, 2} {
			if _, err := login(n); !errors.Is(err, localauth.ErrInvalidCode) {
				t.Fatalf("count %d after a clone warning: %v, want ErrInvalidCode", n, err)
			}
		}
		if !strings.Contains(e.Log.String(), `"outcome":"passkey_suspended_refused"`) {
			t.Fatal("no audit record of the refusals")
		}
		if st, _ := e.Svc.Factors(ctx, got.Token); len(st.Passkeys) != 1 || !st.Passkeys[0].Suspended {
			t.Fatalf("factors: %+v, want the passkey shown suspended", st)
		}
		if err := e.Svc.ConfirmPasskey(ctx, got.Token, "AAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, localauth.ErrFactorNotFound) {
			t.Fatalf("confirming an unknown id: %v, want ErrFactorNotFound", err)
		}
		if err := e.Svc.ConfirmPasskey(ctx, got.Token, pk.ID); err != nil {
			t.Fatalf("ConfirmPasskey: %v", err)
		}
		if !strings.Contains(e.Log.String(), `"outcome":"passkey_confirmed"`) {
			t.Fatal("no audit record of the confirmation")
		}
		if err := e.Svc.ConfirmPasskey(ctx, got.Token, pk.ID); !errors.Is(err, localauth.ErrFactorNotFound) {
			t.Fatalf("confirming a passkey in use: %v, want ErrFactorNotFound", err)
		}
		if _, err := login(101); err != nil {
			t.Fatalf("after the owner confirmed it: %v", err)
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
		if _, err := e.Svc.CompleteLogin(ctx, sf.Token, localauth.SecondFactor{Passkey: answer(fake.challenge(), "cred-1", h, 200)}); err != nil {
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

// A passkey added before user handles were random holds the user id as its
// handle (the migration records it): it keeps logging in with that handle,
// and with no other.
func TestPasskeyWithOldHandleKeepsWorking(t *testing.T) {
	fake := &fakePasskeys{}
	e := MustFactorEnv(t, func(c *localauth.Config) { c.Passkeys = fake })
	e.MustRegister(t, "ann", goodPW)
	u := e.MustRegister(t, "olga", goodPW)
	old := binary.BigEndian.AppendUint64(nil, uint64(u.ID))
	if _, err := e.Store.AddPasskey(ctx, localauth.Passkey{ID: "passkey-public-old1", UserID: u.ID, CredentialID: []byte("old-cred"),
		Name: "Old", Credential: []byte("{}"), SignCount: 1, CreatedAt: e.Clock.Now(), UserHandle: old}, nil); err != nil {
		t.Fatal(err)
	}
	from := localauth.WithClientIP(ctx, "203.0.113.9")
	login := func(handle []byte, count uint32) error {
		t.Helper()
		if _, err := e.Svc.BeginPasskeyLogin(from); err != nil {
			t.Fatal(err)
		}
		_, err := e.Svc.PasskeyLogin(from, answer(fake.challenge(), "old-cred", handle, count), localauth.LoginOptions{})
		return err
	}
	if err := login(bytes.Repeat([]byte{1}, 32), 2); !errors.Is(err, localauth.ErrInvalidCode) {
		t.Fatalf("another handle: %v, want ErrInvalidCode", err)
	}
	if err := login(old, 3); err != nil {
		t.Fatalf("the passkey's own old handle: %v", err)
	}
}
