package storetest

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

func mailStore(t *testing.T, h *harness) (localauth.Store, localauth.MailStore) {
	t.Helper()
	s := h.newStore(t)
	ms, ok := s.(localauth.MailStore)
	if !ok {
		t.Skip("the store is not a MailStore")
	}
	return s, ms
}

func mailToken(s localauth.Store, t *testing.T, u localauth.User, purpose, addr, seed string, created time.Time) localauth.MailToken {
	t.Helper()
	cred, err := s.Credential(ctx, u.ID)
	noErr(t, "Credential", err)
	key, err := localauth.EmailKey(addr)
	noErr(t, "EmailKey", err)
	return localauth.MailToken{
		Hash: sha256.Sum256([]byte(seed)), UserID: u.ID, Purpose: purpose,
		Email: addr, EmailKey: key, CredentialVersion: cred.Version,
		CreatedAt: created, ExpiresAt: created.Add(30 * time.Minute),
	}
}

var noLimit = localauth.MailLimit{PerAccount: 1000, PerAddress: 1000}

// testMailTokens: verification sets the address once; a reset is single
// use, voided by a password change, and ends sessions; the limit counts.
func testMailTokens(t *testing.T, h *harness) {
	s, ms := mailStore(t, h)
	alice := h.user(t, s, "alice")
	bob := h.user(t, s, "bob")

	// An address set before any is verified is in force, unverified.
	v := mailToken(s, t, alice, "verify", "Alice@Example.COM", "verify-1", t0)
	noErr(t, "SetEmail", ms.SetEmail(ctx, alice.ID, v.Email, &v, []localauth.Mail{{Kind: "verify", To: v.Email, Subject: "s", Text: "b"}}, t0))
	st, err := ms.UserEmail(ctx, alice.ID)
	noErr(t, "UserEmail", err)
	if st.Email != v.Email || st.Verified || st.Pending != "" {
		t.Fatalf("after SetEmail got %+v, want unverified %s", st, v.Email)
	}
	n, _, err := ms.OutboxStats(ctx)
	noErr(t, "OutboxStats", err)
	if n != 1 {
		t.Fatalf("outbox depth got %d, want 1", n)
	}
	_, err = ms.UserByEmailKey(ctx, v.EmailKey)
	wantErr(t, "UserByEmailKey before verification", err, localauth.ErrUserNotFound)

	// Verification: once, and not after expiry.
	_, err = ms.VerifyEmail(ctx, v.Hash, v.ExpiresAt)
	wantErr(t, "VerifyEmail at expiry", err, localauth.ErrInvalidMailToken)
	id, err := ms.VerifyEmail(ctx, v.Hash, t0.Add(time.Minute))
	noErr(t, "VerifyEmail", err)
	if id != alice.ID {
		t.Fatalf("VerifyEmail user got %d, want %d", id, alice.ID)
	}
	_, err = ms.VerifyEmail(ctx, v.Hash, t0.Add(time.Minute))
	wantErr(t, "second VerifyEmail", err, localauth.ErrInvalidMailToken)
	got, err := ms.UserByEmailKey(ctx, "Alice@example.com")
	noErr(t, "UserByEmailKey", err)
	if got.ID != alice.ID {
		t.Fatalf("UserByEmailKey got user %d, want %d", got.ID, alice.ID)
	}

	// A second account cannot verify the same key.
	wantErr(t, "SetVerifiedEmail of a taken key", ms.SetVerifiedEmail(ctx, bob.ID, "Alice@example.com", "Alice@example.com"), localauth.ErrEmailTaken)
	bv := mailToken(s, t, bob, "verify", "Alice@example.com", "verify-bob", t0)
	noErr(t, "SetEmail bob", ms.SetEmail(ctx, bob.ID, bv.Email, &bv, nil, t0))
	_, err = ms.VerifyEmail(ctx, bv.Hash, t0.Add(time.Minute))
	wantErr(t, "VerifyEmail of a taken key", err, localauth.ErrEmailTaken)

	// A new address for a verified account is pending; the old stays.
	p := mailToken(s, t, alice, "verify", "alice@new.example", "verify-2", t0)
	noErr(t, "SetEmail new", ms.SetEmail(ctx, alice.ID, p.Email, &p, nil, t0))
	st, _ = ms.UserEmail(ctx, alice.ID)
	if st.Email != v.Email || !st.Verified || st.Pending != p.Email {
		t.Fatalf("after a change got %+v, want %s in force and %s pending", st, v.Email, p.Email)
	}

	// Reset: single use, sessions and other reset tokens end with it.
	sess := h.session(t, s, alice.ID, t0, t0.Add(time.Hour))
	r1 := mailToken(s, t, alice, "reset", v.Email, "reset-1", t0)
	r2 := mailToken(s, t, alice, "reset", v.Email, "reset-2", t0)
	for _, r := range []localauth.MailToken{r1, r2} {
		ok, err := ms.IssueMailToken(ctx, r, nil, noLimit)
		noErr(t, "IssueMailToken", err)
		if !ok {
			t.Fatal("IssueMailToken refused under no limit")
		}
	}
	_, err = ms.PeekMailToken(ctx, r1.Hash, "verify", t0)
	wantErr(t, "PeekMailToken for another purpose", err, localauth.ErrInvalidMailToken)
	if _, err := ms.PeekMailToken(ctx, r1.Hash, "reset", t0); err != nil {
		t.Fatalf("PeekMailToken: %v", err)
	}
	uid, ended, err := ms.ResetPassword(ctx, r1.Hash, t0.Add(time.Minute), h.hash2, []localauth.Mail{{Kind: "password_changed", To: v.Email, Subject: "s", Text: "b"}})
	noErr(t, "ResetPassword", err)
	if uid != alice.ID || ended != 1 {
		t.Fatalf("ResetPassword got user %d, %d sessions ended; want %d, 1", uid, ended, alice.ID)
	}
	if _, _, err := s.SessionByTokenHash(ctx, sess.TokenHash); err == nil {
		t.Fatal("the session outlived the reset")
	}
	cred, _ := s.Credential(ctx, alice.ID)
	if string(cred.Hash) != string(h.hash2) {
		t.Fatal("ResetPassword did not set the hash")
	}
	for _, r := range []localauth.MailToken{r1, r2} {
		_, _, err = ms.ResetPassword(ctx, r.Hash, t0.Add(time.Minute), h.hash, nil)
		wantErr(t, "ResetPassword with a used or voided token", err, localauth.ErrInvalidMailToken)
	}

	// A password changed another way voids a reset token.
	r3 := mailToken(s, t, alice, "reset", v.Email, "reset-3", t0)
	if _, err := ms.IssueMailToken(ctx, r3, nil, noLimit); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetPasswordHash(ctx, alice.ID, h.hash, nil); err != nil {
		t.Fatal(err)
	}
	_, err = ms.PeekMailToken(ctx, r3.Hash, "reset", t0)
	wantErr(t, "PeekMailToken after a password change", err, localauth.ErrInvalidMailToken)

	// The limit counts tokens of the window, per account and per address.
	lim := localauth.MailLimit{Since: t0.Add(-time.Hour), PerAccount: 3, AddressSince: t0.Add(-time.Hour), PerAddress: 100}
	ok, err := ms.IssueMailToken(ctx, mailToken(s, t, alice, "reset", v.Email, "reset-4", t0), nil, lim)
	noErr(t, "IssueMailToken", err)
	if ok {
		t.Fatal("IssueMailToken issued a fourth token under a limit of 3")
	}
	lim.Since = t0
	ok, err = ms.IssueMailToken(ctx, mailToken(s, t, alice, "reset", v.Email, "reset-5", t0.Add(time.Millisecond)), nil, lim)
	noErr(t, "IssueMailToken", err)
	if !ok {
		t.Fatal("IssueMailToken refused once the window moved")
	}
	lim.PerAddress = 1
	ok, _ = ms.IssueMailToken(ctx, mailToken(s, t, alice, "reset", v.Email, "reset-6", t0.Add(time.Millisecond)), nil, lim)
	if ok {
		t.Fatal("IssueMailToken ignored the per-address limit")
	}
	if n, err := ms.DeleteOldMailTokens(ctx, t0.Add(time.Hour)); err != nil || n == 0 {
		t.Fatalf("DeleteOldMailTokens got %d, %v; want some deleted", n, err)
	}
}

// testOutboxClaims: a mail is held by one claimer at a time, retried when
// due, and gone once deleted.
func testOutboxClaims(t *testing.T, h *harness) {
	_, ms := mailStore(t, h)
	const mails = 20
	var batch []localauth.Mail
	for range mails {
		batch = append(batch, localauth.Mail{Kind: "test", To: "a@example.com", Subject: "s", Text: "b"})
	}
	noErr(t, "EnqueueMail", ms.EnqueueMail(ctx, batch, t0))
	n, oldest, err := ms.OutboxStats(ctx)
	noErr(t, "OutboxStats", err)
	if n != mails || !oldest.Equal(t0.Truncate(time.Millisecond)) {
		t.Fatalf("OutboxStats got %d, %v; want %d, %v", n, oldest, mails, t0)
	}
	_, ok, err := ms.ClaimMail(ctx, t0.Add(-time.Second), time.Minute)
	noErr(t, "ClaimMail", err)
	if ok {
		t.Fatal("ClaimMail took a mail before it was due")
	}

	// Claimers racing: each mail is taken exactly once.
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		seen  = map[int64]int{}
		total atomic.Int64
	)
	for range 4 {
		wg.Go(func() {
			for {
				m, ok, err := ms.ClaimMail(ctx, t0, time.Minute)
				if err != nil {
					t.Errorf("ClaimMail: %v", err)
					return
				}
				if !ok {
					return
				}
				total.Add(1)
				mu.Lock()
				seen[m.ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if total.Load() != mails || len(seen) != mails {
		t.Fatalf("claims got %d of %d distinct mails, want %d each once", total.Load(), len(seen), mails)
	}

	// Past the lease a held mail may be claimed again; a retry waits.
	m, ok, err := ms.ClaimMail(ctx, t0.Add(2*time.Minute), time.Minute)
	noErr(t, "ClaimMail past the lease", err)
	if !ok || m.Attempts != 2 {
		t.Fatalf("ClaimMail past the lease got ok=%v attempts=%d, want true, 2", ok, m.Attempts)
	}
	noErr(t, "RetryMail", ms.RetryMail(ctx, m.ID, t0.Add(time.Hour)))
	for {
		x, ok, err := ms.ClaimMail(ctx, t0.Add(10*time.Minute), time.Minute)
		noErr(t, "ClaimMail", err)
		if !ok {
			break
		}
		if x.ID == m.ID {
			t.Fatal("ClaimMail took a mail before its retry was due")
		}
		noErr(t, "DeleteMail", ms.DeleteMail(ctx, x.ID))
	}
	x, ok, err := ms.ClaimMail(ctx, t0.Add(time.Hour), time.Minute)
	noErr(t, "ClaimMail", err)
	if !ok || x.ID != m.ID {
		t.Fatalf("ClaimMail at the retry got ok=%v id=%d, want %d", ok, x.ID, m.ID)
	}
	noErr(t, "DeleteMail", ms.DeleteMail(ctx, x.ID))
	if n, _, _ := ms.OutboxStats(ctx); n != 0 {
		t.Fatalf("outbox depth got %d, want 0", n)
	}
}
