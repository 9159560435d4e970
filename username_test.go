package localauth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/localauth/localauth"
)

func TestCanonicalUsername(t *testing.T) {
	accepted := []struct{ in, want string }{
		{"alice", "alice"},
		{"Alice", "alice"},
		{"ALICE", "alice"},
		{"ＡＬＩＣＥ", "alice"}, // full-width
		{"bob.smith_2-x", "bob.smith_2-x"},
		{"Ann+Tag@Example.org", "ann+tag@example.org"},
		{"Ελληνικά", "ελληνικά"},
		{"名前", "名前"},
		{"山田タロウ", "山田タロウ"},       // Han + Katakana, one writing system
		{"tanakaさん", "tanakaさん"}, // Latin + Hiragana
		{"café", "café"},
		{"cafe\u0301", "café"}, // NFC
	}
	for _, tt := range accepted {
		got, err := localauth.CanonicalUsername(tt.in)
		if err != nil {
			t.Errorf("CanonicalUsername(%q): got error %v, want %q", tt.in, err, tt.want)
			continue
		}
		if got != tt.want {
			t.Errorf("CanonicalUsername(%q) = %q, want %q", tt.in, got, tt.want)
		}
		again, err := localauth.CanonicalUsername(got)
		if err != nil || again != got {
			t.Errorf("not idempotent: CanonicalUsername(%q) = %q, %v", got, again, err)
		}
	}
	refused := []struct{ name, in, msg string }{
		{"empty", "", "cannot be empty"},
		{"blank", "   ", "cannot be empty"},
		{"inner space", "al ice", "spaces"},
		{"zero width space", "alice\u200b", "invisible"},
		{"NUL", "ali\x00ce", "control"},
		{"newline", "alice\nadmin", "control"},
		{"Cyrillic a among Latin", "\u0430lice", "alphabets"},
		{"Greek omicron among Latin", "r\u03bfot", "alphabets"},
		{"too long", strings.Repeat("a", localauth.MaxUsernameLength+1), "too long"},
		{"huge", strings.Repeat("a", 1<<20), "too long"},
		{"symbol", "alice☃", "letters, digits"},
		{"markup", "<script>", "letters, digits"},
		{"quote", "o'brien", "letters, digits"},
		{"slash", "a/b", "letters, digits"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := localauth.CanonicalUsername(tt.in)
			var pe *localauth.PolicyError
			if !errors.As(err, &pe) || !errors.Is(err, localauth.ErrInvalidUsername) {
				t.Fatalf("got %v, want a *PolicyError wrapping ErrInvalidUsername", err)
			}
			if pe.Field != localauth.FieldUsername {
				t.Errorf("Field = %q, want %q", pe.Field, localauth.FieldUsername)
			}
			if !strings.Contains(pe.Message, tt.msg) {
				t.Errorf("Message = %q, want it to mention %q", pe.Message, tt.msg)
			}
		})
	}
}

// C31: unique on the canonical form; login under any case or width.
func TestRegisterUniqueOnCanonicalForm(t *testing.T) {
	e := MustEnv(t)
	u := e.MustRegister(t, "Alice", goodPW)
	if u.Username != "alice" || u.DisplayName != "Alice" {
		t.Fatalf("got Username %q DisplayName %q, want alice / Alice", u.Username, u.DisplayName)
	}
	for _, again := range []string{"alice", "ALICE", "ＡＬＩＣＥ"} {
		if _, err := e.Svc.Register(ctx, again, goodPW); !errors.Is(err, localauth.ErrUserExists) {
			t.Errorf("Register(%q) after Alice: got %v, want ErrUserExists", again, err)
		}
	}
	for _, as := range []string{"alice", "ALICE", "ＡＬＩＣＥ"} {
		r := e.MustLogin(t, as, goodPW)
		if r.User.ID != u.ID {
			t.Errorf("Login(%q) logged in user %d, want %d", as, r.User.ID, u.ID)
		}
	}
	users, err := e.Svc.Users(ctx)
	if err != nil || len(users) != 1 {
		t.Fatalf("Users: got %d users, %v; want 1", len(users), err)
	}
}

// C32: a look-alike name in mixed scripts is refused, and nothing is stored.
func TestRegisterRefusesMixedScript(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	_, err := e.Svc.Register(ctx, "\u0430lice", goodPW)
	if !errors.Is(err, localauth.ErrInvalidUsername) {
		t.Fatalf("got %v, want ErrInvalidUsername", err)
	}
	if users, _ := e.Svc.Users(ctx); len(users) != 1 {
		t.Fatalf("got %d users, want 1", len(users))
	}
}
