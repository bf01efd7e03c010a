// Package delivery is the deliverer role: it consumes the DELIVERIES shards,
// signs and POSTs each job to its endpoint, records the attempt, and decides
// what happens next: ack on 2xx, a scheduled retry on failure, DEAD when the
// attempts are spent or the webhook is disabled. Nothing is acked that was
// not delivered, rescheduled or dead-lettered.
//
// Endpoints are isolated from each other: a circuit breaker, an in-flight cap
// and a rate limit per endpoint, shared by all replicas through the State.
// A job for an open-circuit endpoint is held until the circuit may close. A job for an endpoint
// at its in-flight cap waits briefly in this process when one of our
// attempts to that endpoint is about to pass it its slot (see waiting), and
// is otherwise handed back to its shard for a moment; it is never held
// longer than SlotWait.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/webhook"
)

// Resolver finds the webhook a job is for (its URL, secrets, state).
type Resolver interface {
	Webhook(ctx context.Context, companyID, id string) (*registry.Entry, error)
}

// Registry records what deliveries learn about a webhook.
type Registry interface {
	Disable(ctx context.Context, companyID, id, reason string) (before, after *webhook.Webhook, changed bool, err error)
	SetStatus(ctx context.Context, companyID, id, status string) error
}

// EventPublisher publishes the platform's own events (WEBHOOK_DISABLED).
type EventPublisher interface {
	Publish(ctx context.Context, e event.Envelope) (string, error)
}

// Metrics receives what happened; a nil Metrics records nothing.
type Metrics interface {
	Attempt(outcome string, status int, latency time.Duration)
	Delivered(endToEnd time.Duration)
	Outcome(outcome string)
}

// JetStream is the part of jetstream.JetStream the deliverer uses: the
// shard consumers, and asynchronous publishing (the attempt log; retries,
// dead letters and hand-backs too unless Deps.Publisher is set).
type JetStream interface {
	Consumer(ctx context.Context, stream, consumer string) (jetstream.Consumer, error)
	// Stream is for the release of held jobs (hold.go).
	Stream(ctx context.Context, stream string) (jetstream.Stream, error)
	stream.AsyncPublisher
	PublishAsyncComplete() <-chan struct{}
}

// Deps are the Deliverer's collaborators.
type Deps struct {
	JS       JetStream
	Resolver Resolver
	Registry Registry
	State    state.State
	Events   EventPublisher // may be nil: no WEBHOOK_DISABLED events
	Client   *http.Client
	// Publisher stores retries, dead letters and handed-back jobs (nil:
	// JS); give it a publish-ack timeout of about 2*stream.Resend.
	Publisher stream.AsyncPublisher
}

// Deliverer is the delivery role.
type Deliverer struct {
	deps Deps
	cfg  Config
	log  *slog.Logger

	sem      chan struct{}
	inflight sync.WaitGroup
	// takeMu guards taking: whether Take may start jobs (Run is under way
	// and not stopping), so that no job starts after Run waits for inflight.
	takeMu sync.RWMutex
	taking bool
	// hardStop is cancelled when StopTimeout has passed after shutdown.
	hardStop context.Context
	stopping chan struct{} // closed when Run begins to stop
	local    *local        // this process's view of endpoint health
	waiting  *waiting      // jobs waiting for a slot of their endpoint
	attempts *attemptLog   // batched writes of the attempt log
	// limits are cfg's endpoint caps: each webhook's defaults and ceilings.
	limits webhook.Limits
}

// New returns a Deliverer for cfg with its defaults (Config.WithDefaults).
// Errors name the Config field at fault, or the Deps missing.
func New(deps Deps, cfg Config) (*Deliverer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.JS == nil || deps.Resolver == nil || deps.Registry == nil || deps.State == nil || deps.Client == nil {
		return nil, errors.New("delivery: Deps.JS, Resolver, Registry, State and Client are required")
	}
	if deps.Publisher == nil {
		deps.Publisher = deps.JS
	}
	return &Deliverer{deps: deps, cfg: cfg, log: cfg.Logger, sem: make(chan struct{}, cfg.MaxInFlight), local: newLocal(),
		waiting: newWaiting(cfg.SlotWait), attempts: newAttemptLog(deps.JS, deps.State, cfg.AttemptIndexSize, cfg.Logger),
		limits: webhook.Limits{Rate: cfg.EndpointRate, Concurrency: cfg.EndpointConcurrency}}, nil
}

// Run consumes every shard until ctx ends. Then it drains the consumers
// (jobs already pulled are handed back at once with a Nak rather than left
// to AckWait), lets the attempts in flight finish within StopTimeout, and
// hands back the rest.
//
// The consume callback never blocks: a blocked callback stalls the pull
// loop of its shard until the pull request expires (seen as 30 s stalls at
// saturation). What bounds the work in flight is the consumers'
// MaxAckPending; MaxInFlight bounds the HTTP attempts of this process.
func (d *Deliverer) Run(ctx context.Context) error {
	hardStop, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	logCtx, stopLog := context.WithCancel(context.WithoutCancel(ctx))
	logDone := make(chan struct{})
	go func() { d.attempts.run(logCtx); close(logDone) }()
	d.takeMu.Lock()
	d.hardStop = hardStop
	d.stopping = make(chan struct{})
	d.taking = true
	d.takeMu.Unlock()
	defer func() {
		// The attempts of the last jobs are written before Run returns.
		stopLog()
		<-logDone
		select {
		case <-d.deps.JS.PublishAsyncComplete():
		case <-time.After(5 * time.Second): // the server is gone: those records are lost
			d.log.WarnContext(ctx, "delivery: attempt log writes unconfirmed at stop")
		}
	}()
	var consumers []jetstream.ConsumeContext
	sweepCtx, stopSweep := context.WithCancel(ctx)
	var sweeps sync.WaitGroup
	defer func() { stopSweep(); sweeps.Wait() }()
	sweeps.Go(func() { d.sweep(sweepCtx) })
	sweeps.Go(func() { d.releaseHeld(sweepCtx) })
	stopAll := func() {
		d.takeMu.Lock()
		d.taking = false
		d.takeMu.Unlock()
		close(d.stopping)
		for _, w := range d.waiting.close() {
			_ = w.m.requeue(0) // draining: another deliverer takes it now
		}
		d.giveBack(ctx, d.waiting.lingered(time.Now(), d.leaseTTL())...)
		for _, cc := range consumers {
			cc.Drain()
		}
		// Draining needs the server; without it, give up after a while.
		deadline := time.After(5 * time.Second)
		for _, cc := range consumers {
			select {
			case <-cc.Closed():
			case <-deadline:
				cc.Stop()
			}
		}
	}
	for shard := range d.cfg.Shards {
		cons, err := d.deps.JS.Consumer(ctx, stream.Deliveries, stream.ShardConsumer(shard))
		if err == nil {
			var cc jetstream.ConsumeContext
			cc, err = cons.Consume(d.onMsg, jetstream.PullMaxMessages(d.cfg.PullBatch),
				jetstream.PullExpiry(stream.PullExpiry), jetstream.PullHeartbeat(stream.PullHeartbeat),
				jetstream.ConsumeErrHandler(d.consumeError(ctx, shard)))
			if err == nil {
				consumers = append(consumers, cc)
			}
		}
		if err != nil {
			stopAll()
			return fmt.Errorf("delivery: shard %d: %w", shard, err)
		}
	}
	<-ctx.Done()
	stopAll()
	done := make(chan struct{})
	go func() { d.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d.cfg.StopTimeout):
		cancelHard() // in-flight attempts see cancellation and Nak their jobs
		<-done
	}
	return nil
}

// sweep hands back the jobs that waited SlotWait for a slot in vain, and
// gives back the idle slots kept for linger.
func (d *Deliverer) sweep(ctx context.Context) {
	t := time.NewTicker(max(d.cfg.SlotWait/4, 10*time.Millisecond))
	defer t.Stop()
	idle := time.NewTicker(lingerSweep)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, w := range d.waiting.expired(now) {
				d.handBack(ctx, w.m, w.log)
			}
		case now := <-idle.C:
			d.giveBack(ctx, d.waiting.lingered(now, d.leaseTTL())...)
		}
	}
}

// consumeError logs, with Run's ctx, what the shard's pull loop reports.
// A missing heartbeat means the pull request was lost; the library
// re-issues it.
func (d *Deliverer) consumeError(ctx context.Context, shard int) jetstream.ConsumeErrHandler {
	return func(_ jetstream.ConsumeContext, err error) {
		if errors.Is(err, jetstream.ErrNoHeartbeat) {
			d.log.InfoContext(ctx, "delivery: shard pull re-issued after a missed heartbeat", "shard", shard)
			return
		}
		d.log.WarnContext(ctx, "delivery: shard pull", "shard", shard, "err", err)
	}
}

type nopMetrics struct{}

func (nopMetrics) Attempt(string, int, time.Duration) {}
func (nopMetrics) Delivered(time.Duration)            {}
func (nopMetrics) Outcome(string)                     {}
