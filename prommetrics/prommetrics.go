// Package prommetrics exports localauth's metrics to Prometheus: a
// localauth.Metrics for Config.Metrics, plus gauges for what lives outside
// the Service (open live tabs) and the build. Every name starts with
// localauth_; every label takes one of a few fixed values.
package prommetrics

import (
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/localauth/localauth"
)

// Metrics is a localauth.Metrics that records into Prometheus collectors.
// It is safe for concurrent use.
type Metrics struct {
	logins         *prometheus.CounterVec
	registrations  *prometheus.CounterVec
	throttled      *prometheus.CounterVec
	queueWait      *prometheus.HistogramVec
	inFlight       prometheus.Gauge
	created        prometheus.Counter
	ended          *prometheus.CounterVec
	revocations    *prometheus.CounterVec
	storeErrors    *prometheus.CounterVec
	revocationWait prometheus.Histogram
	reg            prometheus.Registerer
	mailm          mailMetrics // see mail.go
}

var _ localauth.Metrics = (*Metrics)(nil)

// New creates the collectors and registers them, with
// localauth_build_info, on reg. It fails when reg already holds collectors
// of the same names.
func New(reg prometheus.Registerer, version string) (*Metrics, error) {
	m := &Metrics{
		reg: reg,
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "localauth_logins_total",
			Help: "Login attempts by outcome: success, bad_credentials, account_disabled, credentials_changed, throttled.",
		}, []string{"outcome"}),
		registrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "localauth_registrations_total",
			Help: "Registration attempts by outcome: success, username_taken, throttled.",
		}, []string{"outcome"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "localauth_throttle_refusals_total",
			Help: "Requests refused by the throttle, by kind: login, registration, password_change, reauth.",
		}, []string{"kind"}),
		queueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "localauth_hash_queue_wait_seconds",
			Help: "Time waited for a password-hashing slot, by result: admitted, or refused (busy).",
			// Around the default 20ms limit on the wait.
			Buckets: []float64{0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1},
		}, []string{"result"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "localauth_hashes_in_flight",
			Help: "Password hashes and comparisons running now.",
		}),
		created: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "localauth_sessions_created_total",
			Help: "Sessions started by a login.",
		}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "localauth_sessions_ended_total",
			Help: "Sessions ended, by reason: logout, session_cap, expired, password_change, revoked. Disabling or deleting an account ends its sessions uncounted: see localauth_session_revocations_total.",
		}, []string{"reason"}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "localauth_session_revocations_total",
			Help: "Revocations issued by this process, by reason: logout and session_cap (one session), password_change, revoked, disabled, deleted (all of an account's sessions).",
		}, []string{"reason"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "localauth_store_errors_total",
			Help: "Store failures (database unreachable or failing), by operation.",
		}, []string{"op"}),
		revocationWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "localauth_revocation_propagation_seconds",
			Help:    "Delay from a revocation's commit in the shared database to this instance reading it (PostgreSQL).",
			Buckets: []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "localauth_build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	build.Set(1)
	for _, c := range []prometheus.Collector{m.logins, m.registrations, m.throttled, m.queueWait, m.inFlight,
		m.created, m.ended, m.revocations, m.storeErrors, m.revocationWait, build} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Series that exist from the start, at zero, so that rates and alerts
	// work before the first event of each kind.
	for _, o := range []string{"success", "bad_credentials", "account_disabled", "throttled"} {
		m.logins.WithLabelValues(o)
	}
	for _, o := range []string{"success", "username_taken", "throttled"} {
		m.registrations.WithLabelValues(o)
	}
	for _, k := range []string{"login", "registration", "password_change", "reauth"} {
		m.throttled.WithLabelValues(k)
	}
	for _, r := range []string{"admitted", "refused"} {
		m.queueWait.WithLabelValues(r)
	}
	return m, nil
}

// LiveTabs registers localauth_live_tabs_open, read from open (such as
// live.App.Conns) at every scrape.
func (m *Metrics) LiveTabs(open func() int) error {
	return m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "localauth_live_tabs_open",
		Help: "Live tabs (websocket connections) open now.",
	}, func() float64 { return float64(open()) }))
}

func (m *Metrics) Login(outcome string)        { m.logins.WithLabelValues(outcome).Inc() }
func (m *Metrics) Registration(outcome string) { m.registrations.WithLabelValues(outcome).Inc() }
func (m *Metrics) ThrottleRefusal(kind string) { m.throttled.WithLabelValues(kind).Inc() }
func (m *Metrics) HashesInFlight(delta int)    { m.inFlight.Add(float64(delta)) }
func (m *Metrics) SessionCreated()             { m.created.Inc() }
func (m *Metrics) StoreError(op string)        { m.storeErrors.WithLabelValues(op).Inc() }

func (m *Metrics) HashAdmission(wait time.Duration, admitted bool) {
	result := "refused"
	if admitted {
		result = "admitted"
	}
	m.queueWait.WithLabelValues(result).Observe(wait.Seconds())
}

func (m *Metrics) SessionsEnded(reason string, n int) {
	if reason != "expired" {
		m.revocations.WithLabelValues(reason).Inc()
	}
	if n > 0 {
		m.ended.WithLabelValues(reason).Add(float64(n))
	}
}

func (m *Metrics) RevocationDelay(d time.Duration) { m.revocationWait.Observe(d.Seconds()) }
