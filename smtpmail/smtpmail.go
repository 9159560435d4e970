// Package smtpmail sends localauth's mail over SMTP, with
// github.com/wneessen/go-mail.
//
// The server is named by a URL: smtps://host[:465] for implicit TLS,
// smtp://host[:587] with STARTTLS required, and plain smtp:// without TLS
// only to a loopback host (a relay on the same machine), since mail carries
// reset links that must not cross a network in clear. A user and password
// in the URL are sent with SMTP AUTH, which go-mail refuses without TLS
// except to localhost.
package smtpmail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"

	gomail "github.com/wneessen/go-mail"

	"github.com/localauth/localauth"
)

// Mailer sends mail through one SMTP server. It is safe for concurrent use:
// each Send opens its own connection.
type Mailer struct {
	from string
	host string
	opts []gomail.Option
}

var _ localauth.Mailer = (*Mailer)(nil)

// Options tune a Mailer.
type Options struct {
	// TLSConfig is used for TLS to the server. Default: the system's
	// roots, verifying the URL's host name. Tests set their own roots.
	TLSConfig *tls.Config
}

// New returns a Mailer for the server rawURL names, sending from the
// address from.
//
// Errors: a description of what is wrong with rawURL or from; never the
// password.
func New(rawURL, from string, opts Options) (*Mailer, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("smtpmail: the SMTP URL is not a URL")
	}
	if _, err := mail.ParseAddress(from); err != nil || from == "" {
		return nil, fmt.Errorf("smtpmail: the sender %q is not an email address", from)
	}
	host := u.Hostname()
	if host == "" {
		return nil, errors.New("smtpmail: the SMTP URL names no host")
	}
	tlsCfg := opts.TLSConfig
	if tlsCfg == nil {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tlsCfg = tlsCfg.Clone()
	tlsCfg.ServerName = host
	m := &Mailer{from: from, host: host}
	port := 0
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return nil, errors.New("smtpmail: the SMTP URL's port is not a port")
		}
		port = n
	}
	switch {
	case u.Scheme == "smtps":
		m.opts = append(m.opts, gomail.WithSSL(), gomail.WithPort(or(port, 465)), gomail.WithTLSConfig(tlsCfg))
	case u.Scheme == "smtp" && loopback(host):
		// A relay on this machine: STARTTLS when it offers it, plain
		// otherwise, since the mail does not leave the host in clear.
		m.opts = append(m.opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic), gomail.WithPort(or(port, 25)), gomail.WithTLSConfig(tlsCfg))
	case u.Scheme == "smtp":
		m.opts = append(m.opts, gomail.WithTLSPolicy(gomail.TLSMandatory), gomail.WithPort(or(port, 587)), gomail.WithTLSConfig(tlsCfg))
	default:
		return nil, fmt.Errorf("smtpmail: the SMTP URL's scheme %q is neither smtp nor smtps", u.Scheme)
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		m.opts = append(m.opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pw))
	}
	return m, nil
}

func or(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// loopback reports whether host is a loopback address or localhost.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Send implements localauth.Mailer: one plain-text mail, one connection.
func (m *Mailer) Send(ctx context.Context, mm localauth.Mail) error {
	msg := gomail.NewMsg()
	if err := msg.From(m.from); err != nil {
		return fmt.Errorf("smtpmail: sender: %w", err)
	}
	if err := msg.To(mm.To); err != nil {
		return fmt.Errorf("smtpmail: recipient: %w", err)
	}
	msg.Subject(mm.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, mm.Text)
	c, err := gomail.NewClient(m.host, m.opts...)
	if err != nil {
		return fmt.Errorf("smtpmail: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtpmail: sending to %s: %w", m.host, err)
	}
	return nil
}
