package storetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/localauth/localauth"
)

// Look-alikes of an existing name are refused by the store itself, on the
// stored skeleton, with ErrUsernameConfusable (which is also ErrUserExists);
// nothing is stored; UserBySkeleton finds the original.
func testLookAlikes(t *testing.T, h *harness) {
	for _, tt := range []struct{ original, lookAlike string }{
		{"ace", "асе"},        // Cyrillic а, с, е
		{"paypal", "раураӏ"},  // Cyrillic, palochka for l
		{"bob", "bòb"},        // a precomposed accent
		{"alice", "alicẹ"},    // a dot below, precomposed by NFC
		{"modern", "rnodern"}, // rn for m
		{"bob0", "bobo"},      // a digit for a letter
	} {
		t.Run(tt.original+"/"+tt.lookAlike, func(t *testing.T) {
			s := h.newStore(t)
			orig := h.user(t, s, tt.original)
			u := localauth.User{Username: tt.lookAlike, DisplayName: tt.lookAlike, Enabled: true, CreatedAt: t0}
			err := s.CreateUser(ctx, &u, h.hash)
			wantErr(t, "CreateUser of the look-alike", err, localauth.ErrUsernameConfusable)
			wantErr(t, "CreateUser of the look-alike", err, localauth.ErrUserExists)
			if _, err := s.UserByName(ctx, tt.lookAlike); !errors.Is(err, localauth.ErrUserNotFound) {
				t.Fatalf("the refused look-alike was stored: UserByName gave %v", err)
			}
			got, err := s.UserBySkeleton(ctx, localauth.UsernameSkeleton(tt.lookAlike))
			noErr(t, "UserBySkeleton", err)
			if got.ID != orig.ID {
				t.Fatalf("UserBySkeleton: got user %d, want %d", got.ID, orig.ID)
			}
		})
	}
	s := h.newStore(t)
	h.user(t, s, "dave")
	h.user(t, s, "davey") // different names with different skeletons coexist
	_, err := s.UserBySkeleton(ctx, localauth.UsernameSkeleton("nobody"))
	wantErr(t, "UserBySkeleton of a free skeleton", err, localauth.ErrUserNotFound)
}

// Registrations of different look-alikes racing each other: exactly one
// wins, whatever the interleaving, because the skeleton is unique in the
// store rather than checked beforehand.
func testConcurrentLookAlikes(t *testing.T, h *harness) {
	s := h.newStore(t)
	names := []string{"ace", "асе", "аce", "acе", "асe", "áce", "acé", "aсe"}
	var ok, confusable, exists atomic.Int32
	var wg sync.WaitGroup
	for range 3 {
		for _, name := range names {
			wg.Go(func() {
				u := localauth.User{Username: name, DisplayName: name, Enabled: true, CreatedAt: t0}
				switch err := s.CreateUser(ctx, &u, h.hash); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, localauth.ErrUsernameConfusable):
					confusable.Add(1)
				case errors.Is(err, localauth.ErrUserExists):
					exists.Add(1)
				default:
					t.Errorf("CreateUser(%q): %v", name, err)
				}
			})
		}
	}
	wg.Wait()
	us, err := s.Users(ctx)
	noErr(t, "Users", err)
	if ok.Load() != 1 || len(us) != 1 {
		t.Fatalf("got %d created (%d stored), %d confusable, %d taken; want exactly 1 created", ok.Load(), len(us), confusable.Load(), exists.Load())
	}
	if confusable.Load() == 0 {
		t.Fatalf("no registration was refused as a look-alike: %d taken", exists.Load())
	}
}
