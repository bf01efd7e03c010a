// Package delivery is the deliverer role: it consumes the DELIVERIES shards,
// signs and POSTs each job to its endpoint, records the attempt, and decides
// what happens next: ack on 2xx, a scheduled retry on failure, DEAD when the
// attempts are spent or the webhook is disabled. Nothing is acked that was
// not delivered, rescheduled or dead-lettered.
//
// Endpoints are isolated from each other: a circuit breaker, an in-flight cap
// and a rate limit per endpoint, shared by all replicas through the State.
// A job for an open-circuit endpoint is rescheduled. A job for an endpoint
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
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/retry"
	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/telemetry"
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

// DefaultUserAgent is the User-Agent of deliveries unless
// Config.UserAgent says otherwise.
const DefaultUserAgent = "Blue-Webhooks/1.0"

// Config configures a Deliverer.
type Config struct {
	Shards      int
	Timeout     time.Duration // per request
	Policy      retry.Policy
	MaxInFlight int // attempts in flight in this process
	PullBatch   int // messages buffered per shard consumer
	UserAgent   string

	// EndpointConcurrency and EndpointRate (with EndpointBurst, 0:
	// max(1, int(EndpointRate))) apply to a webhook without its own
	// maxConcurrency / rateLimit, and are the ceilings of those. A
	// webhook's own rate has a burst of max(1, int(rate)).
	EndpointConcurrency int // attempts in flight per endpoint, all replicas
	// SlotWait is the longest a job waits in this process for a slot of
	// its endpoint to pass to it (see waiting); 0: 1s. Keep it well below
	// AckWait minus Timeout.
	SlotWait         time.Duration
	EndpointRate     float64 // attempts per second per endpoint; 0: no limit
	EndpointBurst    int
	UnhealthyAfter   int           // consecutive failures before UNHEALTHY
	DisableAfter     time.Duration // failing continuously this long: disabled
	AttemptIndexSize int           // recent attempts kept per webhook

	// Heartbeat is how often a job this process holds (waiting for a
	// slot, or being attempted) is reported in progress, so that the
	// shard's short AckWait redelivers the jobs of a deliverer that died,
	// not those of one that is slow (0: never).
	Heartbeat time.Duration
	// StoreWait bounds how long storing a job's next step (a retry, a
	// dead letter, the job handed back) may take, across a DELIVERIES
	// leader election, before the job is handed back (0: 10s).
	StoreWait time.Duration

	// StopTimeout bounds how long Run waits for in-flight attempts after
	// its context ends; what is still running then is handed back (Nak).
	StopTimeout time.Duration
	Logger      *slog.Logger
	Metrics     Metrics
	Tracer      trace.Tracer // nil: no spans
	// SendTraceparent sends the W3C traceparent of the attempt's HTTP span
	// to the receiver.
	SendTraceparent bool
}

// Metrics receives what happened; a nil Metrics records nothing.
type Metrics interface {
	Attempt(outcome string, status int, latency time.Duration)
	Delivered(endToEnd time.Duration)
	Outcome(outcome string)
}

// Deps are the Deliverer's collaborators.
type Deps struct {
	JS       jetstream.JetStream
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
	Deps
	cfg Config
	log *slog.Logger

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

// New returns a Deliverer. Errors name the Config field at fault.
func New(deps Deps, cfg Config) (*Deliverer, error) {
	switch {
	case cfg.Shards < 1:
		return nil, errors.New("delivery: Config.Shards must be at least 1")
	case cfg.Timeout <= 0:
		return nil, errors.New("delivery: Config.Timeout must be positive")
	case deps.JS == nil || deps.Resolver == nil || deps.Registry == nil || deps.State == nil || deps.Client == nil:
		return nil, errors.New("delivery: Deps.JS, Resolver, Registry, State and Client are required")
	}
	if cfg.MaxInFlight < 1 {
		cfg.MaxInFlight = 1024
	}
	if cfg.PullBatch < 1 {
		cfg.PullBatch = 256
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.EndpointConcurrency < 1 {
		cfg.EndpointConcurrency = 32
	}
	if cfg.SlotWait <= 0 {
		cfg.SlotWait = time.Second
	}
	if cfg.EndpointBurst < 1 {
		cfg.EndpointBurst = max(1, int(cfg.EndpointRate))
	}
	if cfg.UnhealthyAfter < 1 {
		cfg.UnhealthyAfter = 5
	}
	if cfg.DisableAfter <= 0 {
		cfg.DisableAfter = 72 * time.Hour
	}
	if cfg.AttemptIndexSize < 1 {
		cfg.AttemptIndexSize = 100
	}
	if cfg.StoreWait <= 0 {
		cfg.StoreWait = 10 * time.Second
	}
	if deps.Publisher == nil {
		deps.Publisher = deps.JS
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = cfg.Timeout + 2*time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = nopMetrics{}
	}
	if cfg.Tracer == nil {
		cfg.Tracer = noop.NewTracerProvider().Tracer("")
	}
	return &Deliverer{Deps: deps, cfg: cfg, log: cfg.Logger, sem: make(chan struct{}, cfg.MaxInFlight), local: newLocal(),
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
		case <-d.JS.PublishAsyncComplete():
		case <-time.After(5 * time.Second): // the server is gone: those records are lost
			d.log.Warn("delivery: attempt log writes unconfirmed at stop")
		}
	}()
	var consumers []jetstream.ConsumeContext
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go d.sweep(sweepCtx)
	stopAll := func() {
		d.takeMu.Lock()
		d.taking = false
		d.takeMu.Unlock()
		close(d.stopping)
		for _, w := range d.waiting.close() {
			_ = w.m.Nak() // draining: another deliverer takes it now
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
		cons, err := d.JS.Consumer(ctx, stream.Deliveries, stream.ShardConsumer(shard))
		if err == nil {
			var cc jetstream.ConsumeContext
			cc, err = cons.Consume(d.onMsg, jetstream.PullMaxMessages(d.cfg.PullBatch),
				jetstream.PullExpiry(stream.PullExpiry), jetstream.PullHeartbeat(stream.PullHeartbeat),
				jetstream.ConsumeErrHandler(d.consumeError(shard)))
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

// consumeError logs what the shard's pull loop reports. A missing
// heartbeat means the pull request was lost; the library re-issues it.
func (d *Deliverer) consumeError(shard int) jetstream.ConsumeErrHandler {
	return func(_ jetstream.ConsumeContext, err error) {
		if errors.Is(err, jetstream.ErrNoHeartbeat) {
			d.log.Info("delivery: shard pull re-issued after a missed heartbeat", "shard", shard)
			return
		}
		d.log.Warn("delivery: shard pull", "shard", shard, "err", err)
	}
}

func (d *Deliverer) onMsg(m jetstream.Msg) {
	select {
	case <-d.stopping:
		_ = m.Nak() // draining: another deliverer takes it now
		return
	default:
	}
	m = stream.Hold(m, d.cfg.Heartbeat)
	d.inflight.Add(1)
	go func() {
		defer d.inflight.Done()
		select {
		case d.sem <- struct{}{}:
		case <-d.stopping:
			_ = m.Nak()
			return
		}
		defer func() { <-d.sem }()
		d.handle(d.hardStop, m)
	}()
}

func (d *Deliverer) handle(ctx context.Context, m jetstream.Msg) {
	j, err := job.FromMsg(natsHeader(m), m.Data())
	if err != nil {
		d.log.Error("delivery: malformed job terminated", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	d.handleJob(ctx, m, j)
}

// handleJob delivers j, read from m, or decides what else becomes of it.
func (d *Deliverer) handleJob(ctx context.Context, m jetstream.Msg, j job.Job) {
	log := &jobLog{base: d.log, j: &j}
	entry, err := d.Resolver.Webhook(ctx, j.CompanyID, j.WebhookID)
	if errors.Is(err, webhook.ErrNotFound) {
		log.Info("delivery dropped: webhook deleted")
		d.cfg.Metrics.Outcome(attempt.Dropped)
		_ = m.Ack()
		return
	}
	if err != nil {
		log.Warn("delivery: registry unavailable; job handed back", "err", err)
		_ = m.NakWithDelay(time.Second)
		return
	}
	if !entry.Enabled {
		// Logged without a request, so that the delivery shows as parked.
		rec := outcome{}.record(&j)
		rec.Outcome = attempt.Parked
		d.record(rec)
		d.park(ctx, m, &j, log, "disabled")
		return
	}
	if !d.admit(ctx, m, j, log) {
		return
	}
	w := &waiter{m: m, j: &j, entry: entry, log: log}
	if !d.allow(ctx, w) {
		return
	}
	s, ok := d.acquire(ctx, w)
	if !ok {
		return
	}
	// The endpoint's slot passes from job to job while some wait for it.
	for w != nil {
		w = d.deliver(ctx, w, s)
		if w != nil && !d.allow(ctx, w) {
			// No rate token for it (it was handed back): the slot goes back,
			// and the line waits for our other attempts.
			d.release(ctx, w.j.WebhookID, s, 0, true, false)
			return
		}
	}
}

// deliver makes one attempt with the endpoint slot s (nil when the shared
// state could not give one) and does what its outcome asks. It returns the
// next job waiting for the same endpoint when the slot passes to it.
func (d *Deliverer) deliver(ctx context.Context, w *waiter, s *slot) (next *waiter) {
	m, j, log := w.m, w.j, w.log
	ctx, span := d.startSpan(ctx, j)
	defer span.End()
	out := d.attempt(ctx, w.entry, j)
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("http.response.status_code", out.status), attribute.String("webhooks.error_class", out.class))
	}
	if !out.ok() {
		span.SetStatus(codes.Error, out.errText)
	}
	if s != nil {
		next = d.release(ctx, j.WebhookID, s, out.latency, out.ok() && ctx.Err() == nil, true)
	}
	if ctx.Err() != nil {
		// Shutting down mid-attempt: hand the job back untouched.
		_ = m.Nak()
		return next
	}
	d.cfg.Metrics.Attempt(out.outcomeClass(), out.status, out.latency)
	log.out = &out
	rec := out.record(j)

	switch {
	case out.ok():
		rec.Outcome = attempt.Delivered
		d.health(ctx, w.entry, j, true, log)
		d.record(rec)
		log.InfoContext(ctx, "delivered")
		d.cfg.Metrics.Outcome(attempt.Delivered)
		if !j.PublishedAt.IsZero() {
			d.cfg.Metrics.Delivered(time.Since(j.PublishedAt))
		}
		if err := m.Ack(); err != nil {
			log.Warn("delivery: ack failed; a duplicate may follow", "err", err)
		}
	case out.status == http.StatusGone:
		rec.Outcome = attempt.Parked
		d.record(rec)
		log.WarnContext(ctx, "endpoint answered 410 Gone: disabling webhook")
		if err := d.disable(ctx, j, "gone", log); err != nil {
			_ = m.NakWithDelay(time.Second)
			return next
		}
		d.park(ctx, m, j, log, "gone")
	default:
		if d.health(ctx, w.entry, j, false, log) {
			rec.Outcome = attempt.Parked
			d.record(rec)
			d.park(ctx, m, j, log, "disabled")
			return next
		}
		delay, more := d.cfg.Policy.Next(j.Attempt)
		if !more {
			rec.Outcome = attempt.Dead
			d.record(rec)
			log.WarnContext(ctx, "delivery failed; attempts exhausted: dead-lettered", "err", out.errText)
			d.cfg.Metrics.Outcome(attempt.Dead)
			d.finish(m, log, d.deadLetter(ctx, j, "exhausted"), "dead-letter")
			return next
		}
		if out.retryIn > 0 {
			delay = d.cfg.Policy.Clamp(out.retryIn, time.Second)
		}
		retry := *j
		retry.Attempt++
		retry.Header = job.CopyHeader(j.Header)
		linkNext(ctx, retry.Header)
		at := scheduleTime(time.Now().Add(delay))
		rec.Outcome, rec.NextAttemptAt = attempt.Retry, &at
		d.record(rec)
		log.InfoContext(ctx, "delivery failed; retry scheduled", "next_attempt_at", at, "err", out.errText)
		d.cfg.Metrics.Outcome(attempt.Retry)
		d.finish(m, log, d.schedule(ctx, m.Subject(), retry, at), "retry schedule")
	}
	return next
}

// admit asks the endpoint's circuit breaker. When the circuit is open the
// job is rescheduled for when it may close, without counting an attempt.
func (d *Deliverer) admit(ctx context.Context, m jetstream.Msg, j job.Job, log *jobLog) bool {
	now := time.Now()
	adm, err := d.local.admission(j.WebhookID, now, func() (state.Admission, error) {
		return d.State.Admit(ctx, j.WebhookID, now)
	})
	if err != nil {
		log.Warn("delivery: breaker state unavailable; attempting anyway", "err", err)
		return true
	}
	if adm.Allowed {
		return true
	}
	at := scheduleTime(deferUntil(adm.RetryAt, now))
	log.Debug("circuit open: job deferred", "until", at)
	d.cfg.Metrics.Outcome(attempt.Deferred)
	d.finish(m, log, d.schedule(ctx, m.Subject(), j, at), "deferral")
	return false
}

// deferUntil is when a job that an open circuit refused at now is offered
// again: a random moment in the first seconds after retryAt (when the
// circuit may let a probe through), within as long again as the job waits,
// at least 1 s and at most maxDeferSpread. The backlog of an endpoint then
// does not come back in one second, a burst that stalls its shard's other
// endpoints; and jobs deferred together still come back together, so the
// stream reads them from the same blocks (spread over minutes, each due
// job of a long-open circuit loaded its block from disk again).
func deferUntil(retryAt, now time.Time) time.Time {
	wait := min(max(retryAt.Sub(now), time.Second), maxDeferSpread)
	return retryAt.Add(rand.N(wait))
}

// maxDeferSpread bounds how far deferUntil spreads deferred jobs.
const maxDeferSpread = 5 * time.Second

// allow takes a rate token of the endpoint, if it has a rate limit. A job
// that must wait for one is handed back (see backOff).
func (d *Deliverer) allow(ctx context.Context, w *waiter) bool {
	rate := w.entry.EffectiveRate(d.limits)
	if rate <= 0 {
		return true
	}
	burst := d.cfg.EndpointBurst
	if w.entry.RateLimit > 0 {
		burst = max(1, int(rate))
	}
	wait, err := d.State.Allow(ctx, w.j.WebhookID, rate, burst, time.Now())
	if err != nil {
		w.log.Warn("delivery: rate state unavailable; attempting anyway", "err", err)
		return true
	}
	if wait > 0 {
		d.backOff(ctx, w.m, wait, w.log)
		return false
	}
	return true
}

// acquire takes an in-flight slot of the endpoint: an idle one of ours, or
// one from the shared state. A job that finds the endpoint at its cap
// waits in this process when an attempt of ours will pass it a slot soon
// (see waiting); otherwise it is handed back with a short delay. It is
// never held longer.
func (d *Deliverer) acquire(ctx context.Context, w *waiter) (*slot, bool) {
	now := time.Now()
	w.since = now
	limit := w.entry.EffectiveConcurrency(d.limits)
	s, c := d.waiting.claim(w.j.WebhookID, *w, limit, d.leaseTTL())
	switch c {
	case reused:
		return s, true
	case joined:
		return nil, false
	case atCap:
		d.handBack(ctx, w.m, w.log)
		return nil, false
	}
	lease, ok, err := d.State.Acquire(ctx, w.j.WebhookID, limit, d.leaseTTL(), now)
	if err != nil {
		w.log.Warn("delivery: in-flight state unavailable; attempting anyway", "err", err)
		return nil, true
	}
	if !ok {
		if !d.waiting.enqueue(w.j.WebhookID, *w) {
			d.handBack(ctx, w.m, w.log)
		}
		return nil, false
	}
	d.waiting.started(w.j.WebhookID)
	return &slot{lease: lease, at: now}, true
}

// leaseTTL is how long the shared state keeps an endpoint slot whose
// holder died without releasing it.
func (d *Deliverer) leaseTTL() time.Duration { return d.cfg.Timeout + 5*time.Second }

// release ends an attempt that held slot s of endpoint key. After a
// success the slot passes to the oldest job waiting for the endpoint, if
// any, mayPass and the slot is passable; with none waiting, it is kept idle
// for the endpoint's next job (see waiting). Otherwise it goes back to the
// shared state. Jobs left waiting behind a failure, or behind no attempt
// at all, are handed back.
func (d *Deliverer) release(ctx context.Context, key string, s *slot, latency time.Duration, ok, mayPass bool) *waiter {
	now := time.Now()
	next, orphans, kept := d.waiting.end(key, s, latency, ok, mayPass && s.passable(d.leaseTTL(), now), now)
	switch {
	case next != nil:
		s.passes++
	case !kept:
		d.giveBack(ctx, s)
	}
	for _, o := range orphans {
		d.handBack(ctx, o.m, o.log)
	}
	return next
}

// giveBack releases the slots to the shared state.
func (d *Deliverer) giveBack(ctx context.Context, slots ...*slot) {
	for _, s := range slots {
		if err := d.State.Release(context.WithoutCancel(ctx), s.lease); err != nil {
			d.log.Warn("delivery: releasing endpoint slot failed (it expires by itself)", "webhook_id", s.lease.Key, "err", err)
		}
	}
}

// handBack returns a job that found its endpoint at the in-flight cap, to
// be delivered again in a moment (to this or another replica), later each
// time it comes back to a full endpoint (see handBackDelay). A wait of
// seconds is a message schedule (see backOff), so that a backlog of one
// slow endpoint does not hold its shard's ack-pending and starve the
// other endpoints of that shard.
func (d *Deliverer) handBack(ctx context.Context, m jetstream.Msg, log *jobLog) {
	d.cfg.Metrics.Outcome(attempt.HandedBack)
	n := uint64(1)
	if md, err := m.Metadata(); err == nil {
		n = md.NumDelivered
	}
	d.backOff(ctx, m, handBackDelay(n), log)
}

// handBackDelay is how long a job handed back for the n-th time waits: 50
// to 250 ms the first time, doubling each time after, at most
// maxHandBackDelay. An endpoint slower than its traffic builds a backlog
// that would otherwise bounce between the shard and the deliverers every
// 150 ms on average, costing every other endpoint CPU.
func handBackDelay(n uint64) time.Duration {
	lo := 50 * time.Millisecond << min(max(n, 1)-1, 8)
	return min(lo+rand.N(4*lo), maxHandBackDelay)
}

// maxHandBackDelay bounds handBackDelay.
const maxHandBackDelay = 10 * time.Second

// backOff returns a job that may not run yet: a short wait is a Nak with
// delay (the message stays in the stream, this worker moves on); a long one
// is a message schedule, so the consumer's ack-pending is not held.
func (d *Deliverer) backOff(ctx context.Context, m jetstream.Msg, wait time.Duration, log *jobLog) {
	if wait < 2*time.Second {
		_ = m.NakWithDelay(wait)
		return
	}
	j, err := job.FromMsg(natsHeader(m), m.Data())
	if err != nil {
		_ = m.NakWithDelay(wait)
		return
	}
	d.finish(m, log, d.schedule(ctx, m.Subject(), j, scheduleTime(time.Now().Add(wait))), "reschedule")
}

// health updates the endpoint's shared counters after an attempt and writes
// status transitions to the registry. It returns true when the endpoint has
// now been failing for DisableAfter and was disabled.
func (d *Deliverer) health(ctx context.Context, e *registry.Entry, j *job.Job, ok bool, log *jobLog) bool {
	now := time.Now()
	if ok {
		if d.local.needSuccess(j.WebhookID, now) {
			if _, err := d.State.Success(ctx, j.WebhookID, now); err != nil {
				log.Warn("delivery: health state unavailable", "err", err)
			}
		}
		if e.Status == webhook.StatusUnhealthy {
			if err := d.Registry.SetStatus(ctx, j.CompanyID, j.WebhookID, webhook.StatusHealthy); err != nil {
				log.Warn("delivery: recording HEALTHY failed", "err", err)
			}
		}
		return false
	}
	d.local.failed(j.WebhookID, now)
	h, err := d.State.Failure(ctx, j.WebhookID, now)
	if err != nil {
		log.Warn("delivery: health state unavailable", "err", err)
		return false
	}
	if h.ConsecutiveFailures >= d.cfg.UnhealthyAfter && e.Status == webhook.StatusHealthy {
		if err := d.Registry.SetStatus(ctx, j.CompanyID, j.WebhookID, webhook.StatusUnhealthy); err != nil {
			log.Warn("delivery: recording UNHEALTHY failed", "err", err)
		}
	}
	if !h.FirstFailureAt.IsZero() && now.Sub(h.FirstFailureAt) >= d.cfg.DisableAfter {
		log.Warn("endpoint failing continuously; disabling webhook", "failing_since", h.FirstFailureAt)
		return d.disable(ctx, j, "failing", log) == nil
	}
	return false
}

// disable turns the webhook off and, if this call did it, announces it with
// a WEBHOOK_DISABLED event through the normal pipeline.
func (d *Deliverer) disable(ctx context.Context, j *job.Job, reason string, log *jobLog) error {
	before, after, changed, err := d.Registry.Disable(ctx, j.CompanyID, j.WebhookID, reason)
	if err != nil {
		log.Error("delivery: disabling webhook failed", "err", err)
		return err
	}
	if !changed || d.Events == nil {
		return nil
	}
	e, err := disabledEvent(before, after)
	if err == nil {
		_, err = d.Events.Publish(ctx, e)
	}
	if err != nil {
		log.Error("delivery: WEBHOOK_DISABLED event not published", "err", err)
	}
	return nil
}

// park copies the job of a disabled webhook to DEAD, where enable can find it.
func (d *Deliverer) park(ctx context.Context, m jetstream.Msg, j *job.Job, log *jobLog, reason string) {
	err := d.deadLetter(ctx, j, reason)
	if err == nil {
		// Logged once the job is in DEAD: from here, enable?replay finds it.
		log.Info("webhook disabled: delivery parked", "reason", reason)
		d.cfg.Metrics.Outcome(attempt.Parked)
	}
	d.finish(m, log, err, "park")
}

// finish acks the job once its next step is durable, or hands it back.
func (d *Deliverer) finish(m jetstream.Msg, log *jobLog, stepErr error, step string) {
	if stepErr != nil {
		log.Error("delivery: "+step+" failed; job handed back", "err", stepErr)
		_ = m.NakWithDelay(time.Second)
		return
	}
	if err := m.Ack(); err != nil {
		log.Warn("delivery: ack after "+step+" failed; the job may be seen again", "err", err)
	}
}

// scheduleTime rounds up to the next whole second: message schedules have
// second resolution, and a retry must never come early.
func scheduleTime(t time.Time) time.Time {
	return t.Truncate(time.Second).Add(time.Second)
}

// schedule publishes j as a message schedule on the same stream, targeted at
// the job's own subject. One schedule per delivery id: re-publishing (after
// a crash) replaces it.
func (d *Deliverer) schedule(ctx context.Context, target string, j job.Job, at time.Time) error {
	j.Header = job.CopyHeader(j.Header)
	msg := j.Msg(stream.RetrySubject(j.DeliveryID))
	return stream.Store(ctx, d.Publisher, []*nats.Msg{msg}, d.cfg.StoreWait, jetstream.WithScheduleAt(at), jetstream.WithScheduleTarget(target))
}

// deadLetter copies the job to DEAD; deduplicated per delivery and attempt.
func (d *Deliverer) deadLetter(ctx context.Context, j *job.Job, reason string) error {
	jj := *j
	jj.Header = job.CopyHeader(j.Header)
	msg := jj.Msg(stream.DeadSubject(j.CompanyID, j.WebhookID, j.DeliveryID))
	msg.Header.Set(job.HeaderDeadReason, reason)
	msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("dead.%s.%d", j.DeliveryID, j.Attempt))
	return stream.Store(ctx, d.Publisher, []*nats.Msg{msg}, d.cfg.StoreWait)
}

func natsHeader(m jetstream.Msg) nats.Header {
	h := m.Headers()
	if h == nil {
		h = nats.Header{}
	}
	return h
}

// HeaderPrevAttempt carries the span context of a delivery's previous
// attempt, so the next attempt's span links to it.
const HeaderPrevAttempt = "Wh-Prev-Attempt"

// startSpan starts the span of one attempt: a child of the dispatcher's
// fan-out span (from the job's headers), linked to the previous attempt.
func (d *Deliverer) startSpan(ctx context.Context, j *job.Job) (context.Context, trace.Span) {
	ctx, span := d.cfg.Tracer.Start(telemetry.Extract(ctx, j.Header), "deliver attempt", telemetry.ConsumerSpan)
	if !span.IsRecording() {
		return ctx, span // no attributes built for a span nobody keeps
	}
	span.SetAttributes(
		attribute.String("messaging.system", "nats"),
		attribute.String("webhooks.webhook.id", j.WebhookID),
		attribute.String("webhooks.delivery.id", j.DeliveryID),
		attribute.String("webhooks.event.id", j.EventID),
		attribute.String("webhooks.event.type", j.EventType),
		attribute.Int("webhooks.attempt", j.Attempt),
	)
	if prev := j.Header.Get(HeaderPrevAttempt); prev != "" {
		pc := trace.SpanContextFromContext(telemetry.Extract(context.Background(), nats.Header{"traceparent": {prev}}))
		if pc.IsValid() {
			span.AddLink(trace.Link{SpanContext: pc, Attributes: []attribute.KeyValue{attribute.String("webhooks.link", "previous_attempt")}})
		}
	}
	return ctx, span
}

// linkNext records the current attempt's span context in the next
// attempt's headers.
func linkNext(ctx context.Context, h nats.Header) {
	tmp := nats.Header{}
	telemetry.Inject(ctx, tmp)
	if tp := tmp.Get("traceparent"); tp != "" {
		h.Set(HeaderPrevAttempt, tp)
	}
}

type nopMetrics struct{}

func (nopMetrics) Attempt(string, int, time.Duration) {}
func (nopMetrics) Delivered(time.Duration)            {}
func (nopMetrics) Outcome(string)                     {}
