package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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
	"github.com/bluehq/webhooks/internal/seal"
	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/telemetry"
	"github.com/bluehq/webhooks/internal/webhook"
	"github.com/bluehq/webhooks/pkg/publish"
)

// parts are what the roles of a process are built from; the roles share
// them.
type parts struct {
	cfg Config
	pol policy
	log *slog.Logger

	nc *nats.Conn
	// js pulls, reads and publishes asynchronously (events, the attempt
	// log); storeJS stores what must be stored (jobs, retries, dead
	// letters) with stream.Store, which sends again what is not acked
	// within stream.Resend and so gives up on an ack after two of those.
	js, storeJS jetstream.JetStream
	kv          jetstream.KeyValue // the registry bucket
	rdb         *redis.Client      // nil without REDIS_URL: in-process state

	store     *registry.Store
	cacheCfg  registry.CacheConfig
	shared    state.State
	publisher *publish.Client
	guard     *netguard.Guard
	filters   *filter.Compiler

	metrics *prometheus.Registry
	tm      *telemetry.Metrics
	tp      trace.TracerProvider
}

// newParts builds the parts on nc: the JetStream topology checked and
// reconciled, Redis, the registry, telemetry. release frees what they
// hold (Redis, buffered spans).
func newParts(ctx context.Context, cfg Config, log *slog.Logger, nc *nats.Conn) (p *parts, release func(), err error) {
	p = &parts{cfg: cfg, pol: policyOf(cfg), log: log, nc: nc}
	var closers []func()
	releaseAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			releaseAll()
		}
	}()
	if p.js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192),
		jetstream.WithPublishAsyncTimeout(10*time.Second),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			log.Warn("async publish failed", "subject", m.Subject, "err", err)
		})); err != nil {
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	if p.storeJS, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192), jetstream.WithPublishAsyncTimeout(2*stream.Resend)); err != nil {
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	if err := ensureTopology(ctx, p.js, cfg.Stream, log); err != nil {
		return nil, nil, err
	}
	if p.kv, err = p.js.KeyValue(ctx, stream.Registry); err != nil {
		return nil, nil, fmt.Errorf("registry bucket: %w", err)
	}
	if p.rdb, err = openRedis(cfg.RedisURL); err != nil {
		return nil, nil, err
	}
	if p.rdb != nil {
		closers = append(closers, func() { _ = p.rdb.Close() })
	}
	if err := p.registry(); err != nil {
		return nil, nil, err
	}
	tp, stopTracing, err := telemetry.SetupTracing(ctx, cfg.Service, cfg.Getenv)
	if err != nil {
		return nil, nil, err
	}
	p.tp = tp
	closers = append(closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), p.pol.TracingFlush)
		defer cancel()
		_ = stopTracing(ctx)
	})
	p.metrics = prometheus.NewRegistry()
	p.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p.tm = telemetry.NewMetrics(p.metrics)
	if p.publisher, err = publish.New(nc, publish.WithTracerProvider(tp), publish.WithPublished(p.tm.EventPublished), publish.WithWait(cfg.PublishWait)); err != nil {
		return nil, nil, err
	}
	p.guard = netguard.New(cfg.AllowedCIDRs)
	if p.filters, err = filter.NewCompiler(filter.WithMaxStringSize(cfg.MaxEventBytes)); err != nil {
		return nil, nil, err
	}
	p.cacheCfg.CompileFilter = p.filters.Compile
	p.shared = state.NewMemory(state.BreakerPolicy{})
	if p.rdb != nil {
		p.shared = state.NewRedis(p.rdb, p.pol.StatePrefix, state.BreakerPolicy{})
	}
	return p, releaseAll, nil
}

// registry builds the registry store and the configuration of its cache,
// with the Redis tier between them when there is Redis.
func (p *parts) registry() error {
	box, err := seal.New(p.cfg.SecretKey)
	if err != nil {
		return err
	}
	storeCfg := registry.StoreConfig{Box: box, MaxPerCompany: p.cfg.WebhookLimit}
	p.cacheCfg = registry.CacheConfig{Box: box, Logger: p.log}
	if p.rdb != nil {
		tier := registry.NewRedisTier(p.rdb, p.cfg.RedisKeyPrefix, p.pol.RegistryTTL)
		storeCfg.Invalidator, p.cacheCfg.Shared = tier, tier
	}
	p.store, err = registry.NewStore(p.kv, storeCfg)
	return err
}

func (p *parts) tracer(pkg string) trace.Tracer {
	return p.tp.Tracer("github.com/bluehq/webhooks/internal/" + pkg)
}

// deliverer is the deliverer role, resolving webhooks through cache.
func (p *parts) deliverer(cache *registry.Cache) (*delivery.Deliverer, error) {
	cfg := p.cfg
	return delivery.New(delivery.Deps{
		JS: p.js, Publisher: p.storeJS, Resolver: cache, Registry: p.store, State: p.shared, Events: p.publisher,
		Client: delivery.NewClient(delivery.ClientConfig{Guard: p.guard, Timeout: cfg.DeliveryTimeout, MaxConns: cfg.MaxInFlight, MaxHeaderBytes: cfg.DeliveryMaxHeaderBytes}),
	}, delivery.Config{
		Shards:              cfg.Stream.Shards,
		Timeout:             cfg.DeliveryTimeout,
		Policy:              p.pol.Retry,
		MaxInFlight:         cfg.MaxInFlight,
		EndpointConcurrency: cfg.EndpointConcurrency,
		SlotWait:            p.pol.SlotWait,
		Heartbeat:           p.pol.Heartbeat,
		EndpointRate:        cfg.EndpointRate,
		DisableAfter:        cfg.DisableAfter,
		Logger:              p.log,
		Metrics:             p.tm,
		Tracer:              p.tracer("delivery"),
		SendTraceparent:     cfg.SendTraceparent,
	})
}

// dispatcher is the dispatcher role (and, in a process without it, the
// API's backfill), handing jobs to handoff when it is not nil.
func (p *parts) dispatcher(cache *registry.Cache, handoff dispatch.Handoff) (*dispatch.Dispatcher, error) {
	cfg := dispatch.Config{
		Shards: p.cfg.Stream.Shards, Workers: p.cfg.Workers, Logger: p.log, Metrics: p.tm, Tracer: p.tracer("dispatch"),
		Publisher: p.storeJS, Heartbeat: p.pol.Heartbeat,
	}
	if handoff != nil {
		cfg.Handoff, cfg.SettleWait = handoff, p.pol.SettleWait
	}
	return dispatch.New(p.js, cache, cfg)
}

// remoteHandoff offers a dispatcher's jobs to the deliverers of other
// processes over NATS; it runs in the background group.
func (p *parts) remoteHandoff(background *group) (*handoff.Client, error) {
	c, err := handoff.NewClient(p.nc, handoff.Config{
		Publisher: p.storeJS, Silence: p.pol.HandoffSilence, Refused: p.tm.HandoffRefused,
	})
	if err != nil {
		return nil, err
	}
	background.Go("handoff", c.Run)
	return c, nil
}

// serveAPI serves the management API, the customer portal and the ops
// endpoints on API_ADDR; backfills go through backfiller.
func (p *parts) serveAPI(ctx context.Context, srv *servers, backfiller api.Backfiller) error {
	mux := http.NewServeMux()
	ops(mux, p.nc, p.rdb, p.metrics)
	sessions, err := portalSessions(ctx, p.js, p.cfg)
	if err != nil {
		return err
	}
	inspector := inspect.New(p.js, p.shared, p.cfg.Stream.Shards)
	server, err := api.New(mux, p.store, p.publisher.Catalogue(), api.Config{
		Tokens: p.cfg.APITokens,
		Rules: webhook.Rules{KnownEvent: p.publisher.Catalogue().Known, CheckURL: p.guard.CheckURL, CheckFilter: p.filters.Check,
			// The deliverers' defaults are also the ceilings of a webhook's own caps.
			Limits: webhook.Limits{Rate: p.cfg.EndpointRate, Concurrency: p.cfg.EndpointConcurrency}},
		Logger:          p.log,
		Inspector:       inspector,
		Events:          p.publisher,
		Backfiller:      backfiller,
		CompileFilter:   p.filters.Compile,
		RotationOverlap: p.cfg.RotationOverlap,
		Portal:          sessions,
	})
	if err != nil {
		return err
	}
	if err := mountPortal(mux, server, sessions, p.js, inspector, p.cfg, p.log); err != nil {
		return err
	}
	if _, dev := p.cfg.APITokens[DevAPIToken]; dev {
		p.log.Warn("WEBHOOKS_API_TOKENS is empty: using the development token", "token", DevAPIToken, "company", DevCompany)
	}
	return srv.serve("api", p.cfg.APIAddr, mux)
}

// serveIngest serves POST /v1/events on PUBLISHER_ADDR, with the ops
// endpoints when withOps (no API in the process to serve them).
func (p *parts) serveIngest(srv *servers, withOps bool) error {
	mux := http.NewServeMux()
	if withOps {
		ops(mux, p.nc, p.rdb, p.metrics)
	}
	events, err := ingest.New(p.publisher, ingest.Config{Tokens: p.cfg.IngestTokens, MaxBody: p.cfg.MaxEventBytes, Logger: p.log, Tracer: p.tracer("ingest")})
	if err != nil {
		return err
	}
	events.Register(mux)
	if len(p.cfg.IngestTokens) == 0 {
		p.log.Warn("WEBHOOKS_INGEST_TOKENS is empty: anyone who reaches PUBLISHER_ADDR can publish (development only)")
	}
	if n := p.cfg.IngestTokens.Unbound(); n > 0 {
		p.log.Warn("WEBHOOKS_INGEST_TOKENS: a token listed without =companyId publishes for every company; write token=* to say so, or token=companyId to bind it to one", "tokens", n)
	}
	return srv.serve("ingest", p.cfg.PublisherAddr, mux)
}

// watch keeps the gauges of the roles up to date in the background group:
// the lag of the consumers they pull from, and with the API the webhooks'
// health.
func (p *parts) watch(background *group, roles Roles) {
	consumers := map[string][]string{}
	if roles.Dispatcher {
		consumers[stream.Events] = []string{stream.DispatchConsumer}
	}
	if roles.Deliverer {
		for shard := range p.cfg.Stream.Shards {
			consumers[stream.Deliveries] = append(consumers[stream.Deliveries], stream.ShardConsumer(shard))
		}
	}
	if len(consumers) > 0 {
		background.Go("queue lag", func(ctx context.Context) error {
			p.tm.WatchConsumers(ctx, p.js, p.pol.QueueLagEvery, consumers)
			return nil
		})
	}
	if roles.API {
		background.Go("webhook health gauge", func(ctx context.Context) error {
			countWebhooks(ctx, p.kv, p.tm, p.pol.HealthEvery)
			return nil
		})
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

// openRedis returns a client of url, nil for "". It speaks RESP2 unless
// url asks for another protocol (?protocol=3): RESP3 only adds push
// notifications (pub/sub, client tracking, maintenance notifications),
// none of which is used here, and go-redis checks for pending ones before
// reading every reply.
func openRedis(url string) (*redis.Client, error) {
	if url == "" {
		return nil, nil
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if opts.Protocol == 0 {
		opts.Protocol = 2
	}
	return redis.NewClient(opts), nil
}
