package web

import (
	"context"
	"io"
	"net/http"
	"time"
)

// Health serves the probes of a load balancer: /healthz answers 200 while
// the process runs; /readyz answers 200 when ping (the store's) succeeds
// within two seconds, else 503, so that an instance cut off from its
// database is taken out of rotation until it is back.
func Health(ping func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ping(ctx); err != nil {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	return mux
}
