// Package mfa implements localauth's second-factor interfaces with the
// libraries that speak the protocols: TOTP (RFC 6238) with
// github.com/pquerna/otp, and passkeys (WebAuthn) with
// github.com/go-webauthn/webauthn.
//
// The localauth package holds the rules (who may enrol, when a login needs
// a second step, replay and guessing limits, what is stored, sealed and
// audited) and imports only the standard library and golang.org/x, so that
// an application that wants none of this pulls in none of it. The protocol
// code lives here, behind localauth.TOTPVerifier and
// localauth.PasskeyVerifier; cmd/localauth wires it:
//
//	svc, err := localauth.New(store, localauth.Config{
//		SecretKey: key,
//		TOTP:      mfa.TOTP{},
//		Passkeys:  passkeys, // mfa.NewPasskeys(mfa.PasskeyConfig{RPID: "example.com", Origins: []string{"https://example.com"}})
//	})
//
// Nothing here keeps state: ceremony state and secrets go back to the
// Service, which stores them.
package mfa
