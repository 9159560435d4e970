package localauth_test

import (
	"errors"
	"testing"

	"github.com/localauth/localauth"
)

// Look-alikes of registered names are refused, with a message that says
// why, before any password work, and nothing is stored; combining marks
// that do not form one letter are refused outright.
func TestRegisterRefusesLookAlikes(t *testing.T) {
	for _, tt := range []struct {
		original, lookAlike string
		want                error
	}{
		{"ace", "асе", localauth.ErrUsernameConfusable},              // whole-script Cyrillic
		{"paypal", "раураӏ", localauth.ErrUsernameConfusable},        // Cyrillic with a palochka for l
		{"alice", "ali\u0069\u0307ce", localauth.ErrInvalidUsername}, // i + COMBINING DOT ABOVE
		{"alice", "alic\u1eb9", localauth.ErrUsernameConfusable},     // ẹ, one letter under NFC
		{"alice", "alice\u0332", localauth.ErrInvalidUsername},       // e + COMBINING LOW LINE
		{"bob", "bòb", localauth.ErrUsernameConfusable},              // a precomposed accent
		{"bob", "BÒB", localauth.ErrUsernameConfusable},              // whatever the case
		{"asé", "ase", localauth.ErrUsernameConfusable},              // the other way round
		{"modern", "rnodern", localauth.ErrUsernameConfusable},       // rn for m
		{"bob", "b0b", localauth.ErrUsernameConfusable},              // zero for o
	} {
		t.Run(tt.original+"/"+tt.lookAlike, func(t *testing.T) {
			e := MustEnv(t)
			e.MustRegister(t, tt.original, goodPW)
			hashes := e.Hasher.hashes.Load()
			_, err := e.Svc.Register(ctx, tt.lookAlike, goodPW)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Register(%q) beside %q: got %v, want %v", tt.lookAlike, tt.original, err, tt.want)
			}
			if got := e.Hasher.hashes.Load(); got != hashes {
				t.Errorf("the refusal hashed a password (%d hashes, want %d): it must answer before any bcrypt work", got, hashes)
			}
			if users, _ := e.Svc.Users(ctx); len(users) != 1 {
				t.Fatalf("got %d users, want 1", len(users))
			}
			code, msg, _ := localauth.Public(err)
			switch tt.want {
			case localauth.ErrUsernameConfusable:
				if code != localauth.CodeUserExists || msg != "This username is too similar to one already registered. Try a different name." {
					t.Errorf("Public: got %q %q, want user_exists and the similarity message", code, msg)
				}
			case localauth.ErrInvalidUsername:
				if code != localauth.CodeInvalidUsername || msg != "Username cannot contain accents or marks that are not part of a letter." {
					t.Errorf("Public: got %q %q, want invalid_username and the marks message", code, msg)
				}
			}
		})
	}
}

// Names that only share letters, accented letters on their own, and
// scripts whose marks are part of their spelling stay registrable.
func TestRegisterKeepsDistinctNames(t *testing.T) {
	e := MustEnv(t)
	for _, name := range []string{"ace", "aces", "josé", "दीपक", "दीपा", "ирина", "Ἀθηνᾶ", "mia", "nia"} {
		if _, err := e.Svc.Register(ctx, name, goodPW); err != nil {
			t.Errorf("Register(%q): %v", name, err)
		}
	}
}

func TestUsernameSkeleton(t *testing.T) {
	for _, tt := range []struct{ a, b string }{
		{"ace", "асе"}, {"paypal", "раураӏ"}, {"bob", "bòb"}, {"alice", "alicẹ"},
		{"bob", "b0b"}, {"modern", "rnodern"}, {"jose", "josé"},
	} {
		if x, y := localauth.UsernameSkeleton(tt.a), localauth.UsernameSkeleton(tt.b); x != y {
			t.Errorf("UsernameSkeleton(%q) = %q, UsernameSkeleton(%q) = %q: want equal", tt.a, x, tt.b, y)
		}
	}
	for _, tt := range []struct{ a, b string }{{"ace", "aces"}, {"mia", "nia"}, {"दीपक", "दीपा"}, {"i", "l"}} {
		if x, y := localauth.UsernameSkeleton(tt.a), localauth.UsernameSkeleton(tt.b); x == y {
			t.Errorf("UsernameSkeleton(%q) = UsernameSkeleton(%q) = %q: want different", tt.a, tt.b, x)
		}
	}
}
