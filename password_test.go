package localauth_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/localauth/localauth"
)

func wantWeak(t *testing.T, err error, msg string) {
	t.Helper()
	var pe *localauth.PolicyError
	if !errors.As(err, &pe) || !errors.Is(err, localauth.ErrWeakPassword) {
		t.Fatalf("got %v, want a *PolicyError wrapping ErrWeakPassword", err)
	}
	if pe.Field != localauth.FieldPassword {
		t.Errorf("Field = %q, want %q", pe.Field, localauth.FieldPassword)
	}
	if !strings.Contains(pe.Message, msg) {
		t.Errorf("Message = %q, want it to mention %q", pe.Message, msg)
	}
}

func TestPasswordPolicy(t *testing.T) {
	e := MustEnv(t)
	refused := []struct{ name, user, pw, msg string }{
		{"C1 seven code points", "u1", "éééàààü", "at least 8"},
		{"C4 NUL", "u2", "\x00", "control"},
		{"C4 NUL inside", "u3", "abcdefgh\x00ijkl", "control"},
		{"C4 newline", "u4", "abcdefgh\nijkl", "control"},
		{"C4 escape", "u5", "abcdefgh\x1bijkl", "control"},
		{"empty", "u6", "", "cannot be empty"},
		{"C6 password", "u7", "password", "too common"},
		{"C6 12345678", "u8", "12345678", "too common"},
		{"C6 common in capitals", "u9", "PASSWORD1", "too common"},
		{"C6 username", "longusername", "longusername", "same as the username"},
		{"C6 username other case", "Longusername2", "LONGUSERNAME2", "same as the username"},
		{"too long", "u10", strings.Repeat("x", 257), "at most 256"},
		{"1 MB", "u11", strings.Repeat("x", 1<<20), "at most 256"},
		{"invalid UTF-8", "u12", "abcdefgh\xff\xfe", "UTF-8"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := e.Hasher.hashes.Load()
			_, err := e.Svc.Register(ctx, tt.user, tt.pw)
			wantWeak(t, err, tt.msg)
			if e.Hasher.hashes.Load() != before {
				t.Error("a refused password was hashed")
			}
			if _, err := e.Svc.UserByName(ctx, tt.user); !errors.Is(err, localauth.ErrUserNotFound) {
				t.Errorf("user %q stored despite a refused password: %v", tt.user, err)
			}
		})
	}
	accepted := []struct{ name, user, pw string }{
		{"C1 eight é", "a1", strings.Repeat("é", 8)},
		{"C2 64 é (128 bytes)", "a2", strings.Repeat("é", 64)},
		{"C5 passphrase with spaces", "a3", goodPW},
		{"256 code points", "a4", strings.Repeat("ü", 256)},
		{"emoji", "a5", "🔑🔑🔑🔑🔑🔑🔑🔑"},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			e.MustRegister(t, tt.user, tt.pw)
			e.MustLogin(t, tt.user, tt.pw)
		})
	}
}

// C2, C3: bcrypt's 72-byte limit neither truncates nor refuses.
func TestLongPasswordsCountEveryByte(t *testing.T) {
	e := MustEnv(t)
	p := strings.Repeat("a", 36) + strings.Repeat("b", 36) // 72 bytes
	e.MustRegister(t, "long", p)
	for _, wrong := range []string{p + "x", p[:71], p + strings.Repeat("z", 100)} {
		if _, err := e.Svc.Login(ctx, "long", wrong); !errors.Is(err, localauth.ErrInvalidCredentials) {
			t.Errorf("Login with %d bytes against a 72-byte password: got %v, want ErrInvalidCredentials", len(wrong), err)
		}
	}
	e.MustLogin(t, "long", p)

	// Two passwords that share their first 72 bytes are told apart.
	q := strings.Repeat("q", 72)
	e.MustRegister(t, "longer", q+"-first-tail")
	if _, err := e.Svc.Login(ctx, "longer", q+"-other-tail"); !errors.Is(err, localauth.ErrInvalidCredentials) {
		t.Fatalf("a password sharing the first 72 bytes logged in: %v", err)
	}
	// And the stored value is a standard bcrypt hash.
	u, _ := e.Svc.UserByName(ctx, "longer")
	cred, err := e.Store.Credential(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := bcrypt.Cost(cred.Hash); err != nil || c != 4 {
		t.Fatalf("stored hash %q: cost %d, %v", cred.Hash, c, err)
	}
}

// C8: the same normalization when setting and when checking.
func TestPasswordNormalization(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "norm", "caf\u00e9 au lait!")
	e.MustLogin(t, "norm", "cafe\u0301 au lait!")
	// Non-ASCII spaces map to ASCII space (OpaqueString).
	e.MustLogin(t, "norm", "caf\u00e9\u00a0au\u2003lait!")
}

// C7: a login under a higher cost rehashes the stored hash.
func TestRehashOnLogin(t *testing.T) {
	e := MustEnv(t)
	u := e.MustRegister(t, "rehash", goodPW)
	svc5, err := localauth.New(e.Store, localauth.Config{Hasher: localauth.BcryptHasher{Cost: 5}, AllowWeakCost: true, NoClientAddress: true, PurgeInterval: -1, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer svc5.Close()
	if _, err := svc5.Login(ctx, "rehash", goodPW); err != nil {
		t.Fatal(err)
	}
	cred, _ := e.Store.Credential(ctx, u.ID)
	if c, _ := bcrypt.Cost(cred.Hash); c != 5 {
		t.Fatalf("cost after login under cost 5: got %d, want 5", c)
	}
	// The old service, at cost 4, still verifies and does not downgrade.
	e.MustLogin(t, "rehash", goodPW)
	cred2, _ := e.Store.Credential(ctx, u.ID)
	if c, _ := bcrypt.Cost(cred2.Hash); c != 5 {
		t.Fatalf("cost after login under cost 4: got %d, want 5 (no downgrade)", c)
	}
	// Unique salts: the same password hashes differently.
	a, _ := localauth.BcryptHasher{Cost: 4}.Hash(goodPW)
	b, _ := localauth.BcryptHasher{Cost: 4}.Hash(goodPW)
	if string(a) == string(b) {
		t.Fatal("two hashes of one password are equal: salts are not unique")
	}
}

func TestNewRefusesWeakConfiguration(t *testing.T) {
	st := MustEnv(t).Store
	for _, cfg := range []localauth.Config{
		{Hasher: localauth.BcryptHasher{Cost: 9}},
		{Hasher: localauth.BcryptHasher{Cost: 40}, AllowWeakCost: true},
		{Policy: localauth.PasswordPolicy{MinLength: 6}},
		{Policy: localauth.PasswordPolicy{MaxLength: 32}},
		{SessionLifetime: -1},
	} {
		if s, err := localauth.New(st, cfg); err == nil {
			s.Close()
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
	if _, err := localauth.New(nil, localauth.Config{}); err == nil {
		t.Error("New(nil store) succeeded")
	}
}
