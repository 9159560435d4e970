package main

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"
)

// Under TLS 1.2 serve negotiates only ECDHE with AES-GCM or
// ChaCha20-Poly1305: each suite Go knows is offered alone, and a CBC suite
// (or any other) coming back into the configuration fails here.
func TestServeTLS12Suites(t *testing.T) {
	cert, key := writeSelfSigned(t)
	srv := StartServer(t, "--tls-cert", cert, "--tls-key", key)
	host := strings.TrimPrefix(srv.URL, "https://")
	var accepted []string
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if !slices.Contains(s.SupportedVersions, tls.VersionTLS12) {
			continue
		}
		conn, err := tls.Dial("tcp", host, &tls.Config{
			InsecureSkipVerify: true,
			MinVersion:         tls.VersionTLS12, MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{s.ID},
		})
		if err != nil {
			continue
		}
		got := conn.ConnectionState().CipherSuite
		conn.Close()
		accepted = append(accepted, tls.CipherSuiteName(got))
		if !slices.Contains(tls12Suites, got) {
			t.Errorf("TLS 1.2 handshake offering only %s negotiated %s, which is not an ECDHE AEAD suite", s.Name, tls.CipherSuiteName(got))
		}
		if strings.Contains(s.Name, "CBC") {
			t.Errorf("a CBC suite was accepted: %s", s.Name)
		}
	}
	// The certificate is ECDSA: its three AEAD suites must all work.
	for _, want := range []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"} {
		if !slices.Contains(accepted, want) {
			t.Errorf("%s refused; accepted %v", want, accepted)
		}
	}
	// A client that offers CBC alone is refused.
	if conn, err := tls.Dial("tcp", host, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}}); err == nil {
		conn.Close()
		t.Fatal("a TLS 1.2 handshake offering only CBC suites succeeded")
	}
	// TLS 1.3 still works.
	conn, err := tls.Dial("tcp", host, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatalf("TLS 1.3: %v", err)
	}
	conn.Close()
	for _, id := range tls12Suites {
		if name := tls.CipherSuiteName(id); !strings.HasPrefix(name, "TLS_ECDHE_") || !(strings.Contains(name, "_GCM_") || strings.Contains(name, "CHACHA20_POLY1305")) {
			t.Errorf("configured suite %s is not ECDHE with an AEAD", name)
		}
	}
}
