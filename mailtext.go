package localauth

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// mailText writes the mails: plain text, short, saying what happened, what
// to do if it was not the reader, and never anything a stranger could use
// but the link meant for the reader.
type mailText struct {
	site string // the host of the public URL, naming the service
}

func (t mailText) verify(to string, u User, link string, ttl time.Duration) Mail {
	return Mail{Kind: "verify", To: to,
		Subject: fmt.Sprintf("Confirm your email address for %s", t.site),
		Text: fmt.Sprintf(`Hello %s,

someone, probably you, asked to use this address for the account %q on %s.
To confirm it, open this link and press the button on the page:

%s

The link works once, for %s. If you did not ask for this, ignore this mail:
the address will not be used.
`, u.DisplayName, u.Username, t.site, link, durationText(ttl))}
}

func (t mailText) reset(to string, u User, link string, ttl time.Duration) Mail {
	return Mail{Kind: "reset", To: to,
		Subject: fmt.Sprintf("Reset your password for %s", t.site),
		Text: fmt.Sprintf(`Hello %s,

someone asked to reset the password of the account %q on %s.
To choose a new password, open this link:

%s

The link works once, for %s, and stops working if the password changes
another way. Resetting the password signs the account out everywhere; a
second factor, if you have one, is still asked for at the next login.

If you did not ask for this, ignore this mail: your password stays as it is.
`, u.DisplayName, u.Username, t.site, link, durationText(ttl))}
}

func (t mailText) passwordChanged(to string, u User) Mail {
	return Mail{Kind: "password_changed", To: to,
		Subject: fmt.Sprintf("Your password for %s was changed", t.site),
		Text: fmt.Sprintf(`Hello %s,

the password of the account %q on %s was just changed, and the account
was signed out of its other sessions.

If this was not you, reset your password at once and check the account's
second factors.
`, u.DisplayName, u.Username, t.site)}
}

// maskEmail shows an address in a notice to another one: its domain and
// the first character of its local part. The notice goes to an address
// that may be in a stranger's hands (that is why the owner is told), so it
// names the new address only as much as the owner needs to recognise it.
func maskEmail(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 {
		return "***"
	}
	local, domain := addr[:i], addr[i+1:]
	r, _ := utf8.DecodeRuneInString(local)
	return string(r) + "***@" + domain
}

func (t mailText) emailChanged(to string, u User, newAddr string) Mail {
	return Mail{Kind: "email_changed", To: to,
		Subject: fmt.Sprintf("A new email address was given for your account on %s", t.site),
		Text: fmt.Sprintf(`Hello %s,

a new email address, %s, was just given for the account %q on %s.
This address stays in force until the new one is confirmed.

If this was not you, change your password at once.
`, u.DisplayName, maskEmail(newAddr), u.Username, t.site)}
}

func (t mailText) emailReplaced(to string, u User, newAddr string) Mail {
	return Mail{Kind: "email_replaced", To: to,
		Subject: fmt.Sprintf("The email address of your account on %s was replaced", t.site),
		Text: fmt.Sprintf(`Hello %s,

an administrator set the email address of the account %q on %s
to %s.
Reset links and notices for the account go there from now on.

If you did not ask for this, contact the administrator at once.
`, u.DisplayName, u.Username, t.site, maskEmail(newAddr))}
}

func (t mailText) addressTaken(to string) Mail {
	return Mail{Kind: "address_taken", To: to,
		Subject: fmt.Sprintf("Your email address was given for another account on %s", t.site),
		Text: fmt.Sprintf(`Hello,

someone just gave this address for another account on %s. It stays with
your account; nothing changed. If this was you, sign in to the account
this address belongs to instead, or reset its password.
`, t.site)}
}

func (t mailText) factorChanged(to string, u User, what string) Mail {
	return Mail{Kind: "factor_changed", To: to,
		Subject: fmt.Sprintf("A second factor of your account on %s changed", t.site),
		Text: fmt.Sprintf(`Hello %s,

%s on the account %q on %s.

If this was not you, reset your password at once and check the account's
second factors.
`, u.DisplayName, what, u.Username, t.site)}
}

func (t mailText) test(to string) Mail {
	return Mail{Kind: "test", To: to,
		Subject: fmt.Sprintf("Test mail from %s", t.site),
		Text:    fmt.Sprintf("This mail tests the mail settings of %s. It needs no answer.\n", t.site)}
}

// durationText says a lifetime in minutes or hours.
func durationText(d time.Duration) string {
	if d >= 2*time.Hour && d%time.Hour == 0 {
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	}
	return fmt.Sprintf("%d minutes", int(d.Round(time.Minute)/time.Minute))
}
