package mfa_test

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/mfa"
)

func TestTOTP(t *testing.T) {
	var v mfa.TOTP
	secret, url, err := v.NewKey("localauth", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != 32 || !strings.HasPrefix(url, "otpauth://totp/localauth:alice?") || !strings.Contains(url, "secret="+secret) {
		t.Fatalf("NewKey: secret %q url %q", secret, url)
	}
	now := time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)
	step := now.Unix() / 30
	for _, c := range []struct {
		name  string
		shift time.Duration
		ok    bool
		step  int64
	}{
		{"this step", 0, true, step},
		{"one step back", -30 * time.Second, true, step - 1},
		{"one step ahead", 30 * time.Second, true, step + 1},
		{"two steps back", -60 * time.Second, false, 0},
		{"two steps ahead", 60 * time.Second, false, 0},
	} {
		code, _ := totp.GenerateCode(secret, now.Add(c.shift))
		got, ok := v.Validate(secret, code, now)
		if ok != c.ok || got != c.step {
			t.Errorf("%s: got step %d ok %v, want %d %v", c.name, got, ok, c.step, c.ok)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := v.Validate(secret, bad, now); ok {
			t.Errorf("code %q accepted", bad)
		}
	}
	img, err := v.QRCode(url, 200)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil || cfg.Width != 200 || cfg.Height != 200 {
		t.Fatalf("QR code: %v %+v", err, cfg)
	}
}

func TestPasskeysConfig(t *testing.T) {
	if _, err := mfa.NewPasskeys(mfa.PasskeyConfig{RPID: "localhost"}); err == nil {
		t.Fatal("NewPasskeys without origins succeeded")
	}
	p, err := mfa.NewPasskeys(mfa.PasskeyConfig{RPID: "localhost", Origins: []string{"http://localhost:8000"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.BeginLogin()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Challenge) != 43 || !bytes.Contains(c.Options, []byte(`"userVerification":"required"`)) || !bytes.Contains(c.Options, []byte(c.Challenge)) {
		t.Fatalf("login ceremony: challenge %q options %s", c.Challenge, c.Options)
	}
	if _, _, _, err := p.Inspect([]byte(`{"rawId":"!!"}`)); err == nil {
		t.Fatal("Inspect accepted a malformed answer")
	}
	// A forged answer to a real ceremony does not verify.
	if _, _, err := p.FinishLogin(localauthUser(), nil, c.State, []byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA","userHandle":"AAAAAAAAAAE"}}`)); err == nil {
		t.Fatal("a forged assertion verified")
	}
}

func localauthUser() localauth.PasskeyUser {
	return localauth.PasskeyUser{Handle: []byte{0, 0, 0, 0, 0, 0, 0, 1}, Name: "alice", DisplayName: "alice"}
}
