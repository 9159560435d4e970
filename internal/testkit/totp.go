package testkit

import (
	"fmt"
	"time"

	"github.com/pquerna/otp/totp"
)

// WrongTOTPCode returns a six-digit code that the TOTP secret does not give
// at now, nor a step or two either side, so a verifier allowing for drift
// refuses it. A fixed "000000" is the right code once in a few hundred
// thousand steps, and a test using it fails that often.
func WrongTOTPCode(secret string, now time.Time) string {
	valid := map[string]bool{}
	for step := -2; step <= 2; step++ {
		c, err := totp.GenerateCode(secret, now.Add(time.Duration(step)*30*time.Second))
		if err != nil {
			panic("testkit: not a TOTP secret: " + err.Error())
		}
		valid[c] = true
	}
	for n := 0; ; n++ {
		if c := fmt.Sprintf("%06d", n); !valid[c] {
			return c
		}
	}
}
