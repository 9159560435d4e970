package storetest

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

// testPasskeySuspension checks the defences of passkeys: a passkey keeps
// the user handle it was added with; a suspension holds through later uses
// and is lifted only by its owner, as a credential change; each user has
// one WebAuthn user handle, the first stored.
func testPasskeySuspension(t *testing.T, h *harness) {
	s := h.newStore(t)
	fs := ability[localauth.PasskeyStore](t, s)
	u := h.user(t, s, "sue")
	other := h.user(t, s, "sam")
	keep := h.session(t, s, u.ID, t0, t0.Add(time.Hour))

	handle := bytes.Repeat([]byte{0xa5}, 32)
	_, err := fs.AddPasskey(ctx, localauth.Passkey{ID: "passkey-public-s1", UserID: u.ID, CredentialID: []byte("cred-s"),
		Name: "Key", Credential: []byte("{}"), SignCount: 5, CreatedAt: t0, UserHandle: handle}, &keep.TokenHash)
	noErr(t, "AddPasskey", err)
	h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	p, err := fs.PasskeyByCredentialID(ctx, []byte("cred-s"))
	if err != nil || !bytes.Equal(p.UserHandle, handle) || !p.SuspendedAt.IsZero() {
		t.Fatalf("PasskeyByCredentialID: %+v err=%v, want its user handle and not suspended", p, err)
	}

	noErr(t, "SuspendPasskey", fs.SuspendPasskey(ctx, []byte("cred-s"), t0.Add(time.Minute)))
	noErr(t, "SuspendPasskey again", fs.SuspendPasskey(ctx, []byte("cred-s"), t0.Add(time.Hour)))
	noErr(t, "SuspendPasskey of an unknown credential", fs.SuspendPasskey(ctx, []byte("nope"), t0))
	noErr(t, "RecordPasskeyUse", fs.RecordPasskeyUse(ctx, []byte("cred-s"), 100, t0.Add(2*time.Minute)))
	list, err := fs.Passkeys(ctx, u.ID)
	noErr(t, "Passkeys", err)
	if len(list) != 1 || !list[0].SuspendedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Passkeys after a suspension and a use: %+v, want suspended since the first suspension", list)
	}

	_, err = fs.ConfirmPasskey(ctx, other.ID, "passkey-public-s1", nil)
	wantErr(t, "ConfirmPasskey by another user", err, localauth.ErrFactorNotFound)
	v0 := h.version(t, s, u.ID)
	n, err := fs.ConfirmPasskey(ctx, u.ID, "passkey-public-s1", &keep.TokenHash)
	if err != nil || n != 1 {
		t.Fatalf("ConfirmPasskey: ended=%d err=%v, want 1 ended", n, err)
	}
	if h.version(t, s, u.ID) <= v0 {
		t.Fatal("confirming a passkey did not advance the credential version")
	}
	if p, _ := fs.PasskeyByCredentialID(ctx, []byte("cred-s")); !p.SuspendedAt.IsZero() {
		t.Fatalf("still suspended after confirmation: %+v", p)
	}
	v1 := h.version(t, s, u.ID)
	_, err = fs.ConfirmPasskey(ctx, u.ID, "passkey-public-s1", nil)
	wantErr(t, "ConfirmPasskey of a passkey in use", err, localauth.ErrFactorNotFound)
	if h.version(t, s, u.ID) != v1 {
		t.Fatal("a refused confirmation changed the credential version")
	}

	// One handle per user: concurrent first calls agree on one.
	var wg sync.WaitGroup
	got := make([][]byte, 4)
	for i := range got {
		wg.Go(func() {
			h, err := fs.PasskeyHandle(ctx, other.ID, bytes.Repeat([]byte{byte(i + 1)}, 32))
			if err != nil {
				t.Errorf("PasskeyHandle: %v", err)
			}
			got[i] = h
		})
	}
	wg.Wait()
	for _, g := range got {
		if len(g) != 32 || !bytes.Equal(g, got[0]) {
			t.Fatalf("PasskeyHandle answered %x, want one 32-byte handle for all", got)
		}
	}
	if again, err := fs.PasskeyHandle(ctx, other.ID, bytes.Repeat([]byte{9}, 32)); err != nil || !bytes.Equal(again, got[0]) {
		t.Fatalf("PasskeyHandle later: %x %v, want the first one", again, err)
	}
	if mine, err := fs.PasskeyHandle(ctx, u.ID, bytes.Repeat([]byte{9}, 32)); err != nil || bytes.Equal(mine, got[0]) {
		t.Fatalf("another user's handle: %x %v, want a handle of its own", mine, err)
	}
	if _, err := fs.PasskeyHandle(ctx, 987654, bytes.Repeat([]byte{7}, 32)); !errors.Is(err, localauth.ErrUserNotFound) {
		t.Fatalf("PasskeyHandle for a missing user: %v, want ErrUserNotFound", err)
	}
}
