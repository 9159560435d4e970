package main

import (
	"bytes"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testSecretKey is the server key of test servers: PostgreSQL ones need
// one in the environment.
const testSecretKey = "8f1c6f0b5e3a4d2c9b7e6a5f4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c"

// testEnv is the environment of in-process test servers.
func testEnv(k string) string {
	if k == secretKeyEnv {
		return testSecretKey
	}
	return ""
}

// A SQLite server creates its key beside the database on first run, private
// to its owner, and uses the same key on the next; LOCALAUTH_SECRET_KEY
// overrides it and must be a real key; PostgreSQL refuses to start without
// it.
func TestSecretKey(t *testing.T) {
	db := filepath.Join(t.TempDir(), "new", "k.db") // a directory not made yet
	var errOut bytes.Buffer
	m := &Main{Stderr: &errOut, Getenv: func(string) string { return "" }}
	k1, err := m.loadSecretKey(db)
	if err != nil || len(k1) != 32 {
		t.Fatalf("first run: %d bytes, %v", len(k1), err)
	}
	fi, err := os.Stat(db + ".key")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if di, err := os.Stat(filepath.Dir(db)); err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("the directory made for it: %v; want 0700", err)
	}
	k2, err := m.loadSecretKey(db)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("the second run read another key")
	}
	os.Chmod(db+".key", 0o644)
	if _, err := m.loadSecretKey(db); err != nil || !strings.Contains(errOut.String(), "WARNING") {
		t.Fatalf("a readable key file: %v, stderr %q; want a warning", err, errOut.String())
	}
	env := func(v string) *Main {
		return &Main{Stderr: &errOut, Getenv: func(k string) string {
			if k == secretKeyEnv {
				return v
			}
			return ""
		}}
	}
	if k, err := env(testSecretKey).loadSecretKey(db); err != nil || hex.EncodeToString(k) != testSecretKey {
		t.Fatalf("LOCALAUTH_SECRET_KEY: %v", err)
	}
	for _, bad := range []string{"short", "00112233", "not hex or base64 !!"} {
		if _, err := env(bad).loadSecretKey(db); err == nil {
			t.Fatalf("LOCALAUTH_SECRET_KEY=%q accepted", bad)
		}
	}
	_, err = m.loadSecretKey("postgres://localauth@db.internal/localauth")
	if err == nil || !strings.Contains(err.Error(), secretKeyEnv) {
		t.Fatalf("PostgreSQL without a key: %v, want a refusal naming %s", err, secretKeyEnv)
	}
	// serve itself refuses, before it listens for anyone.
	err = (&Main{Stdout: &errOut, Stderr: &errOut, Getenv: func(string) string { return "" }}).Run(t.Context(),
		[]string{"serve", "--addr", "127.0.0.1:0", "--db", "postgres://nobody@127.0.0.1:1/none"})
	if err == nil || !strings.Contains(err.Error(), secretKeyEnv) {
		t.Fatalf("serve on PostgreSQL without a key: %v, want a refusal naming %s", err, secretKeyEnv)
	}
}

// Passkeys default to the relying party localhost only on a localhost
// address: browsers refuse a bare IP address as a relying party.
func TestDefaultRelyingParty(t *testing.T) {
	bound := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8123}
	id, origins, ok := defaultRelyingParty("localhost:0", bound, "https")
	if !ok || id != "localhost" || len(origins) != 1 || origins[0] != "https://localhost:8123" {
		t.Fatalf("localhost: %q %q %v", id, origins, ok)
	}
	for _, addr := range []string{"127.0.0.1:8000", "[::1]:8000", ":8000", "example.com:443", "0.0.0.0:8000"} {
		if _, _, ok := defaultRelyingParty(addr, bound, "http"); ok {
			t.Errorf("%s got a default relying party", addr)
		}
	}
}
