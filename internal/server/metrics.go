package server

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/prommetrics"
)

// Metrics is the Prometheus side of "serve --metrics-addr": a registry
// with localauth's metrics and the Go runtime's and process's, served on a
// listener of its own, so that /metrics is never reachable through the
// app's address (it is operational detail, not for visitors).
type Metrics struct {
	prom *prommetrics.Metrics
	ln   net.Listener
	srv  *http.Server
}

// NewMetrics binds addr; a host left out (":9464") means 127.0.0.1.
// version is the build_info label. Serve it with Serve.
func NewMetrics(addr, version string) (*Metrics, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("metrics address %q: %v", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := prommetrics.New(reg, version)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("listening on %s for metrics: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return &Metrics{prom: m, ln: ln, srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
	}}, nil
}

// Hook is the localauth.Metrics to configure: the Prometheus one, or nil
// (the default, no-op) when m is nil, metrics off.
func (m *Metrics) Hook() localauth.Metrics {
	if m == nil {
		return nil
	}
	return m.prom
}

// Addr is the address /metrics is served at.
func (m *Metrics) Addr() net.Addr { return m.ln.Addr() }

// Serve serves /metrics until Close.
func (m *Metrics) Serve() { m.srv.Serve(m.ln) }

// Close stops serving.
func (m *Metrics) Close() {
	m.srv.Close()
	m.ln.Close()
}
