package sqlitestore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

// ImportSessions stores every session of a batch, or none of it.
func TestImportSessions(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t)
	u := localauth.User{Username: "alice", DisplayName: "alice", Enabled: true, CreatedAt: time.Now()}
	if err := s.CreateUser(ctx, &u, []byte("$2a$04$abcdefghijklmnopqrstuuJ3G3v5yCq2Qm0o5aKXb4aJg7nYxH8a6")); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Truncate(time.Millisecond)
	batch := func(prefix string, userID int64, n int) []localauth.Session {
		var out []localauth.Session
		for i := range n {
			out = append(out, localauth.Session{
				TokenHash: localauth.HashToken(localauth.Token(fmt.Sprintf("%s-%040d", prefix, i))),
				UserID:    userID, CreatedAt: at, LastSeenAt: at, ReauthAt: at, ExpiresAt: at.Add(time.Hour),
				PublicID: fmt.Sprintf("%s%028d", prefix, i),
			})
		}
		return out
	}
	good := batch("good", u.ID, 3)
	if err := s.ImportSessions(ctx, good); err != nil {
		t.Fatal(err)
	}
	got, user, err := s.SessionByTokenHash(ctx, good[2].TokenHash)
	if err != nil || user.ID != u.ID || got.PublicID != good[2].PublicID || !got.ExpiresAt.Equal(good[2].ExpiresAt) {
		t.Fatalf("imported session: %+v %+v %v", got, user, err)
	}
	// A session of a missing user spoils the batch: nothing of it stays.
	bad := append(batch("bad0", u.ID, 2), batch("bad1", u.ID+99, 1)...)
	if err := s.ImportSessions(ctx, bad); !errors.Is(err, localauth.ErrUserNotFound) {
		t.Fatalf("a batch with a missing user: %v, want ErrUserNotFound", err)
	}
	if _, _, err := s.SessionByTokenHash(ctx, bad[0].TokenHash); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("a session of a failed batch was kept: %v", err)
	}
	all, err := s.Sessions(ctx, u.ID)
	if err != nil || len(all) != 3 {
		t.Fatalf("sessions after a failed batch: %d %v", len(all), err)
	}
}
