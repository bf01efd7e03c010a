package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/bluehq/webhooks/internal/api"
	"github.com/bluehq/webhooks/internal/delivery"
	"github.com/bluehq/webhooks/internal/dispatch"
	"github.com/bluehq/webhooks/internal/filter"
	"github.com/bluehq/webhooks/internal/handoff"
	"github.com/bluehq/webhooks/internal/ingest"
	"github.com/bluehq/webhooks/internal/inspect"
	"github.com/bluehq/webhooks/internal/netguard"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/retry"
	"github.com/bluehq/webhooks/internal/seal"
	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/telemetry"
	"github.com/bluehq/webhooks/internal/webhook"
	"github.com/bluehq/webhooks/pkg/publish"
)

// Roles selects what a process does.
type Roles struct {
	Publisher, Dispatcher, Deliverer, API bool
}

// All is every role: webhookd.
var All = Roles{Publisher: true, Dispatcher: true, Deliverer: true, API: true}

// Run runs the roles until ctx ends, then stops them in order: intake first
// (ingest, API), then dispatch, then delivery (in-flight attempts finish or
// are handed back), then the NATS connection and embedded server.
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
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192),
		jetstream.WithPublishAsyncTimeout(10*time.Second),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			log.Warn("async publish failed", "subject", m.Subject, "err", err)
		}))
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	// What must be stored (jobs, retries, dead letters) is sent again by
	// stream.Store when no ack came within stream.Resend; an ack not seen
	// within two of those is given up on.
	storeJS, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192), jetstream.WithPublishAsyncTimeout(2*stream.Resend))
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if err := ensureTopology(ctx, js, cfg.Stream, log); err != nil {
		return err
	}
	kv, err := js.KeyValue(ctx, stream.Registry)
	if err != nil {
		return fmt.Errorf("registry bucket: %w", err)
	}

	var rdb *redis.Client
	var tier *registry.RedisTier
	if cfg.RedisURL != "" {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		if opts.Protocol == 0 {
			// RESP2 unless REDIS_URL asks for another (?protocol=3). RESP3
			// only adds push notifications (pub/sub, client tracking,
			// maintenance notifications), none of which is used here, and
			// go-redis checks for pending ones before reading every reply.
			opts.Protocol = 2
		}
		rdb = redis.NewClient(opts)
		defer rdb.Close()
		tier = registry.NewRedisTier(rdb, cfg.RedisKeyPrefix, time.Hour)
	}
	box, err := seal.New(cfg.SecretKey)
	if err != nil {
		return err
	}
	storeCfg := registry.StoreConfig{Box: box, MaxPerCompany: cfg.WebhookLimit}
	cacheCfg := registry.CacheConfig{Box: box, Logger: log}
	if tier != nil {
		storeCfg.Invalidator = tier
		cacheCfg.Shared = tier
	}
	store, err := registry.NewStore(kv, storeCfg)
	if err != nil {
		return err
	}
	tp, stopTracing, err := telemetry.SetupTracing(ctx, cfg.Service, cfg.Getenv)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = stopTracing(sctx)
	}()
	tracer := func(pkg string) trace.Tracer { return tp.Tracer("github.com/bluehq/webhooks/internal/" + pkg) }
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	tm := telemetry.NewMetrics(metrics)

	publisher, err := publish.New(nc, publish.WithTracerProvider(tp), publish.WithPublished(tm.EventPublished), publish.WithWait(cfg.PublishWait))
	if err != nil {
		return err
	}
	guard := netguard.New(cfg.AllowedCIDRs)
	filters, err := filter.NewCompiler(filter.WithMaxStringSize(cfg.MaxEventBytes))
	if err != nil {
		return err
	}
	cacheCfg.CompileFilter = filters.Compile

	runCtx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	var workers sync.WaitGroup
	errc := make(chan error, 8)
	start := func(name string, f func(context.Context) error) {
		workers.Go(func() {
			if err := f(runCtx); err != nil {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		})
	}

	var cache *registry.Cache
	if roles.Dispatcher || roles.Deliverer {
		cache = registry.NewCache(kv, cacheCfg)
		start("registry cache", cache.Run)
		select {
		case <-cache.Ready():
		case <-ctx.Done():
			return nil
		}
	}
	var shared state.State = state.NewMemory(state.BreakerPolicy{})
	if rdb != nil {
		shared = state.NewRedis(rdb, cfg.RedisKeyPrefix+"wh:", state.BreakerPolicy{})
	}
	var deliverer *delivery.Deliverer
	if roles.Deliverer {
		deliverer, err = delivery.New(delivery.Deps{
			JS: js, Publisher: storeJS, Resolver: cache, Registry: store, State: shared, Events: publisher,
			Client: delivery.NewClient(delivery.ClientConfig{Guard: guard, Timeout: cfg.DeliveryTimeout, MaxConns: cfg.MaxInFlight, MaxHeaderBytes: cfg.DeliveryMaxHeaderBytes}),
		}, delivery.Config{
			Shards:              cfg.Stream.Shards,
			Timeout:             cfg.DeliveryTimeout,
			Policy:              retry.Policy{Delays: cfg.RetrySchedule, Jitter: 0.2, MaxRetryAfter: time.Hour},
			MaxInFlight:         cfg.MaxInFlight,
			EndpointConcurrency: cfg.EndpointConcurrency,
			SlotWait:            time.Second,
			Heartbeat:           stream.HeartbeatFor(cfg.Stream.AckWait),
			EndpointRate:        cfg.EndpointRate,
			DisableAfter:        cfg.DisableAfter,
			Logger:              log,
			Metrics:             tm,
			Tracer:              tracer("delivery"),
			SendTraceparent:     cfg.SendTraceparent,
		})
		if err != nil {
			return err
		}
	}

	dcfg := dispatch.Config{
		Shards: cfg.Stream.Shards, Workers: cfg.Workers, Logger: log, Metrics: tm, Tracer: tracer("dispatch"),
		Publisher: storeJS, Heartbeat: stream.HeartbeatFor(cfg.Stream.AckWait),
	}
	switch {
	case roles.Dispatcher && deliverer != nil && cfg.LocalHandoff:
		// Jobs go straight to this process's deliverer when it can start
		// them now, and are stored in DELIVERIES only when it cannot.
		dcfg.Handoff = deliverer
		dcfg.SettleWait = cfg.DeliveryTimeout + 3*time.Second
	case roles.Dispatcher && deliverer == nil && cfg.RemoteHandoff:
		// The same, to the deliverers of other processes over NATS.
		remote, err := handoff.NewClient(nc, handoff.Config{
			Publisher: storeJS, Silence: cfg.Stream.AckWait, Refused: tm.HandoffRefused,
		})
		if err != nil {
			return err
		}
		start("handoff", remote.Run)
		dcfg.Handoff = remote
		dcfg.SettleWait = cfg.DeliveryTimeout + 3*time.Second
	}
	dispatcher, err := dispatch.New(js, cache, dcfg)
	if err != nil {
		return err
	}

	// HTTP: the API (with ops endpoints) and the ingest.
	var servers []*http.Server
	serve := func(name, addr string, h http.Handler) error {
		ln, err := cfg.HTTP.listen(addr)
		if err != nil {
			return err
		}
		srv := cfg.HTTP.server(h)
		servers = append(servers, srv)
		log.Info("listening", "server", name, "addr", ln.Addr().String())
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
		return nil
	}
	ops := func(mux *http.ServeMux) {
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
		mux.HandleFunc("GET /readyz", readiness(nc, rdb))
		mux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	}
	if roles.API {
		mux := http.NewServeMux()
		ops(mux)
		rules := webhook.Rules{KnownEvent: publisher.Catalogue().Known, CheckURL: guard.CheckURL, CheckFilter: filters.Check,
			// The deliverers' defaults are also the ceilings of a webhook's own caps.
			Limits: webhook.Limits{Rate: cfg.EndpointRate, Concurrency: cfg.EndpointConcurrency}}
		sessions, err := portalSessions(ctx, js, cfg)
		if err != nil {
			return err
		}
		inspector := inspect.New(js, shared, cfg.Stream.Shards)
		server, err := api.New(mux, store, publisher.Catalogue(), api.Config{
			Tokens:          cfg.APITokens,
			Rules:           rules,
			Logger:          log,
			Inspector:       inspector,
			Events:          publisher,
			Backfiller:      dispatcher, // its Backfill only; the consumer runs where roles.Dispatcher
			CompileFilter:   filters.Compile,
			RotationOverlap: cfg.RotationOverlap,
			Portal:          sessions,
		})
		if err != nil {
			return err
		}
		if err := mountPortal(mux, server, sessions, js, inspector, cfg, log); err != nil {
			return err
		}
		if err := serve("api", cfg.APIAddr, mux); err != nil {
			return err
		}
	}
	if roles.Publisher {
		mux := http.NewServeMux()
		if !roles.API {
			ops(mux)
		}
		events, err := ingest.New(publisher, ingest.Config{Tokens: cfg.IngestTokens, MaxBody: cfg.MaxEventBytes, Logger: log, Tracer: tracer("ingest")})
		if err != nil {
			return err
		}
		events.Register(mux)
		if len(cfg.IngestTokens) == 0 {
			log.Warn("WEBHOOKS_INGEST_TOKENS is empty: anyone who reaches PUBLISHER_ADDR can publish (development only)")
		}
		if n := cfg.IngestTokens.Unbound(); n > 0 {
			log.Warn("WEBHOOKS_INGEST_TOKENS: a token listed without =companyId publishes for every company; write token=* to say so, or token=companyId to bind it to one", "tokens", n)
		}
		if err := serve("ingest", cfg.PublisherAddr, mux); err != nil {
			return err
		}
	}
	if cfg.PprofAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		if err := serve("pprof", cfg.PprofAddr, mux); err != nil {
			return err
		}
	}
	if !roles.API && !roles.Publisher {
		mux := http.NewServeMux()
		ops(mux)
		if err := serve("ops", cfg.OpsAddr, mux); err != nil {
			return err
		}
	}
	if _, dev := cfg.APITokens[DevAPIToken]; dev && roles.API {
		log.Warn("WEBHOOKS_API_TOKENS is empty: using the development token", "token", DevAPIToken, "company", DevCompany)
	}

	watched := map[string][]string{}
	if roles.Dispatcher {
		watched[stream.Events] = []string{stream.DispatchConsumer}
	}
	if roles.Deliverer {
		for shard := range cfg.Stream.Shards {
			watched[stream.Deliveries] = append(watched[stream.Deliveries], stream.ShardConsumer(shard))
		}
	}
	if len(watched) > 0 {
		start("queue lag", func(ctx context.Context) error {
			tm.WatchConsumers(ctx, js, 5*time.Second, watched)
			return nil
		})
	}
	if roles.API {
		start("webhook health gauge", func(ctx context.Context) error {
			countWebhooks(ctx, kv, tm, time.Minute)
			return nil
		})
	}

	dispatchCtx, stopDispatch := context.WithCancel(runCtx)
	defer stopDispatch()
	var dispatchDone, deliverDone sync.WaitGroup
	deliverCtx, stopDeliver := context.WithCancel(runCtx)
	defer stopDeliver()
	if roles.Dispatcher {
		dispatchDone.Go(func() {
			if err := dispatcher.Run(dispatchCtx); err != nil {
				errc <- fmt.Errorf("dispatcher: %w", err)
			}
		})
	}
	if deliverer != nil {
		deliverDone.Go(func() {
			if err := deliverer.Run(deliverCtx); err != nil {
				errc <- fmt.Errorf("deliverer: %w", err)
			}
		})
		if cfg.RemoteHandoff && !roles.Dispatcher {
			deliverDone.Go(func() {
				if err := deliverer.ServeHandoffs(deliverCtx, nc); err != nil {
					errc <- fmt.Errorf("deliverer: %w", err)
				}
			})
		}
	}
	log.Info("started", "publisher", roles.Publisher, "dispatcher", roles.Dispatcher, "deliverer", roles.Deliverer, "api", roles.API, "embedded_nats", embedded != nil, "redis", rdb != nil)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		log.Error("stopping after error", "err", runErr)
	}
	// An orderly stop, bounded: work not finished by then is unacked and
	// JetStream redelivers it, so giving up loses nothing.
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, srv := range servers {
			_ = srv.Shutdown(shutdownCtx)
		}
		stopDispatch()
		dispatchDone.Wait()
		stopDeliver()
		deliverDone.Wait()
		stopWorkers()
		workers.Wait()
	}()
	select {
	case <-stopped:
		log.Info("stopped")
	case <-time.After(cfg.DeliveryTimeout + 5*time.Second):
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
		log.Warn("jetstream not ready; retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// countWebhooks sets the webhook health gauges from the registry every
// interval until ctx ends.
func countWebhooks(ctx context.Context, kv jetstream.KeyValue, tm *telemetry.Metrics, every time.Duration) {
	for {
		if healthy, unhealthy, disabled, err := registry.CountStates(ctx, kv); err == nil {
			tm.SetWebhookHealth(healthy, unhealthy, disabled)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
