package main

import "crypto/tls"

// tls12Suites are the cipher suites serve offers under TLS 1.2: Mozilla's
// "intermediate" profile, ECDHE key exchange (forward secrecy) with AES-GCM
// or ChaCha20-Poly1305 only. Go's defaults add CBC suites, which scanners
// flag as obsolete (LUCKY13 and its kind) and no current browser needs. TLS
// 1.3, which every current browser speaks, has only AEAD suites and Go
// does not let them be configured.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// serverTLSConfig is serve's TLS configuration: TLS 1.2 or later, the
// suites above under 1.2.
func serverTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: tls12Suites,
		Certificates: []tls.Certificate{cert},
	}
}
