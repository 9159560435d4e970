package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

// ability returns s as the optional ability A, or skips the test when the
// store does not have it.
func ability[A any](t *testing.T, s localauth.Store) A {
	t.Helper()
	a, ok := s.(A)
	if !ok {
		t.Skipf("the store is no %s", reflect.TypeFor[A]())
	}
	return a
}

func recoveryHashes(prefix string, n int) [][]byte {
	var out [][]byte
	for i := range n {
		h := sha256.Sum256(fmt.Appendf(nil, "%s-%d", prefix, i))
		out = append(out, h[:])
	}
	return out
}

func (h *harness) version(t *testing.T, s localauth.Store, userID int64) int64 {
	t.Helper()
	c, err := s.Credential(ctx, userID)
	noErr(t, "Credential", err)
	return c.Version
}

func (h *harness) sessionsOf(t *testing.T, s localauth.Store, userID int64) int {
	t.Helper()
	ss, err := s.Sessions(ctx, userID)
	noErr(t, "Sessions", err)
	return len(ss)
}

// testTOTPLifecycle checks the TOTP factor from enrolment to removal: a
// pending secret counts for nothing and may be replaced, confirming is a
// credential change that keeps only the named session, and the step and
// recovery codes are spent once.
func testTOTPLifecycle(t *testing.T, h *harness) {
	s := h.newStore(t)
	fs := ability[localauth.TOTPStore](t, s)
	u := h.user(t, s, "tina")
	keep := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	h.session(t, s, u.ID, t0, t0.Add(time.Hour))

	_, err := fs.TOTP(ctx, u.ID)
	wantErr(t, "TOTP of a user without one", err, localauth.ErrFactorNotFound)
	for _, sealed := range []string{"first", "second"} {
		noErr(t, "SetPendingTOTP("+sealed+")", fs.SetPendingTOTP(ctx, u.ID, []byte(sealed), t0))
	}
	f, err := fs.TOTP(ctx, u.ID)
	if err != nil || f.Confirmed || string(f.Sealed) != "second" {
		t.Fatalf("pending TOTP: got %+v err=%v, want the second secret unconfirmed", f, err)
	}
	v0 := h.version(t, s, u.ID)
	_, err = fs.ConfirmTOTP(ctx, u.ID, []byte("first"), 100, recoveryHashes("a", 10), &keep.TokenHash)
	wantErr(t, "ConfirmTOTP with a replaced secret", err, localauth.ErrFactorNotFound)
	if got := h.version(t, s, u.ID); got != v0 {
		t.Fatalf("a refused confirmation changed the credential version: got %d, want %d", got, v0)
	}
	n, err := fs.ConfirmTOTP(ctx, u.ID, []byte("second"), 100, recoveryHashes("a", 10), &keep.TokenHash)
	if err != nil || n != 1 {
		t.Fatalf("ConfirmTOTP: ended=%d err=%v, want 1", n, err)
	}
	if got := h.version(t, s, u.ID); got <= v0 {
		t.Fatalf("confirming TOTP left the credential version at %d, want above %d", got, v0)
	}
	if _, _, err := s.SessionByTokenHash(ctx, keep.TokenHash); err != nil {
		t.Fatalf("the kept session is gone: %v", err)
	}
	if got := h.sessionsOf(t, s, u.ID); got != 1 {
		t.Fatalf("sessions after confirming: got %d, want 1", got)
	}
	wantErr(t, "SetPendingTOTP over a confirmed one", fs.SetPendingTOTP(ctx, u.ID, []byte("third"), t0), localauth.ErrFactorExists)
	f, _ = fs.TOTP(ctx, u.ID)
	if !f.Confirmed || f.LastStep != 100 || string(f.Sealed) != "second" {
		t.Fatalf("confirmed TOTP: got %+v, want confirmed, step 100, the second secret", f)
	}

	for _, c := range []struct {
		step int64
		want bool
	}{{100, false}, {99, false}, {101, true}, {101, false}, {105, true}} {
		got, err := fs.UseTOTPStep(ctx, u.ID, c.step)
		noErr(t, "UseTOTPStep", err)
		if got != c.want {
			t.Fatalf("UseTOTPStep(%d): got %v, want %v", c.step, got, c.want)
		}
	}

	if left, _ := fs.RecoveryCodesLeft(ctx, u.ID); left != 10 {
		t.Fatalf("recovery codes: got %d, want 10", left)
	}
	code := recoveryHashes("a", 10)[3]
	for i, want := range []bool{true, false} {
		got, err := fs.UseRecoveryCode(ctx, u.ID, code)
		noErr(t, "UseRecoveryCode", err)
		if got != want {
			t.Fatalf("UseRecoveryCode, use %d: got %v, want %v", i+1, got, want)
		}
	}
	other := h.user(t, s, "omar")
	if got, _ := fs.UseRecoveryCode(ctx, other.ID, recoveryHashes("a", 10)[4]); got {
		t.Fatal("another user spent tina's recovery code")
	}
	v1 := h.version(t, s, u.ID)
	if _, err := fs.ReplaceRecoveryCodes(ctx, u.ID, recoveryHashes("b", 10), &keep.TokenHash); err != nil {
		t.Fatal(err)
	}
	if got := h.version(t, s, u.ID); got <= v1 {
		t.Fatal("replacing recovery codes did not advance the credential version")
	}
	if got, _ := fs.UseRecoveryCode(ctx, u.ID, recoveryHashes("a", 10)[5]); got {
		t.Fatal("an old recovery code still works after replacement")
	}
	if left, _ := fs.RecoveryCodesLeft(ctx, u.ID); left != 10 {
		t.Fatalf("recovery codes after replacement: got %d, want 10", left)
	}

	h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	n, err = fs.RemoveTOTP(ctx, u.ID, &keep.TokenHash)
	if err != nil || n != 1 {
		t.Fatalf("RemoveTOTP: ended=%d err=%v, want 1", n, err)
	}
	_, err = fs.TOTP(ctx, u.ID)
	wantErr(t, "TOTP after RemoveTOTP", err, localauth.ErrFactorNotFound)
	if left, _ := fs.RecoveryCodesLeft(ctx, u.ID); left != 0 {
		t.Fatalf("recovery codes after RemoveTOTP: got %d, want 0", left)
	}
	_, err = fs.RemoveTOTP(ctx, u.ID, nil)
	wantErr(t, "RemoveTOTP without one", err, localauth.ErrFactorNotFound)
	// A pending factor is not on: removing it answers ErrFactorNotFound,
	// deletes it all the same and is no credential change.
	noErr(t, "SetPendingTOTP", fs.SetPendingTOTP(ctx, u.ID, []byte("pending"), t0))
	v2 := h.version(t, s, u.ID)
	_, err = fs.RemoveTOTP(ctx, u.ID, nil)
	wantErr(t, "RemoveTOTP of a pending one", err, localauth.ErrFactorNotFound)
	_, err = fs.TOTP(ctx, u.ID)
	wantErr(t, "TOTP after removing a pending one", err, localauth.ErrFactorNotFound)
	if got := h.version(t, s, u.ID); got != v2 {
		t.Fatalf("removing a pending factor changed the credential version: got %d, want %d", got, v2)
	}
	wantErr(t, "SetPendingTOTP for a missing user", fs.SetPendingTOTP(ctx, 987654, []byte("x"), t0), localauth.ErrUserNotFound)
}

// testFactorsSpentOnce checks that concurrent uses of one TOTP step or one
// recovery code succeed exactly once.
func testFactorsSpentOnce(t *testing.T, h *harness) {
	s := h.newStore(t)
	fs := ability[localauth.TOTPStore](t, s)
	u := h.user(t, s, "rita")
	noErr(t, "SetPendingTOTP", fs.SetPendingTOTP(ctx, u.ID, []byte("sealed"), t0))
	_, err := fs.ConfirmTOTP(ctx, u.ID, []byte("sealed"), 10, recoveryHashes("r", 10), nil)
	noErr(t, "ConfirmTOTP", err)
	var steps, codes atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if ok, err := fs.UseTOTPStep(ctx, u.ID, 11); err == nil && ok {
				steps.Add(1)
			}
		})
		wg.Go(func() {
			if ok, err := fs.UseRecoveryCode(ctx, u.ID, recoveryHashes("r", 10)[0]); err == nil && ok {
				codes.Add(1)
			}
		})
	}
	wg.Wait()
	if steps.Load() != 1 || codes.Load() != 1 {
		t.Fatalf("concurrent uses succeeded: step %d times, recovery code %d times; want 1 and 1", steps.Load(), codes.Load())
	}
}

// testPasskeys checks passkeys: adding is a credential change, a
// credential id registers once, a user removes only their own, and the
// sign count and last use are recorded.
func testPasskeys(t *testing.T, h *harness) {
	s := h.newStore(t)
	fs := ability[localauth.PasskeyStore](t, s)
	u := h.user(t, s, "pia")
	other := h.user(t, s, "paul")
	keep := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	pk := func(id string, user int64, cred string) localauth.Passkey {
		return localauth.Passkey{ID: id, UserID: user, CredentialID: []byte(cred), Name: "Laptop é",
			Credential: []byte(`{"k":"` + cred + `"}`), SignCount: 3, CreatedAt: t0}
	}
	v0 := h.version(t, s, u.ID)
	n, err := fs.AddPasskey(ctx, pk("passkey-public-01", u.ID, "cred-1"), &keep.TokenHash)
	if err != nil || n != 1 {
		t.Fatalf("AddPasskey: ended=%d err=%v, want 1", n, err)
	}
	if got := h.version(t, s, u.ID); got <= v0 {
		t.Fatal("adding a passkey did not advance the credential version")
	}
	_, err = fs.AddPasskey(ctx, pk("passkey-public-02", u.ID, "cred-2"), &keep.TokenHash)
	noErr(t, "AddPasskey", err)
	v1 := h.version(t, s, other.ID)
	if _, err := fs.AddPasskey(ctx, pk("passkey-public-03", other.ID, "cred-1"), nil); !errors.Is(err, localauth.ErrPasskeyExists) {
		t.Fatalf("AddPasskey with a registered credential id: %v, want ErrPasskeyExists", err)
	}
	if got := h.version(t, s, other.ID); got != v1 {
		t.Fatal("a refused passkey changed the credential version")
	}
	if _, err := fs.AddPasskey(ctx, pk("passkey-public-04", 987654, "cred-9"), nil); !errors.Is(err, localauth.ErrUserNotFound) {
		t.Fatalf("AddPasskey for a missing user: %v, want ErrUserNotFound", err)
	}
	list, err := fs.Passkeys(ctx, u.ID)
	noErr(t, "Passkeys", err)
	if len(list) != 2 || list[0].ID != "passkey-public-01" || list[1].ID != "passkey-public-02" {
		t.Fatalf("Passkeys: got %+v, want the two in order", list)
	}
	got := list[0]
	if got.Name != "Laptop é" || got.SignCount != 3 || !got.CreatedAt.Equal(t0.Truncate(time.Millisecond)) ||
		!got.LastUsedAt.IsZero() || string(got.Credential) != `{"k":"cred-1"}` || got.UserID != u.ID {
		t.Fatalf("passkey round trip: got %+v", got)
	}
	noErr(t, "RecordPasskeyUse", fs.RecordPasskeyUse(ctx, []byte("cred-1"), 7, t0.Add(time.Minute)))
	p, err := fs.PasskeyByCredentialID(ctx, []byte("cred-1"))
	if err != nil || p.SignCount != 7 || !p.LastUsedAt.Equal(t0.Add(time.Minute).Truncate(time.Millisecond)) {
		t.Fatalf("PasskeyByCredentialID after use: got %+v err=%v", p, err)
	}
	_, err = fs.PasskeyByCredentialID(ctx, []byte("nope"))
	wantErr(t, "PasskeyByCredentialID of an unknown id", err, localauth.ErrFactorNotFound)
	v2 := h.version(t, s, other.ID)
	_, err = fs.RemovePasskey(ctx, other.ID, "passkey-public-01", nil)
	wantErr(t, "RemovePasskey of another user's", err, localauth.ErrFactorNotFound)
	if got := h.version(t, s, other.ID); got != v2 {
		t.Fatal("a refused removal changed the credential version")
	}
	_, err = fs.RemovePasskey(ctx, u.ID, "passkey-public-01", &keep.TokenHash)
	noErr(t, "RemovePasskey", err)
	list, _ = fs.Passkeys(ctx, u.ID)
	if len(list) != 1 || !bytes.Equal(list[0].CredentialID, []byte("cred-2")) {
		t.Fatalf("Passkeys after removal: got %+v", list)
	}
	noErr(t, "DeleteUser", s.DeleteUser(ctx, u.ID))
	_, err = fs.PasskeyByCredentialID(ctx, []byte("cred-2"))
	wantErr(t, "a deleted user's passkey", err, localauth.ErrFactorNotFound)
}

// testResetFactors checks the administrator's reset: every factor the
// store keeps (TOTP with its recovery codes, passkeys: whichever abilities
// it has) and every session gone, one credential change.
func testResetFactors(t *testing.T, h *harness) {
	s := h.newStore(t)
	fr := ability[localauth.FactorResetter](t, s)
	ts, hasTOTP := s.(localauth.TOTPStore)
	ps, hasPasskeys := s.(localauth.PasskeyStore)
	u := h.user(t, s, "rosa")
	if hasTOTP {
		noErr(t, "SetPendingTOTP", ts.SetPendingTOTP(ctx, u.ID, []byte("sealed"), t0))
		_, err := ts.ConfirmTOTP(ctx, u.ID, []byte("sealed"), 1, recoveryHashes("x", 10), nil)
		noErr(t, "ConfirmTOTP", err)
	}
	if hasPasskeys {
		_, err := ps.AddPasskey(ctx, localauth.Passkey{ID: "passkey-public-r1", UserID: u.ID, CredentialID: []byte("c"), Name: "k", Credential: []byte("{}"), CreatedAt: t0}, nil)
		noErr(t, "AddPasskey", err)
	}
	h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	v0 := h.version(t, s, u.ID)
	n, err := fr.ResetFactors(ctx, u.ID)
	if err != nil || n != 1 {
		t.Fatalf("ResetFactors: ended=%d err=%v, want 1", n, err)
	}
	if hasTOTP {
		_, err := ts.TOTP(ctx, u.ID)
		wantErr(t, "TOTP after ResetFactors", err, localauth.ErrFactorNotFound)
		if left, _ := ts.RecoveryCodesLeft(ctx, u.ID); left != 0 {
			t.Fatal("recovery codes survived ResetFactors")
		}
	}
	if hasPasskeys {
		if pks, _ := ps.Passkeys(ctx, u.ID); len(pks) != 0 {
			t.Fatal("passkeys survived ResetFactors")
		}
	}
	if h.sessionsOf(t, s, u.ID) != 0 || h.version(t, s, u.ID) <= v0 {
		t.Fatal("ResetFactors left sessions or the credential version")
	}
	_, err = fr.ResetFactors(ctx, 987654)
	wantErr(t, "ResetFactors of a missing user", err, localauth.ErrUserNotFound)
}

// testHandoffHoldsCeremonies checks that a handoff holds a sealed record of
// a WebAuthn ceremony's size (several KiB), not only a sealed token.
func testHandoffHoldsCeremonies(t *testing.T, h *harness) {
	s := handoffStore(t, h.newStore(t))
	code := sha256.Sum256([]byte("ceremony"))
	sealed := bytes.Repeat([]byte{0xA5}, 8<<10)
	noErr(t, "CreateHandoff", s.CreateHandoff(ctx, localauth.Handoff{CodeHash: code, Sealed: sealed, ExpiresAt: t0.Add(time.Minute)}))
	got, err := s.TakeHandoff(ctx, code, t0)
	noErr(t, "TakeHandoff", err)
	if !bytes.Equal(got.Sealed, sealed) {
		t.Fatalf("sealed record: got %d bytes back, want the %d stored", len(got.Sealed), len(sealed))
	}
}
