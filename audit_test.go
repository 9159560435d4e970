package localauth_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

type auditRecord struct {
	Msg     string `json:"msg"`
	Event   string `json:"event"`
	User    string `json:"user"`
	IP      string `json:"ip"`
	Outcome string `json:"outcome"`
	At      string `json:"at"`
	Action  string `json:"action"`
}

func auditRecords(t *testing.T, log string) []auditRecord {
	t.Helper()
	var out []auditRecord
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var r auditRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if r.Msg == "audit" {
			out = append(out, r)
		}
	}
	return out
}

// C39, C40: one audit record per event, with user, address, outcome and UTC
// time, and never a password or a token anywhere in the log.
func TestAuditTrail(t *testing.T) {
	e := MustEnv(t)
	c := localauth.WithClientIP(ctx, "192.0.2.44")
	const sentinelPW = "Sentinel-Passw0rd-6f1c"
	const nextPW = "Sentinel-Next-Passw0rd-93ab"
	u := e.MustRegister(t, "Alice", sentinelPW)
	e.Svc.Login(c, "alice", "Sentinel-Wrong-Passw0rd")
	r, err := e.Svc.Login(c, "alice", sentinelPW)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := e.Svc.Login(c, "alice", sentinelPW)
	if err := e.Svc.ChangePassword(c, r.Token, sentinelPW, nextPW); err != nil {
		t.Fatal(err)
	}
	if err := e.Svc.Logout(c, r.Token); err != nil {
		t.Fatal(err)
	}
	e.Svc.DisableUser(c, u.ID)
	for range 7 {
		e.Svc.Login(c, "alice", "Sentinel-Wrong-Passw0rd")
	}

	log := e.Log.String()
	for _, secret := range []string{sentinelPW, nextPW, "Sentinel-Wrong-Passw0rd", string(r.Token), string(r2.Token)} {
		if strings.Contains(log, secret) {
			t.Fatalf("the log contains a secret %q", secret)
		}
	}
	want := map[string]bool{}
	for _, rec := range auditRecords(t, log) {
		if rec.User != "alice" && rec.Event != localauth.EventRegister {
			t.Errorf("record %+v: user %q, want the canonical alice", rec, rec.User)
		}
		at, err := time.Parse(time.RFC3339Nano, rec.At)
		if err != nil || !strings.HasSuffix(rec.At, "Z") || at.IsZero() {
			t.Errorf("record %+v: time %q is not UTC RFC 3339", rec, rec.At)
		}
		if rec.Outcome == "" {
			t.Errorf("record %+v has no outcome", rec)
		}
		want[rec.Event+"/"+rec.Outcome] = true
		if rec.Event != localauth.EventRegister && rec.IP != "192.0.2.44" {
			t.Errorf("record %+v: ip %q, want 192.0.2.44", rec, rec.IP)
		}
	}
	for _, k := range []string{"register/success", "login_failed/bad_credentials", "login/success",
		"password_change/success", "logout/success", "admin/success", "throttled/login_refused"} {
		if !want[k] {
			t.Errorf("no audit record %s; got %v", k, want)
		}
	}
}

// C41: a username with a newline cannot forge a log line.
func TestAuditLogInjection(t *testing.T) {
	var buf bytes.Buffer
	e := MustEnv(t, func(c *localauth.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	})
	forged := "x\ntime=2026-01-01T00:00:00Z level=INFO msg=audit event=login user=admin outcome=success"
	e.Svc.Login(ctx, forged, "whatever")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("one failed login wrote %d lines:\n%s", len(lines), buf.String())
	}
	if strings.HasPrefix(lines[0], "time=2026-01-01") || !strings.Contains(lines[0], `\n`) {
		t.Fatalf("the newline was not escaped: %q", lines[0])
	}
}

// Audit records name a session by the id its user and the admin see, and
// by a token-hash prefix that ties its logout to its login.
func TestAuditNamesSessions(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	r := e.MustLogin(t, "alice", goodPW)
	if err := e.Svc.Logout(ctx, r.Token); err != nil {
		t.Fatal(err)
	}
	var login, logout map[string]any
	for _, line := range strings.Split(e.Log.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		switch {
		case rec["event"] == "login" && rec["outcome"] == "success":
			login = rec
		case rec["event"] == "logout":
			logout = rec
		}
	}
	if login == nil || logout == nil {
		t.Fatalf("no login and logout records in %s", e.Log)
	}
	if login["session"] != r.Session.PublicID || login["session"] == "" {
		t.Errorf("login record names session %v, want the public id %q", login["session"], r.Session.PublicID)
	}
	if h := r.Session.TokenHash.String(); login["session_hash"] != h || logout["session_hash"] != h {
		t.Errorf("session_hash: login %v, logout %v, want %q", login["session_hash"], logout["session_hash"], h)
	}
	if strings.Contains(e.Log.String(), string(r.Token)) {
		t.Error("the token is in the log")
	}
}
