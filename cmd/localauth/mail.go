package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/smtpmail"
)

// mailFlags are the mail settings of serve and of the mail commands.
type mailFlags struct {
	smtpURL, from, publicURL *string
}

func (m *Main) mailFlags(fs *flag.FlagSet, withPublic bool) *mailFlags {
	f := &mailFlags{}
	f.smtpURL = fs.String("smtp-url", m.Getenv("LOCALAUTH_SMTP_URL"), "the SMTP server mail goes through (env LOCALAUTH_SMTP_URL): smtps://[user:password@]host[:465] for implicit TLS, smtp://…host[:587] with STARTTLS required, plain smtp:// only to a loopback host; default none: mails are written to the log")
	f.from = fs.String("mail-from", m.Getenv("LOCALAUTH_MAIL_FROM"), "the sender `address` of mails (env LOCALAUTH_MAIL_FROM); needed with --smtp-url")
	if withPublic {
		f.publicURL = fs.String("public-url", m.Getenv("LOCALAUTH_PUBLIC_URL"), "the `origin` links in mails point to, e.g. https://example.com (env LOCALAUTH_PUBLIC_URL); never taken from a request's Host header. Default for serve: the address it serves at")
	}
	return f
}

// mailer returns the Mailer the flags name: SMTP, or, without --smtp-url,
// one that writes mails to w (logged reports whether it did).
func (f *mailFlags) mailer(w io.Writer) (mailer localauth.Mailer, logged bool, err error) {
	if *f.smtpURL == "" {
		return &logMailer{w: w}, true, nil
	}
	if *f.from == "" {
		return nil, false, usagef("--smtp-url needs --mail-from")
	}
	sm, err := smtpmail.New(*f.smtpURL, *f.from, smtpmail.Options{})
	if err != nil {
		return nil, false, usagef("--smtp-url: %v", err)
	}
	return sm, false, nil
}

// logMailer writes each mail, whole and readable, to a writer: the demo
// without an SMTP server still shows its mails and their links. The links
// are secrets, so a real deployment gives --smtp-url.
type logMailer struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *logMailer) Send(_ context.Context, m localauth.Mail) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := fmt.Fprintf(l.w, "----- mail (%s) to %s -----\nSubject: %s\n\n%s----- end of mail -----\n", m.Kind, m.To, m.Subject, m.Text)
	return err
}

// userSetEmailCmd is "user set-email NAME EMAIL [--verified]".
type userSetEmailCmd struct{ m *Main }

func (c *userSetEmailCmd) Run(ctx context.Context, args []string) error {
	fs, db := c.m.flagSet("user set-email")
	verified := fs.Bool("verified", false, "record the address as verified at once, without a link (you vouch for it)")
	public := fs.String("public-url", c.m.Getenv("LOCALAUTH_PUBLIC_URL"), "without --verified: the `origin` the verification link points to (env LOCALAUTH_PUBLIC_URL); the running server sends the mail")
	pos, err := parse(fs, args, 2, 2)
	if err != nil {
		return err
	}
	if !*verified && *public == "" {
		return usagef("user set-email: give --verified, or --public-url for the verification link")
	}
	if err := checkDB(*db, false); err != nil {
		return err
	}
	st, closeStore, err := c.m.openStoreMetrics(ctx, *db, nil, true)
	if err != nil {
		return err
	}
	defer closeStore()
	cfg, err := c.m.serviceConfig()
	if err != nil {
		return err
	}
	cfg.PurgeInterval = -1
	cfg.NoClientAddress = true
	if !*verified {
		// The server sharing the database sends what this queues.
		cfg.Mail = localauth.MailConfig{QueueOnly: true, PublicURL: *public}
	}
	svc, err := localauth.New(st, cfg)
	if err != nil {
		return usagef("user set-email: %v", err)
	}
	defer svc.Close()
	name, err := localauth.CanonicalUsername(pos[0])
	if err != nil {
		return explain(err, pos[0])
	}
	if err := svc.SetUserEmail(ctx, name, pos[1], *verified); err != nil {
		switch {
		case err == localauth.ErrUserNotFound:
			return fmt.Errorf("no user %s", pos[0])
		case err == localauth.ErrEmailTaken:
			return fmt.Errorf("another account has verified %s", pos[1])
		case err == localauth.ErrInvalidEmail:
			return fmt.Errorf("%q is not one plain email address", pos[1])
		}
		return explain(err, pos[0])
	}
	if *verified {
		fmt.Fprintf(c.m.Stdout, "set the verified email address of %s\n", name)
	} else {
		fmt.Fprintf(c.m.Stdout, "set the email address of %s; the running server mails it a verification link\n", name)
	}
	return nil
}

// mailTestCmd is "mail test --to ADDR": one mail sent at once, to try the
// SMTP settings, the error in full if it fails.
type mailTestCmd struct{ m *Main }

func (c *mailTestCmd) Run(ctx context.Context, args []string) error {
	fs, _ := c.m.flagSet("mail test")
	to := fs.String("to", "", "the `address` to send the test mail to")
	flags := c.m.mailFlags(fs, false)
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	addr, err := localauth.NormalizeEmail(*to)
	if err != nil {
		return usagef("mail test: --to must be one plain email address")
	}
	mailer, logged, err := flags.mailer(c.m.Stdout)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	m := localauth.Mail{Kind: "test", To: addr, Subject: "Test mail from localauth",
		Text: "This mail tests the mail settings of localauth. It needs no answer.\n"}
	if err := mailer.Send(sctx, m); err != nil {
		return fmt.Errorf("the test mail was not sent: %v", err)
	}
	if logged {
		fmt.Fprintln(c.m.Stdout, "no --smtp-url: the mail above was written here, not sent")
		return nil
	}
	fmt.Fprintf(c.m.Stdout, "sent a test mail to %s\n", addr)
	return nil
}

// userRow is a user as "user list" shows it: the library's own JSON of a
// User, with its email address beside it.
type userRow struct {
	localauth.User
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
}

// userRows reads the users' addresses; a store without them shows none.
func userRows(ctx context.Context, svc *localauth.Service, users []localauth.User) []userRow {
	rows := make([]userRow, 0, len(users))
	for _, u := range users {
		st, _ := svc.UserEmail(ctx, u.ID)
		rows = append(rows, userRow{User: u, Email: st.Email, EmailVerified: st.Verified})
	}
	return rows
}

// emailColumn is the EMAIL column of "user list".
func emailColumn(r userRow) string {
	switch {
	case r.Email == "":
		return "-"
	case !r.EmailVerified:
		return r.Email + " (unverified)"
	}
	return r.Email
}

// configureMail turns on the mail flows of serve: over SMTP with
// --smtp-url, else written to standard error, which it says at start-up.
// Links point to --public-url, by default the address served at.
func (c *serveCmd) configureMail(cfg *localauth.Config, f *mailFlags, served string) error {
	mailer, logged, err := f.mailer(c.m.Stderr)
	if err != nil {
		return err
	}
	public := *f.publicURL
	if public == "" {
		public = served
	}
	cfg.Mail = localauth.MailConfig{Mailer: mailer, PublicURL: public}
	if logged {
		fmt.Fprintln(c.m.Stdout, "localauth: no --smtp-url: mails (password reset and verification links included) are written to standard error, not sent")
	} else {
		fmt.Fprintf(c.m.Stdout, "localauth: mail goes through %s; links point to %s\n", redactDSN(*f.smtpURL), public)
	}
	return nil
}
