package storetest

import (
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

func handoffStore(t *testing.T, s localauth.Store) localauth.HandoffStore {
	t.Helper()
	hs, ok := s.(localauth.HandoffStore)
	if !ok {
		t.Skip("the store keeps no handoffs")
	}
	return hs
}

func testHandoff(t *testing.T, h *harness) {
	store := h.newStore(t)
	s := handoffStore(t, store)
	code := sha256.Sum256([]byte("code"))
	in := localauth.Handoff{CodeHash: code, Sealed: []byte("sealed token bytes"), ExpiresAt: t0.Add(time.Minute)}
	noErr(t, "CreateHandoff", s.CreateHandoff(ctx, in))
	if err := s.CreateHandoff(ctx, in); err == nil {
		t.Error("a second handoff with the same code was stored")
	}
	var wg sync.WaitGroup
	var wins atomic.Int32
	for range 8 {
		wg.Go(func() {
			out, err := s.TakeHandoff(ctx, code, t0)
			if err == nil {
				wins.Add(1)
				if string(out.Sealed) != "sealed token bytes" || !out.ExpiresAt.Equal(in.ExpiresAt) {
					t.Errorf("TakeHandoff: got %+v", out)
				}
			} else if !errors.Is(err, localauth.ErrHandoffNotFound) {
				t.Errorf("TakeHandoff: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent TakeHandoff calls succeeded, want exactly 1", wins.Load())
	}
	late := sha256.Sum256([]byte("late"))
	noErr(t, "CreateHandoff", s.CreateHandoff(ctx, localauth.Handoff{CodeHash: late, Sealed: []byte("x"), ExpiresAt: t0.Add(time.Minute)}))
	_, err := s.TakeHandoff(ctx, late, t0.Add(time.Minute))
	wantErr(t, "expired handoff", err, localauth.ErrHandoffNotFound)
	gone := sha256.Sum256([]byte("gone"))
	noErr(t, "CreateHandoff", s.CreateHandoff(ctx, localauth.Handoff{CodeHash: gone, Sealed: []byte("x"), ExpiresAt: t0.Add(time.Minute)}))
	if n, err := s.DeleteExpiredHandoffs(ctx, t0.Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("DeleteExpiredHandoffs: deleted %d, %v; want 1", n, err)
	}
	_, err = s.TakeHandoff(ctx, gone, t0)
	wantErr(t, "purged handoff", err, localauth.ErrHandoffNotFound)
}
