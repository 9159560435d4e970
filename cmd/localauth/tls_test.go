package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeSelfSigned writes a certificate and key for 127.0.0.1 and returns
// their paths.
func writeSelfSigned(t *testing.T) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localauth test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	cert, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return cert, keyFile
}

// C37, C24: serve over TLS refuses TLS 1.1, sends HSTS, and sets the
// session cookie Secure with the __Host- prefix.
func TestServeTLS(t *testing.T) {
	cert, key := writeSelfSigned(t)
	srv := StartServer(t, "--tls-cert", cert, "--tls-key", key)
	if !strings.HasPrefix(srv.URL, "https://") {
		t.Fatalf("serving at %s, want https", srv.URL)
	}
	host := strings.TrimPrefix(srv.URL, "https://")
	old, err := tls.Dial("tcp", host, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11})
	if err == nil {
		old.Close()
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}}}
	res, err := client.Get(srv.URL + "/")
	if err != nil {
		t.Fatalf("TLS 1.2: %v", err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if h := res.Header.Get("Strict-Transport-Security"); !strings.Contains(h, "max-age=63072000") {
		t.Fatalf("HSTS %q", h)
	}
	srv.CLI(t).MustRun(alicePW+"\n", "user", "create", "alice", "--password-stdin")
	res, err = client.Post(srv.URL+"/api/auth/login", "application/json", strings.NewReader(`{"username":"alice","password":"`+alicePW+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	c := res.Header.Get("Set-Cookie")
	if !strings.HasPrefix(c, "__Host-localauth_session=") || !strings.Contains(c, "Secure") || !strings.Contains(c, "HttpOnly") {
		t.Fatalf("cookie over TLS: %q", c)
	}
}

// A non-loopback address without TLS gets a loud warning; loopback
// does not.
func TestPlainHTTPWarning(t *testing.T) {
	for addr, warn := range map[string]bool{"127.0.0.1:0": false, "0.0.0.0:0": true} {
		var out SyncWriter
		m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, weakCost: 4, Getenv: func(string) string { return "" }}
		ready := make(chan struct{})
		m.ready = func(string) { close(ready) }
		ctx, cancel := contextWithCancel()
		done := make(chan error, 1)
		go func() {
			done <- m.Run(ctx, []string{"serve", "--addr", addr, "--db", filepath.Join(t.TempDir(), "w.db")})
		}()
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("serve on %s: %v", addr, err)
		}
		cancel()
		<-done
		if got := strings.Contains(out.String(), "WARNING: listening on a non-loopback address without TLS"); got != warn {
			t.Errorf("serve on %s: warning printed = %v, want %v\n%s", addr, got, warn, out.String())
		}
	}
}

// C5: the forms allow paste and tell password managers what each field is.
func TestFormsAutocomplete(t *testing.T) {
	srv := StartServer(t)
	for path, wants := range map[string][]string{
		"/login":    {`autocomplete="username"`, `autocomplete="current-password"`},
		"/register": {`autocomplete="username"`, `autocomplete="new-password"`, `id="confirm_password"`},
	} {
		r := api(t, "GET", srv.URL+path, "")
		for _, w := range wants {
			if !strings.Contains(r.body, w) {
				t.Errorf("%s lacks %s", path, w)
			}
		}
		for _, bad := range []string{"onpaste", "maxlength", "pattern="} {
			if strings.Contains(r.body, bad) {
				t.Errorf("%s restricts input with %s", path, bad)
			}
		}
	}
}

// C14 on the live channel: a throttled login gets a clear message with the
// wait.
func TestLiveThrottleMessage(t *testing.T) {
	srv := StartServer(t)
	srv.Clock.Freeze() // the first delay is a whole second however slow the machine
	c, _, err := DialLive(t, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Send(map[string]any{"t": "hello", "id": 1, "route": "/login", "query": ""})
	for i := range 8 {
		c.Send(map[string]any{"t": "event", "id": 2 + i, "name": "login.on_submit", "fields": map[string]string{"username": "victim", "password": "guess"}})
	}
	c.Until(`Too many attempts. Please wait 1 second and try again.`)
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
