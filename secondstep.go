package localauth

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/localauth/localauth/throttle"
)

// The second step of a login. When an account has a second factor, Login
// checks the password as always and then, instead of a session, returns a
// *SecondFactorRequiredError carrying a second-step token. CompleteLogin
// takes that token with a TOTP code, a recovery code or a passkey's answer
// and starts the session.
//
// The token is a bearer secret kept in the store as a single-use record
// (see once.go): only its hash and the pending login sealed under it. It is
// bound to the client that logged in (its address and the device cookie
// it presented, both as the transport reports them), lives
// SecondStepLifetime, and allows secondStepTries wrong answers; a right one
// spends it. Its guesses are counted per account (whatever device the
// client holds: a trusted device never widens this count) and per client
// address, so a stolen password does not buy unlimited code guesses. The login keeps the credential version
// its password check saw: a password or factor change in between makes it
// fail.

// SecondStepLifetime is how long a second-step token can be used.
const SecondStepLifetime = 5 * time.Minute

// secondStepTries is how many wrong answers one token takes.
const secondStepTries = 5

// pendingLogin is what a second-step token stands for.
type pendingLogin struct {
	UserID   int64 `json:"u"`
	Version  int64 `json:"v"`
	Remember bool  `json:"r"`
	Trusted  bool  `json:"t"`
	Tries    int   `json:"n"`
}

// SecondFactor is the answer to a second step: exactly one of its fields.
type SecondFactor struct {
	// Code is a code from the authenticator app.
	Code string
	// RecoveryCode is one of the user's recovery codes; it is spent.
	RecoveryCode string
	// Passkey is a browser's answer (JSON) to the options of
	// BeginPasskeyLogin, from a passkey of the same user.
	Passkey []byte
}

func (f SecondFactor) method() string {
	n := 0
	m := ""
	if f.Code != "" {
		n, m = n+1, MethodTOTP
	}
	if f.RecoveryCode != "" {
		n, m = n+1, MethodRecovery
	}
	if len(f.Passkey) > 0 {
		n, m = n+1, MethodPasskey
	}
	if n != 1 {
		return ""
	}
	return m
}

// clientBinding names the client for the records it must finish itself:
// its address and the device token it presented.
func clientBinding(ctx context.Context) string {
	return ClientIP(ctx) + "\x00" + string(DeviceTokenFrom(ctx))
}

// secondFactors returns the methods that can finish a login of the user,
// none when the account has no second factor. A confirmed TOTP factor is
// what turns the second step on, whether or not this server is configured
// to check it (an account that has one fails closed); its recovery codes
// and, where the store keeps passkeys and the server offers them, passkeys
// then serve as a second step too. Passkeys alone do not: a passkey login
// is already both factors, and an account with only a passkey and a
// password keeps its password login as its way back in when the passkey
// is lost (SECURITY.md).
func (s *Service) secondFactors(ctx context.Context, userID int64) ([]string, error) {
	ts, err := s.totpStore()
	if err != nil {
		return nil, nil
	}
	_, on, err := confirmedTOTP(ctx, ts, userID)
	if err != nil || !on {
		return nil, err
	}
	methods := []string{MethodTOTP}
	n, err := ts.RecoveryCodesLeft(ctx, userID)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		methods = append(methods, MethodRecovery)
	}
	if ps, err := s.passkeysReady(); err == nil {
		pks, err := ps.Passkeys(ctx, userID)
		if err != nil {
			return nil, err
		}
		if len(pks) > 0 {
			methods = append(methods, MethodPasskey)
		}
	}
	return methods, nil
}

// beginSecondStep stores a pending login and returns its token.
func (s *Service) beginSecondStep(ctx context.Context, user User, version int64, opt LoginOptions, trusted bool) (Token, error) {
	tok, err := newToken(s.rand)
	if err != nil {
		return "", err
	}
	p := pendingLogin{UserID: user.ID, Version: version, Remember: opt.Remember, Trusted: trusted}
	if err := s.putOnce(ctx, onceSecondStep, string(tok), clientBinding(ctx), p, s.now().Add(SecondStepLifetime)); err != nil {
		return "", err
	}
	return tok, nil
}

// CompleteLogin finishes a login that Login answered with a
// *SecondFactorRequiredError: token is its Token, answer the second factor.
// It starts the session exactly as Login would have, with the credential
// version the password check saw.
//
// Errors: ErrInvalidCode for a wrong answer, a replayed TOTP code, a used
// recovery code, and for a token that is unknown, spent, expired or
// presented by another client (not told apart); ErrInvalidCredentials when
// the password or a factor changed since the password step;
// ErrAccountDisabled; a *RateLimitError; ErrFactorUnavailable;
// ErrUnavailable.
func (s *Service) CompleteLogin(ctx context.Context, token Token, answer SecondFactor) (LoginResult, error) {
	ip, err := s.clientIP(ctx, "CompleteLogin")
	if err != nil {
		return LoginResult{}, err
	}
	client := s.throttle.clientKey(ip)
	method := answer.method()
	if !token.wellFormed() || method == "" {
		if err := s.throttle.admit(ctx, client); err != nil {
			return LoginResult{}, err
		}
		return LoginResult{}, ErrInvalidCode
	}
	var p pendingLogin
	expires, err := s.takeOnce(ctx, onceSecondStep, string(token), clientBinding(ctx), &p)
	if err != nil {
		if errors.Is(err, ErrInvalidCode) {
			if err := s.throttle.admit(ctx, client); err != nil {
				return LoginResult{}, err
			}
			s.audit(ctx, slog.LevelWarn, EventSecondStep, "", "bad_token")
		}
		return LoginResult{}, err
	}
	// putBack returns the token for another try after a wrong answer or a
	// refusal that was not the token's fault.
	putBack := func() {
		if p.Tries >= secondStepTries {
			return
		}
		if err := s.putOnce(ctx, onceSecondStep, string(token), clientBinding(ctx), p, expires); err != nil {
			s.log.Warn("localauth: keeping a second-step token failed", "err", err)
		}
	}
	user, err := s.store.UserByID(ctx, p.UserID)
	if err != nil {
		if errors.Is(err, ErrUserNotFound) {
			return LoginResult{}, ErrInvalidCode
		}
		putBack()
		return LoginResult{}, s.unavailable(ctx, "second step", err)
	}
	// Code guesses count per account whatever device the client holds.
	acct := s.throttle.factorKey(user.ID)
	if err := s.throttle.admit(ctx, acct, client); err != nil {
		putBack()
		s.audit(ctx, slog.LevelWarn, EventThrottled, user.Username, "second_step_refused")
		if errors.Is(err, ErrRateLimited) {
			s.alertLocked(ctx, user.ID)
			s.foldActivity(ctx, user.ID, ActivityAccountLocked, "too many failed attempts")
		}
		return LoginResult{}, err
	}
	ok, err := s.checkSecondFactor(ctx, user, answer)
	if err != nil {
		s.throttle.giveBack(ctx, acct, client)
		putBack()
		return LoginResult{}, err
	}
	if !ok {
		p.Tries++
		putBack()
		s.audit(ctx, slog.LevelWarn, EventSecondStep, user.Username, "bad_"+method, slog.Int64("user_id", user.ID))
		s.foldActivity(ctx, user.ID, ActivityLoginFailed, "wrong second factor")
		return LoginResult{}, ErrInvalidCode
	}
	if !user.Enabled {
		s.throttle.giveBack(ctx, client)
		s.audit(ctx, slog.LevelWarn, EventLoginFailed, user.Username, "account_disabled", slog.Int64("user_id", user.ID))
		return LoginResult{}, ErrAccountDisabled
	}
	s.throttle.loginDone(ip)
	// The login is complete: the account's count of code guesses starts
	// over.
	res, err := s.signIn(ctx, signIn{user: user, credVersion: p.Version, opt: LoginOptions{Remember: p.Remember},
		trusted: p.Trusted, method: method, giveBack: []throttle.Key{client}, reset: []throttle.Key{acct},
		attrs: []slog.Attr{slog.String("second_factor", method)}})
	if errors.Is(err, ErrCredentialChanged) {
		return LoginResult{}, ErrInvalidCredentials
	}
	return res, err
}

// checkSecondFactor reports whether answer proves the user's second
// factor, spending what it used (the TOTP step, the recovery code).
func (s *Service) checkSecondFactor(ctx context.Context, user User, answer SecondFactor) (bool, error) {
	switch {
	case answer.Code != "":
		ts, err := s.totpReady()
		if err != nil {
			return false, err
		}
		f, on, err := confirmedTOTP(ctx, ts, user.ID)
		if err != nil {
			return false, s.unavailable(ctx, "second step", err)
		}
		if !on {
			return false, nil
		}
		secret, err := s.openTOTP(user.ID, f.Sealed)
		if err != nil {
			return false, err
		}
		step, valid := s.totp.Validate(secret, normalizeCode(answer.Code), s.now())
		if !valid {
			return false, nil
		}
		fresh, err := ts.UseTOTPStep(ctx, user.ID, step)
		if err != nil {
			return false, s.unavailable(ctx, "second step", err)
		}
		if !fresh {
			s.audit(ctx, slog.LevelWarn, EventSecondStep, user.Username, "totp_replayed", slog.Int64("user_id", user.ID))
		}
		return fresh, nil
	case answer.RecoveryCode != "":
		rs, err := s.totpStore()
		if err != nil {
			return false, err
		}
		code := normalizeRecoveryCode(answer.RecoveryCode)
		if code == "" {
			return false, nil
		}
		h, err := s.recoveryHash(user.ID, code)
		if err != nil {
			return false, err
		}
		used, err := rs.UseRecoveryCode(ctx, user.ID, h)
		if err != nil {
			return false, s.unavailable(ctx, "second step", err)
		}
		if used {
			left, _ := rs.RecoveryCodesLeft(ctx, user.ID)
			s.audit(ctx, slog.LevelInfo, EventFactor, user.Username, "recovery_code_used",
				slog.Int64("user_id", user.ID), slog.Int("left", left))
		}
		return used, nil
	default:
		if _, err := s.verifyAssertion(ctx, answer.Passkey, user.ID); err != nil {
			if errors.Is(err, ErrInvalidCode) {
				return false, nil
			}
			return false, err
		}
		return true, nil
	}
}
