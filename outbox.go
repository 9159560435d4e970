package localauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Mail is one plain-text message.
type Mail struct {
	// Kind names the mail for metrics and logs: "verify", "reset",
	// "password_changed", "email_changed", "email_replaced", "address_taken",
	// "factor_changed", "new_sign_in", "account_locked", "test".
	Kind    string
	To      string
	Subject string
	Text    string
}

// Mailer sends mail: package smtpmail has one over SMTP, and an application
// may implement it over its own provider. Send must return only once the
// mail is accepted for delivery, and an error when it is not: the outbox
// then tries again later.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// MailMetrics is an optional ability of a Metrics: counting mails and
// watching the outbox.
type MailMetrics interface {
	// Mail counts a mail by kind and outcome: "sent", "retry", "given_up",
	// "queued", "limited".
	Mail(kind, outcome string)
	// Outbox reports how many mails wait and how old the oldest is.
	Outbox(depth int, oldest time.Duration)
}

// MailConfig configures the mail flows (Config.Mail). The zero value has
// no Mailer: the flows return ErrMailUnavailable.
type MailConfig struct {
	// Mailer sends the mail. Default none.
	Mailer Mailer

	// PublicURL is the origin the links in mails point to, such as
	// "https://example.com". It is never taken from a request, whose Host
	// header an attacker chooses. Required with a Mailer.
	PublicURL string

	// ResetLifetime is how long a reset link works. Default 30 minutes.
	ResetLifetime time.Duration

	// VerifyLifetime is how long a verification link works. Default 24
	// hours.
	VerifyLifetime time.Duration

	// ResetsPerHour bounds the reset mails one account receives in an
	// hour. Default 3.
	ResetsPerHour int

	// MailsPerAddressPerDay bounds the reset and verification mails one
	// address receives in a day, whatever the accounts. Default 10.
	MailsPerAddressPerDay int

	// RetryFor is how long the outbox keeps trying to send a mail before
	// giving it up. Default 48 hours; never less than 24 hours.
	RetryFor time.Duration

	// PollInterval is how often the outbox looks for mails queued by
	// other instances or due for a retry. Default 2s.
	PollInterval time.Duration

	// QueueOnly turns the flows on without a Mailer: mails are queued in
	// the store for another process sharing it (a server) to send, and
	// this one starts no outbox worker. For administrative commands.
	// Default false.
	QueueOnly bool
}

// mailState is the Service's part for mail.
type mailState struct {
	store     MailStore
	mailer    Mailer
	public    string
	text      mailText
	resetTTL  time.Duration
	verifyTTL time.Duration
	perHour   int
	perAddr   int
	retryFor  time.Duration
	poll      time.Duration
	metrics   MailMetrics
	wake      chan struct{}
}

// newMailState checks cfg, or returns nil when mail is off.
func newMailState(cfg MailConfig, store Store, m Metrics) (*mailState, error) {
	if cfg.Mailer == nil && !cfg.QueueOnly {
		return nil, nil
	}
	ms, ok := store.(MailStore)
	if !ok {
		return nil, errors.New("localauth: a Mailer needs a Store that is a MailStore")
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("localauth: MailConfig.PublicURL %q is not an http(s) origin", cfg.PublicURL)
	}
	st := &mailState{
		store: ms, mailer: cfg.Mailer, public: strings.TrimRight(u.String(), "/"),
		resetTTL: cfg.ResetLifetime, verifyTTL: cfg.VerifyLifetime,
		perHour: cfg.ResetsPerHour, perAddr: cfg.MailsPerAddressPerDay,
		retryFor: cfg.RetryFor, poll: cfg.PollInterval,
		wake: make(chan struct{}, 1),
	}
	st.text = mailText{site: u.Host}
	if st.resetTTL <= 0 {
		st.resetTTL = 30 * time.Minute
	}
	if st.verifyTTL <= 0 {
		st.verifyTTL = 24 * time.Hour
	}
	if st.perHour <= 0 {
		st.perHour = 3
	}
	if st.perAddr <= 0 {
		st.perAddr = 10
	}
	if st.retryFor <= 0 {
		st.retryFor = 48 * time.Hour
	}
	st.retryFor = max(st.retryFor, 24*time.Hour)
	if st.poll <= 0 {
		st.poll = 2 * time.Second
	}
	st.metrics, _ = m.(MailMetrics)
	return st, nil
}

// anyMailStore returns the store as a MailStore, mail on or off: reading
// and vouching for addresses needs no Mailer.
func (s *Service) anyMailStore() (MailStore, error) {
	if ms, ok := s.store.(MailStore); ok {
		return ms, nil
	}
	return nil, ErrMailUnavailable
}

// mailStore returns the MailStore, or ErrMailUnavailable when mail is off.
func (s *Service) mailStore() (MailStore, error) {
	if s.mail == nil {
		return nil, ErrMailUnavailable
	}
	return s.mail.store, nil
}

// MailAvailable reports whether the mail flows are on: a Mailer and a
// MailStore.
func (s *Service) MailAvailable() bool { return s.mail != nil }

// link returns the public URL of path with the token as its query.
func (s *Service) link(path string, token Token) string {
	return s.mail.public + path + "?token=" + url.QueryEscape(string(token))
}

func (s *Service) mailMetric(kind, outcome string) {
	if s.mail != nil && s.mail.metrics != nil {
		s.mail.metrics.Mail(kind, outcome)
	}
}

// wakeOutbox tells this process's outbox worker that mail is waiting.
func (s *Service) wakeOutbox() {
	if s.mail == nil {
		return
	}
	select {
	case s.mail.wake <- struct{}{}:
	default:
	}
}

// notify queues a notice to the user's verified address, if any. A
// failure is logged: the change it tells of is already made.
func (s *Service) notify(ctx context.Context, userID int64, compose func(to string, u User) Mail) {
	if to, ok := s.verifiedAddress(ctx, userID); ok {
		s.notifyAt(ctx, userID, to, compose)
	}
}

// verifiedAddress returns the user's verified address: false when mail is
// off, the user has none, or it cannot be read.
func (s *Service) verifiedAddress(ctx context.Context, userID int64) (string, bool) {
	if s.mail == nil {
		return "", false
	}
	st, err := s.mail.store.UserEmail(ctx, userID)
	if err != nil || !st.Verified || st.Email == "" {
		return "", false
	}
	return st.Email, true
}

// notifyAt queues a notice to to, the user's verified address.
func (s *Service) notifyAt(ctx context.Context, userID int64, to string, compose func(to string, u User) Mail) {
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return
	}
	m := compose(to, u)
	if err := s.mail.store.EnqueueMail(ctx, []Mail{m}, s.now().UTC()); err != nil {
		s.log.Error("localauth: queueing a notice failed", "kind", m.Kind, "err", err)
		return
	}
	s.mailMetric(m.Kind, "queued")
	s.wakeOutbox()
}

// outboxLoop sends queued mail until ctx ends: at once when this process
// queued some, else every poll interval, for mail queued by other
// instances and retries that came due.
func (s *Service) outboxLoop(ctx context.Context) {
	t := time.NewTicker(s.mail.poll)
	defer t.Stop()
	for {
		if _, err := s.DeliverMail(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("localauth: the outbox failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.mail.wake:
		}
	}
}

// mailLease is how long a claimed mail is held: past it another instance
// may send it, so it is well beyond any SMTP exchange.
const mailLease = 5 * time.Minute

// DeliverMail sends every mail due now, and returns how many it sent. The
// outbox worker New starts calls it; tests and commands may too. Each
// mail is claimed first, so that instances sharing the store send it once.
// A mail that fails is tried again after a backoff that doubles from 30
// seconds to an hour, until MailConfig.RetryFor has passed since it was
// queued.
//
// Errors: ErrMailUnavailable; ErrUnavailable.
func (s *Service) DeliverMail(ctx context.Context) (int, error) {
	if s.mail == nil || s.mail.mailer == nil {
		return 0, ErrMailUnavailable
	}
	ms := s.mail.store
	sent := 0
	defer s.reportOutbox(ctx)
	for ctx.Err() == nil {
		now := s.now().UTC()
		m, ok, err := ms.ClaimMail(ctx, now, mailLease)
		if err != nil {
			return sent, s.unavailable(ctx, "claim mail", err)
		}
		if !ok {
			return sent, nil
		}
		sendCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err = s.mail.mailer.Send(sendCtx, m.Mail)
		cancel()
		if err == nil {
			sent++
			s.mailMetric(m.Kind, "sent")
			if err := ms.DeleteMail(ctx, m.ID); err != nil {
				return sent, s.unavailable(ctx, "mail sent", err)
			}
			continue
		}
		if now.Sub(m.CreatedAt) >= s.mail.retryFor {
			s.mailMetric(m.Kind, "given_up")
			s.log.Error("localauth: giving up a mail", "kind", m.Kind, "attempts", m.Attempts, "err", err)
			if err := ms.DeleteMail(ctx, m.ID); err != nil {
				return sent, s.unavailable(ctx, "give up mail", err)
			}
			continue
		}
		s.mailMetric(m.Kind, "retry")
		s.log.Warn("localauth: sending a mail failed; it will be retried", "kind", m.Kind, "attempts", m.Attempts, "err", err)
		if err := ms.RetryMail(ctx, m.ID, now.Add(mailBackoff(m.Attempts))); err != nil {
			return sent, s.unavailable(ctx, "retry mail", err)
		}
		// The server refused this one; the others would wait on it too.
		return sent, nil
	}
	return sent, ctx.Err()
}

// mailBackoff is the wait after the given number of failed attempts.
func mailBackoff(attempts int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempts && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

func (s *Service) reportOutbox(ctx context.Context) {
	if s.mail.metrics == nil || ctx.Err() != nil {
		return
	}
	n, oldest, err := s.mail.store.OutboxStats(ctx)
	if err != nil {
		return
	}
	var age time.Duration
	if !oldest.IsZero() {
		age = max(s.now().Sub(oldest), 0)
	}
	s.mail.metrics.Outbox(n, age)
}

// SendTestMail queues a test mail to addr, to try the mail settings (the
// localauth mail test command).
//
// Errors: ErrInvalidEmail; ErrMailUnavailable; ErrUnavailable.
func (s *Service) SendTestMail(ctx context.Context, addr string) error {
	addr, err := NormalizeEmail(addr)
	if err != nil {
		return err
	}
	if s.mail == nil {
		return ErrMailUnavailable
	}
	if err := s.mail.store.EnqueueMail(ctx, []Mail{s.mail.text.test(addr)}, s.now().UTC()); err != nil {
		return s.unavailable(ctx, "test mail", err)
	}
	s.log.Info("localauth: test mail queued", slog.String("kind", "test"))
	s.wakeOutbox()
	return nil
}

// purgeMailTokens deletes mailed tokens older than a day: every one has
// expired by then, and the per-account and per-address limits look back
// no further.
func (s *Service) purgeMailTokens(ctx context.Context, now time.Time) {
	if s.mail == nil {
		return
	}
	if _, err := s.mail.store.DeleteOldMailTokens(ctx, now.Add(-25*time.Hour)); err != nil && ctx.Err() == nil {
		s.log.Warn("localauth: purging old mail tokens failed", "err", err)
	}
}
