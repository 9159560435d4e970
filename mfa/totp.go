package mfa

import (
	"bytes"
	"image/png"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/localauth/localauth"
)

// TOTP is a localauth.TOTPVerifier: 6-digit codes, 30-second steps, SHA-1
// (what every authenticator app reads from a QR code), 160-bit secrets. The
// zero value is ready to use.
type TOTP struct{}

var _ localauth.TOTPVerifier = TOTP{}

const period = 30

var opts = totp.ValidateOpts{Period: period, Skew: 0, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// NewKey implements localauth.TOTPVerifier.
func (TOTP) NewKey(issuer, account string) (secret, url string, err error) {
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Period: period, SecretSize: 20,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", "", err
	}
	return k.Secret(), k.URL(), nil
}

// Validate implements localauth.TOTPVerifier. It tries the step of t first,
// then the one before and the one after, and returns the step that
// matched, so that the caller can refuse a step it has seen.
func (TOTP) Validate(secret, code string, t time.Time) (int64, bool) {
	if len(code) != 6 {
		return 0, false
	}
	for _, d := range []int64{0, -1, 1} {
		at := t.Add(time.Duration(d*period) * time.Second)
		ok, err := totp.ValidateCustom(code, secret, at, opts)
		if err == nil && ok {
			return at.Unix() / period, true
		}
	}
	return 0, false
}

// QRCode implements localauth.TOTPVerifier, drawing the code with the QR
// encoder pquerna/otp uses (github.com/boombuler/barcode): no outside
// service ever sees the secret.
func (TOTP) QRCode(url string, size int) ([]byte, error) {
	k, err := otp.NewKeyFromURL(url)
	if err != nil {
		return nil, err
	}
	img, err := k.Image(size, size)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
