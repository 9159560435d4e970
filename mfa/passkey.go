package mfa

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/localauth/localauth"
)

// PasskeyConfig names the relying party.
type PasskeyConfig struct {
	// RPID is the relying party id: the site's registrable domain or
	// host, without scheme or port ("example.com", "localhost").
	// Required.
	RPID string
	// Origins are the origins the pages run at ("https://example.com").
	// Required.
	Origins []string
	// DisplayName names the site in the browser's passkey dialogs.
	// Default "localauth".
	DisplayName string
	// Timeout is how long the browser lets the user answer. Default 2
	// minutes (the Service keeps a ceremony 3 minutes,
	// localauth.CeremonyLifetime).
	Timeout time.Duration
}

// Passkeys is a localauth.PasskeyVerifier on go-webauthn. Registrations ask
// for a discoverable credential and user verification; logins are
// discoverable (no username) and require user verification. Attestation is
// not requested: a passkey proves possession of its key, not its maker.
type Passkeys struct {
	w *webauthn.WebAuthn
}

var _ localauth.PasskeyVerifier = (*Passkeys)(nil)

// NewPasskeys returns a verifier for the relying party of cfg.
func NewPasskeys(cfg PasskeyConfig) (*Passkeys, error) {
	if cfg.RPID == "" || len(cfg.Origins) == 0 {
		return nil, errors.New("mfa: passkeys need a relying party id and at least one origin")
	}
	if cfg.DisplayName == "" {
		cfg.DisplayName = "localauth"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	t := webauthn.TimeoutConfig{Enforce: true, Timeout: cfg.Timeout, TimeoutUVD: cfg.Timeout}
	w, err := webauthn.New(&webauthn.Config{
		RPID: cfg.RPID, RPDisplayName: cfg.DisplayName, RPOrigins: cfg.Origins,
		Timeouts: webauthn.TimeoutsConfig{Login: t, Registration: t},
	})
	if err != nil {
		return nil, fmt.Errorf("mfa: %w", err)
	}
	return &Passkeys{w: w}, nil
}

// user is a localauth.PasskeyUser with its credentials, as go-webauthn
// wants a user.
type user struct {
	u     localauth.PasskeyUser
	creds []webauthn.Credential
}

func (u user) WebAuthnID() []byte                         { return u.u.Handle }
func (u user) WebAuthnName() string                       { return u.u.Name }
func (u user) WebAuthnDisplayName() string                { return u.u.DisplayName }
func (u user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// credentials decodes stored passkeys, with the sign counts the Service
// keeps (the record's own count is the one at registration).
func credentials(pks []localauth.Passkey) ([]webauthn.Credential, error) {
	out := make([]webauthn.Credential, 0, len(pks))
	for _, p := range pks {
		var c webauthn.Credential
		if err := json.Unmarshal(p.Credential, &c); err != nil {
			return nil, fmt.Errorf("mfa: a stored passkey does not decode: %w", err)
		}
		c.Authenticator.SignCount = p.SignCount
		c.Authenticator.CloneWarning = false
		out = append(out, c)
	}
	return out, nil
}

func ceremony(options any, session *webauthn.SessionData) (localauth.Ceremony, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return localauth.Ceremony{}, err
	}
	s, err := json.Marshal(session)
	if err != nil {
		return localauth.Ceremony{}, err
	}
	return localauth.Ceremony{Options: o, State: s, Challenge: session.Challenge}, nil
}

// BeginRegistration implements localauth.PasskeyVerifier.
func (p *Passkeys) BeginRegistration(u localauth.PasskeyUser, exclude []localauth.Passkey) (localauth.Ceremony, error) {
	creds, err := credentials(exclude)
	if err != nil {
		return localauth.Ceremony{}, err
	}
	wu := user{u: u, creds: creds}
	yes := true
	opts, session, err := p.w.BeginRegistration(wu,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			RequireResidentKey: &yes,
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationRequired,
		}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithExclusions(webauthn.Credentials(creds).CredentialDescriptors()),
	)
	if err != nil {
		return localauth.Ceremony{}, err
	}
	return ceremony(opts, session)
}

// FinishRegistration implements localauth.PasskeyVerifier.
func (p *Passkeys) FinishRegistration(u localauth.PasskeyUser, state, response []byte) (localauth.Passkey, error) {
	var session webauthn.SessionData
	if err := json.Unmarshal(state, &session); err != nil {
		return localauth.Passkey{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return localauth.Passkey{}, err
	}
	c, err := p.w.CreateCredential(user{u: u}, session, parsed)
	if err != nil {
		return localauth.Passkey{}, err
	}
	rec, err := json.Marshal(c)
	if err != nil {
		return localauth.Passkey{}, err
	}
	return localauth.Passkey{CredentialID: c.ID, Credential: rec, SignCount: c.Authenticator.SignCount}, nil
}

// BeginLogin implements localauth.PasskeyVerifier.
func (p *Passkeys) BeginLogin() (localauth.Ceremony, error) {
	opts, session, err := p.w.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return localauth.Ceremony{}, err
	}
	return ceremony(opts, session)
}

// Inspect implements localauth.PasskeyVerifier. It reads the fields every
// browser answer has (rawId, response.clientDataJSON and, for an
// assertion, response.userHandle) and verifies nothing.
func (p *Passkeys) Inspect(response []byte) (challenge string, credentialID, userHandle []byte, err error) {
	var r struct {
		RawID    string `json:"rawId"`
		Response struct {
			ClientDataJSON string `json:"clientDataJSON"`
			UserHandle     string `json:"userHandle"`
		} `json:"response"`
	}
	if err := json.Unmarshal(response, &r); err != nil {
		return "", nil, nil, err
	}
	cd, err := b64(r.Response.ClientDataJSON)
	if err != nil {
		return "", nil, nil, err
	}
	var client struct {
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(cd, &client); err != nil {
		return "", nil, nil, err
	}
	if credentialID, err = b64(r.RawID); err != nil {
		return "", nil, nil, err
	}
	if userHandle, err = b64(r.Response.UserHandle); err != nil {
		return "", nil, nil, err
	}
	return client.Challenge, credentialID, userHandle, nil
}

// b64 decodes base64url with or without padding.
func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// FinishLogin implements localauth.PasskeyVerifier.
func (p *Passkeys) FinishLogin(u localauth.PasskeyUser, pks []localauth.Passkey, state, response []byte) (localauth.Passkey, bool, error) {
	var session webauthn.SessionData
	if err := json.Unmarshal(state, &session); err != nil {
		return localauth.Passkey{}, false, err
	}
	creds, err := credentials(pks)
	if err != nil {
		return localauth.Passkey{}, false, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return localauth.Passkey{}, false, err
	}
	wu := user{u: u, creds: creds}
	_, c, err := p.w.ValidatePasskeyLogin(func(rawID, handle []byte) (webauthn.User, error) { return wu, nil }, session, parsed)
	if err != nil {
		return localauth.Passkey{}, false, err
	}
	for _, pk := range pks {
		if string(pk.CredentialID) == string(c.ID) {
			pk.SignCount = parsed.Response.AuthenticatorData.Counter
			return pk, c.Authenticator.CloneWarning, nil
		}
	}
	return localauth.Passkey{}, false, errors.New("mfa: the signing passkey is not the user's")
}
