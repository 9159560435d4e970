package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// The server key that seals second-factor secrets (localauth.Config.SecretKey).
// It must stay out of the database: a copy of the database alone must not
// open the TOTP secrets. With SQLite it lives in a file beside the
// database, created on first run; with PostgreSQL, whose instances share
// one database and run anywhere, it must be given to every instance in
// LOCALAUTH_SECRET_KEY.

// secretKeyEnv names the environment variable holding the key: 32 bytes or
// more, in hex or base64.
const secretKeyEnv = "LOCALAUTH_SECRET_KEY"

// secretKeyPath is the key file of a SQLite database.
func secretKeyPath(db string) string { return db + ".key" }

// loadSecretKey returns the server key: from LOCALAUTH_SECRET_KEY, else
// (SQLite only) from the key file beside the database, created with 32
// random bytes and mode 0600 when missing.
func (m *Main) loadSecretKey(db string) ([]byte, error) {
	if v := strings.TrimSpace(m.Getenv(secretKeyEnv)); v != "" {
		key, err := decodeKey(v)
		if err != nil {
			return nil, usagef("%s: %v", secretKeyEnv, err)
		}
		return key, nil
	}
	if isPostgres(db) {
		return nil, usagef("%s is required with PostgreSQL: 32 random bytes in hex or base64, the same on every instance (e.g. openssl rand -hex 32)", secretKeyEnv)
	}
	path := secretKeyPath(db)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the secret key file: %w", err)
	}
	key, err := decodeKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("the secret key file %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(m.Stderr, "WARNING: %s can be read by other users (mode %04o). It seals the second-factor secrets; make it private: chmod 600 %s\n", path, fi.Mode().Perm(), path)
	}
	return key, nil
}

// createKeyFile writes a new random key, readable by its owner only. Of
// two processes starting at once, the one that loses the creation reads
// the winner's key.
func createKeyFile(path string) ([]byte, error) {
	key := make([]byte, 32)
	rand.Read(key)
	// The database's directory may not exist yet (the store makes it, one
	// level, private, when it opens): make it the same way.
	if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("creating the secret key file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return decodeKey(strings.TrimSpace(string(b)))
	}
	if err != nil {
		return nil, fmt.Errorf("creating the secret key file: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}

// decodeKey reads a key in hex or base64 (standard or URL alphabet, padded
// or not) and insists on at least 32 bytes.
func decodeKey(s string) ([]byte, error) {
	var key []byte
	if b, err := hex.DecodeString(s); err == nil {
		key = b
	} else {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				key = b
				break
			}
		}
	}
	if key == nil {
		return nil, errors.New("not hex or base64")
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("%d bytes, want at least 32", len(key))
	}
	return key, nil
}

// defaultRelyingParty derives the WebAuthn relying party from the address
// served when its host is localhost (as the default --addr is): id
// "localhost" and the origin scheme://localhost:port. Browsers accept
// passkeys on localhost without TLS, but never with a bare IP address as
// the relying party, so a loopback IP gets no default either: pages opened
// at http://127.0.0.1:PORT could not use them. Elsewhere give --rp-id and
// --rp-origin.
func defaultRelyingParty(asked string, bound net.Addr, scheme string) (string, []string, bool) {
	if host, _, err := net.SplitHostPort(asked); err != nil || host != "localhost" {
		return "", nil, false
	}
	_, port, err := net.SplitHostPort(bound.String())
	if err != nil {
		return "", nil, false
	}
	return "localhost", []string{scheme + "://localhost:" + port}, true
}
