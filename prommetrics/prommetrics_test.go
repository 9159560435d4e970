package prommetrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/localauth/localauth/prommetrics"
)

// Each hook moves its own series, and the names follow Prometheus'
// conventions (as testutil's linter checks them: _total counters, base
// units, help text).
func TestMetricsRecordAndLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := prommetrics.New(reg, "v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LiveTabs(func() int { return 7 }); err != nil {
		t.Fatal(err)
	}
	m.Login("success")
	m.Login("success")
	m.Login("bad_credentials")
	m.Registration("username_taken")
	m.ThrottleRefusal("login")
	m.HashAdmission(3*time.Millisecond, true)
	m.HashAdmission(20*time.Millisecond, false)
	m.HashesInFlight(1)
	m.HashesInFlight(1)
	m.HashesInFlight(-1)
	m.SessionCreated()
	m.SessionsEnded("revoked", 3)
	m.SessionsEnded("disabled", -1)
	m.SessionsEnded("expired", 5)
	m.StoreError("login")
	m.RevocationDelay(2 * time.Millisecond)

	want := `
# HELP localauth_logins_total Login attempts by outcome: success, bad_credentials, account_disabled, credentials_changed, throttled.
# TYPE localauth_logins_total counter
localauth_logins_total{outcome="account_disabled"} 0
localauth_logins_total{outcome="bad_credentials"} 1
localauth_logins_total{outcome="success"} 2
localauth_logins_total{outcome="throttled"} 0
# HELP localauth_hashes_in_flight Password hashes and comparisons running now.
# TYPE localauth_hashes_in_flight gauge
localauth_hashes_in_flight 1
# HELP localauth_live_tabs_open Live tabs (websocket connections) open now.
# TYPE localauth_live_tabs_open gauge
localauth_live_tabs_open 7
# HELP localauth_store_errors_total Store failures (database unreachable or failing), by operation.
# TYPE localauth_store_errors_total counter
localauth_store_errors_total{op="login"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"localauth_logins_total", "localauth_hashes_in_flight", "localauth_live_tabs_open", "localauth_store_errors_total"); err != nil {
		t.Error(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range s.GetLabel() {
				key += " " + l.GetValue()
			}
			switch {
			case s.Counter != nil:
				got[key] = s.GetCounter().GetValue()
			case s.Histogram != nil:
				got[key] = float64(s.GetHistogram().GetSampleCount())
			case s.Gauge != nil:
				got[key] = s.GetGauge().GetValue()
			}
		}
	}
	for key, want := range map[string]float64{
		"localauth_registrations_total username_taken": 1,
		"localauth_throttle_refusals_total login":      1,
		"localauth_hash_queue_wait_seconds admitted":   1,
		"localauth_hash_queue_wait_seconds refused":    1,
		"localauth_sessions_created_total":             1,
		"localauth_sessions_ended_total revoked":       3,
		"localauth_sessions_ended_total expired":       5,
		"localauth_session_revocations_total revoked":  1,
		"localauth_session_revocations_total disabled": 1,
		"localauth_revocation_propagation_seconds":     1,
	} {
		if got[key] != want {
			t.Errorf("%s: got %v, want %v", key, got[key], want)
		}
	}
	if _, ok := got["localauth_sessions_ended_total disabled"]; ok {
		t.Error("disabling counted sessions it cannot count")
	}
	found := false
	for key, v := range got {
		if strings.HasPrefix(key, "localauth_build_info ") && strings.HasSuffix(key, " v1.2.3") && v == 1 {
			found = true
		}
	}
	if !found {
		t.Errorf("no localauth_build_info with version v1.2.3 in %v", got)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	if _, err := prommetrics.New(reg, "again"); err == nil {
		t.Error("registering twice on one registry: got no error")
	}
}

// The mail hooks register their series at the first event and pass the
// linter.
func TestMailMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := prommetrics.New(reg, "test")
	if err != nil {
		t.Fatal(err)
	}
	m.Mail("reset", "sent")
	m.Mail("reset", "sent")
	m.Outbox(3, 90*time.Second)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, x := range f.GetMetric() {
			switch {
			case x.GetCounter() != nil:
				got[f.GetName()] += x.GetCounter().GetValue()
			case x.GetGauge() != nil:
				got[f.GetName()] += x.GetGauge().GetValue()
			}
		}
	}
	for name, want := range map[string]float64{
		"localauth_mails_total":                    2,
		"localauth_mail_outbox_depth":              3,
		"localauth_mail_outbox_oldest_age_seconds": 90,
	} {
		if got[name] != want {
			t.Errorf("%s got %v, want %v", name, got[name], want)
		}
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "localauth_mail") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}
