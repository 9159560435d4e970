package localauth_test

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/mfa"
)

// totpOnlyStore keeps TOTP factors (and the handoffs and reset TOTPStore
// embeds) but no passkeys; passkeyOnlyStore the reverse. Each kind of
// second factor needs its own ability and nothing more.
type totpOnlyStore struct {
	localauth.Store
	localauth.TOTPStore
}

type passkeyOnlyStore struct {
	localauth.Store
	localauth.PasskeyStore
}

// newAbilityService is a Service over st that is configured for both
// kinds of factor, so that what it offers depends on the store alone.
func newAbilityService(t *testing.T, e *Env, st localauth.Store, fake *fakePasskeys) *localauth.Service {
	t.Helper()
	svc, err := localauth.New(st, localauth.Config{
		Hasher: e.Hasher, AllowWeakCost: true, NoClientAddress: true, Now: e.Clock.Now, PurgeInterval: -1,
		SecretKey: []byte(rand.Text() + rand.Text()), TOTP: mfa.TOTP{}, Passkeys: fake,
		Logger: discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

func TestTOTPNeedsOnlyTOTPStore(t *testing.T) {
	e := MustEnv(t)
	svc := newAbilityService(t, e, totpOnlyStore{e.Store, e.Store}, &fakePasskeys{})
	if !svc.TOTPAvailable() || svc.PasskeysAvailable() {
		t.Fatalf("TOTPAvailable %v, PasskeysAvailable %v; want true, false", svc.TOTPAvailable(), svc.PasskeysAvailable())
	}
	u, err := svc.Register(ctx, "tess", goodPW)
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Login(ctx, "tess", goodPW)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.BeginPasskeyRegistration(ctx, res.Token); !errors.Is(err, localauth.ErrFactorUnavailable) {
		t.Fatalf("BeginPasskeyRegistration: %v, want ErrFactorUnavailable", err)
	}
	en, err := svc.EnrollTOTP(ctx, res.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ConfirmTOTP(ctx, res.Token, e.code(t, en.Secret, 0)); err != nil {
		t.Fatal(err)
	}
	st, err := svc.Factors(ctx, res.Token)
	if err != nil || !st.TOTP || st.RecoveryCodesLeft != localauth.RecoveryCodeCount || !st.TOTPAvailable || st.PasskeysAvailable {
		t.Fatalf("Factors: %+v %v; want TOTP on with its codes, passkeys not offered", st, err)
	}
	_, err = svc.Login(ctx, "tess", goodPW)
	var sf *localauth.SecondFactorRequiredError
	if !errors.As(err, &sf) || !slices.Equal(sf.Methods, []string{localauth.MethodTOTP, localauth.MethodRecovery}) {
		t.Fatalf("Login: %v, want a second step by TOTP or recovery code", err)
	}
	e.Clock.Advance(30 * time.Second) // the confirmation spent this step's code
	if _, err := svc.CompleteLogin(ctx, sf.Token, localauth.SecondFactor{Code: e.code(t, en.Secret, 0)}); err != nil {
		t.Fatalf("CompleteLogin: %v", err)
	}
	if err := svc.ResetFactors(ctx, u.ID); err != nil {
		t.Fatalf("ResetFactors: %v", err)
	}
	if _, err := svc.Login(ctx, "tess", goodPW); err != nil {
		t.Fatalf("Login after a reset: %v, want one step", err)
	}
}

func TestPasskeysNeedOnlyPasskeyStore(t *testing.T) {
	e := MustEnv(t)
	fake := &fakePasskeys{}
	svc := newAbilityService(t, e, passkeyOnlyStore{e.Store, e.Store}, fake)
	if svc.TOTPAvailable() || !svc.PasskeysAvailable() {
		t.Fatalf("TOTPAvailable %v, PasskeysAvailable %v; want false, true", svc.TOTPAvailable(), svc.PasskeysAvailable())
	}
	u, err := svc.Register(ctx, "pete", goodPW)
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Login(ctx, "pete", goodPW)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.EnrollTOTP(ctx, res.Token); !errors.Is(err, localauth.ErrFactorUnavailable) {
		t.Fatalf("EnrollTOTP: %v, want ErrFactorUnavailable", err)
	}
	if _, err := svc.BeginPasskeyRegistration(ctx, res.Token); err != nil {
		t.Fatal(err)
	}
	h := fake.userHandle()
	if _, err := svc.FinishPasskeyRegistration(ctx, res.Token, "Key", answer(fake.challenge(), "cred-p", h, 1)); err != nil {
		t.Fatal(err)
	}
	st, err := svc.Factors(ctx, res.Token)
	if err != nil || st.TOTP || st.TOTPAvailable || !st.PasskeysAvailable || len(st.Passkeys) != 1 {
		t.Fatalf("Factors: %+v %v; want one passkey, TOTP not offered", st, err)
	}
	if _, err := svc.BeginPasskeyLogin(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := svc.PasskeyLogin(ctx, answer(fake.challenge(), "cred-p", h, 2), localauth.LoginOptions{}); err != nil || got.User.ID != u.ID {
		t.Fatalf("PasskeyLogin: %v", err)
	}
	if err := svc.ResetFactors(ctx, u.ID); err != nil {
		t.Fatalf("ResetFactors: %v", err)
	}
	if _, err := svc.BeginPasskeyLogin(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PasskeyLogin(ctx, answer(fake.challenge(), "cred-p", h, 3), localauth.LoginOptions{}); !errors.Is(err, localauth.ErrInvalidCode) {
		t.Fatalf("PasskeyLogin after a reset: %v, want ErrInvalidCode", err)
	}
}

// A second factor configured over a store that keeps none is off, and New
// says so in the log: a store wrapped so that only Store shows hides the
// factors its users have.
func TestFactorOverStoreWithoutItIsLogged(t *testing.T) {
	e := MustEnv(t)
	var log SyncBuffer
	svc, err := localauth.New(passkeyOnlyStore{e.Store, e.Store}, localauth.Config{
		Hasher: e.Hasher, AllowWeakCost: true, NoClientAddress: true, Now: e.Clock.Now, PurgeInterval: -1,
		SecretKey: []byte(rand.Text() + rand.Text()), TOTP: mfa.TOTP{}, Passkeys: &fakePasskeys{},
		Logger: slog.New(slog.NewTextHandler(&log, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	if got := log.String(); !strings.Contains(got, "TOTP is off") || strings.Contains(got, "passkeys are off") {
		t.Fatalf("New over a store with passkeys only logged:\n%s\nwant the TOTP warning alone", got)
	}
}

// devicesWithoutSweep records devices but lacks DeleteExpiredDevices, as a
// store written against an older DeviceStore would.
type devicesWithoutSweep struct {
	localauth.Store
	devices interface {
		DeviceTrusted(ctx context.Context, userID int64, h localauth.TokenHash, now time.Time) (bool, error)
	}
}

func (d devicesWithoutSweep) DeviceTrusted(ctx context.Context, userID int64, h localauth.TokenHash, now time.Time) (bool, error) {
	return d.devices.DeviceTrusted(ctx, userID, h, now)
}

// A store that records devices without being a whole DeviceStore gets no
// trusted devices; New says so rather than leave it to be found out.
func TestPartialDeviceStoreIsLogged(t *testing.T) {
	e := MustEnv(t)
	if strings.Contains(e.Log.String(), "trusted devices are off") {
		t.Fatalf("New over a whole DeviceStore warned:\n%s", e.Log.String())
	}
	var log SyncBuffer
	serviceOver(t, devicesWithoutSweep{e.Store, e.Store}, func(c *localauth.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&log, nil))
	})
	if !strings.Contains(log.String(), "trusted devices are off") {
		t.Fatalf("New over a store that records devices but lacks DeleteExpiredDevices logged:\n%s\nwant a warning", log.String())
	}
}
