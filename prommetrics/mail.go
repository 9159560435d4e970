package prommetrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/localauth/localauth"
)

var _ localauth.MailMetrics = (*Metrics)(nil)

// mailMetrics are registered at the first mail event, so that a server
// without mail shows no mail series.
type mailMetrics struct {
	once   sync.Once
	mails  *prometheus.CounterVec
	depth  prometheus.Gauge
	oldest prometheus.Gauge
}

func (m *Metrics) mail() *mailMetrics {
	mm := &m.mailm
	mm.once.Do(func() {
		mm.mails = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "localauth_mails_total",
			Help: "Mails by kind (verify, reset, password_changed, email_changed, email_replaced, address_taken, factor_changed, test) and outcome: queued, limited (a reset refused by the per-account or per-address limit), sent, retry (the SMTP server refused or was unreachable), given_up.",
		}, []string{"kind", "outcome"})
		mm.depth = prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "localauth_mail_outbox_depth",
			Help: "Mails waiting in the outbox, as this instance last saw it.",
		})
		mm.oldest = prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "localauth_mail_outbox_oldest_age_seconds",
			Help: "Age of the oldest unsent mail, 0 when none waits: a growing value means mail is not getting out.",
		})
		for _, c := range []prometheus.Collector{mm.mails, mm.depth, mm.oldest} {
			if m.reg != nil {
				m.reg.Register(c) // a second Metrics on one registry keeps the first's
			}
		}
	})
	return mm
}

// Mail implements localauth.MailMetrics.
func (m *Metrics) Mail(kind, outcome string) { m.mail().mails.WithLabelValues(kind, outcome).Inc() }

// Outbox implements localauth.MailMetrics.
func (m *Metrics) Outbox(depth int, oldest time.Duration) {
	mm := m.mail()
	mm.depth.Set(float64(depth))
	mm.oldest.Set(oldest.Seconds())
}
