package localauth

import "context"

// Notices by mail to the verified address of an account, when something
// that guards it changes: the owner learns of a change made by someone
// else while it can still be undone.

func (s *Service) notifyPasswordChanged(ctx context.Context, userID int64) {
	s.notify(ctx, userID, s.mailTextOr().passwordChanged)
}

// factorWords says what a change of second factors did, by its audit
// outcome; changes that neither add nor remove a factor send no notice.
var factorWords = map[string]string{
	"totp_on":         "An authenticator app was set up",
	"totp_off":        "The authenticator app was turned off",
	"passkey_added":   "A passkey was added",
	"passkey_removed": "A passkey was removed",
}

func (s *Service) notifyFactorChanged(ctx context.Context, userID int64, outcome string) {
	what, ok := factorWords[outcome]
	if !ok {
		return
	}
	s.notify(ctx, userID, func(to string, u User) Mail { return s.mailTextOr().factorChanged(to, u, what) })
}

// mailTextOr returns the mail writer, or a zero one when mail is off
// (notify then sends nothing).
func (s *Service) mailTextOr() mailText {
	if s.mail == nil {
		return mailText{}
	}
	return s.mail.text
}
