package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

// servers are the HTTP servers of a process (API, ingest, ops, pprof),
// each within the same limits.
type servers struct {
	limits HTTPLimits
	log    *slog.Logger
	fail   func(error) // a server that stops serving stops the process
	list   []*http.Server
}

// serve starts serving h on addr, logging the address it listens on.
func (s *servers) serve(name, addr string, h http.Handler) error {
	ln, err := s.limits.listen(addr)
	if err != nil {
		return err
	}
	srv := s.limits.server(h)
	s.list = append(s.list, srv)
	s.log.Info("listening", "server", name, "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(err)
		}
	}()
	return nil
}

// shutdown stops taking requests and waits, until ctx ends, for those in
// hand to be answered.
func (s *servers) shutdown(ctx context.Context) {
	for _, srv := range s.list {
		_ = srv.Shutdown(ctx)
	}
}

// close closes every server at once: for a Run that returns before it
// started everything.
func (s *servers) close() {
	for _, srv := range s.list {
		_ = srv.Close()
	}
}

// ops adds /healthz, /readyz and /metrics to mux.
func ops(mux *http.ServeMux, nc *nats.Conn, rdb *redis.Client, metrics *prometheus.Registry) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", readiness(nc, rdb))
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
}

// profiling is net/http/pprof's handlers (PPROF_ADDR).
func profiling() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
