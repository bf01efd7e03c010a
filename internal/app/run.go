package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/delivery"
	"github.com/bluehq/webhooks/internal/dispatch"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/stream"
)

// Roles selects what a process does.
type Roles struct {
	Publisher, Dispatcher, Deliverer, API bool
}

// All is every role: webhookd.
var All = Roles{Publisher: true, Dispatcher: true, Deliverer: true, API: true}

// Run runs the roles until ctx ends, then stops them in order: intake first
// (ingest, API), then dispatch, then delivery (in-flight attempts finish or
// are handed back), then the NATS connection and embedded server. cfg is
// LoadConfig's.
func Run(ctx context.Context, cfg Config, roles Roles) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	nc, embedded, err := connectNATS(ctx, cfg, log)
	if err != nil {
		if ctx.Err() != nil { // stopped while waiting for NATS
			return nil
		}
		return err
	}
	defer func() {
		_ = nc.Drain()
		if embedded != nil {
			embedded.Shutdown()
		}
	}()
	p, release, err := newParts(ctx, cfg, log, nc)
	if err != nil {
		return err
	}
	defer release()
	sup := newSupervisor(ctx)
	defer sup.cancel()

	var cache *registry.Cache
	if roles.Dispatcher || roles.Deliverer {
		cache = registry.NewCache(p.kv, p.cacheCfg)
		sup.background.Go("registry cache", cache.Run)
		select {
		case <-cache.Ready():
		case <-ctx.Done():
			return nil
		}
	}
	var deliverer *delivery.Deliverer
	if roles.Deliverer {
		if deliverer, err = p.deliverer(cache); err != nil {
			return err
		}
	}
	// Jobs go straight to a deliverer when it can start them now (this
	// process's, or over NATS another's), and are stored in DELIVERIES
	// only when it cannot.
	var handoff dispatch.Handoff
	switch {
	case roles.Dispatcher && deliverer != nil && cfg.LocalHandoff:
		handoff = deliverer
	case roles.Dispatcher && deliverer == nil && cfg.RemoteHandoff:
		if handoff, err = p.remoteHandoff(sup.background); err != nil {
			return err
		}
	}
	dispatcher, err := p.dispatcher(cache, handoff)
	if err != nil {
		return err
	}

	srv := &servers{limits: cfg.HTTP, log: log, fail: sup.fail}
	defer srv.close()
	if roles.API {
		// Its backfill runs here; the consumer only where roles.Dispatcher.
		if err := p.serveAPI(ctx, srv, dispatcher); err != nil {
			return err
		}
	}
	if roles.Publisher {
		if err := p.serveIngest(srv, !roles.API); err != nil {
			return err
		}
	}
	if cfg.PprofAddr != "" {
		if err := srv.serve("pprof", cfg.PprofAddr, profiling()); err != nil {
			return err
		}
	}
	if !roles.API && !roles.Publisher {
		mux := http.NewServeMux()
		ops(mux, nc, p.rdb, p.metrics)
		if err := srv.serve("ops", cfg.OpsAddr, mux); err != nil {
			return err
		}
	}
	p.watch(sup.background, roles)

	if roles.Dispatcher {
		sup.dispatch.Go("dispatcher", dispatcher.Run)
	}
	if deliverer != nil {
		sup.deliver.Go("deliverer", deliverer.Run)
		if cfg.RemoteHandoff && !roles.Dispatcher {
			sup.deliver.Go("deliverer", func(ctx context.Context) error { return deliverer.ServeHandoffs(ctx, nc) })
		}
	}
	log.Info("started", "publisher", roles.Publisher, "dispatcher", roles.Dispatcher, "deliverer", roles.Deliverer, "api", roles.API, "embedded_nats", embedded != nil, "redis", p.rdb != nil)

	runErr := sup.wait(ctx)
	if runErr != nil {
		log.Error("stopping after error", "err", runErr)
	}
	if sup.stop(srv.shutdown, p.pol.IntakeStop, p.pol.StopWithin) {
		log.Info("stopped")
	} else {
		log.Warn("stop took too long; leaving the rest to redelivery")
	}
	return runErr
}

// ensureTopology checks the server and creates or reconciles the
// topology, retrying while the server is starting (a fresh cluster, or a
// restart racing this process). What retrying cannot fix (an old server, no
// JetStream, a stream that cannot be reconciled) fails at once.
func ensureTopology(ctx context.Context, js jetstream.JetStream, cfg stream.Config, log *slog.Logger) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := stream.CheckServer(ectx, js)
		if err == nil {
			err = stream.Ensure(ectx, js, cfg, log)
		}
		cancel()
		if err == nil {
			return nil
		}
		var incompatible *stream.IncompatibleError
		if errors.As(err, &incompatible) || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		log.WarnContext(ctx, "jetstream not ready; retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
