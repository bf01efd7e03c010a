// Package dispatch fans events out to webhooks: it consumes EVENTS, resolves
// the company's matching webhooks through the registry cache, renders each
// delivery body once, and publishes one job per match to DELIVERIES. An event
// is acked only after every one of its jobs is acked by JetStream.
//
// In a process that also delivers (webhookd), a job may instead be handed
// straight to the deliverer (see Handoff). The event is then acked once
// each of its jobs is stored in JetStream or settled by that deliverer
// (delivered, rescheduled, dead-lettered, or handed back and stored), and
// left for redelivery when one could not be: a crash in between re-dispatches
// the event, which may deliver a job twice but never loses one.
package dispatch

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/filter"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/telemetry"
)

// Resolver is what the dispatcher needs of the registry cache.
type Resolver interface {
	Sync(ctx context.Context) error
	Company(ctx context.Context, companyID string) (*registry.Company, error)
}

// Publisher is the asynchronous JetStream publish the dispatcher uses.
type Publisher interface {
	PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error)
}

// Handoff takes jobs straight to a deliverer in the same process, so that
// they are not stored in DELIVERIES unless that deliverer hands them back.
type Handoff interface {
	// Take starts delivering j, whose message msg is what the dispatcher
	// would publish (subject, headers with Nats-Msg-Id, body), if it can
	// start now; false means it did nothing and the dispatcher publishes
	// msg. A job it takes is settled by one call of settle: nil once it
	// was delivered or its next step (a retry, a dead letter, the message
	// itself handed back to DELIVERIES) is stored in JetStream, an error
	// when that could not be done.
	Take(j *job.Job, msg *nats.Msg, settle func(error)) bool
}

// BatchHandoff is a Handoff that is offered all the jobs of one event in
// one call: where Take would cost one message to another process per job,
// TakeBatch costs one per event.
type BatchHandoff interface {
	Handoff
	// TakeBatch offers the jobs as Take offers one, each settled by its
	// own Settle. It returns how many of them, from the first, it took;
	// the dispatcher publishes the others.
	TakeBatch(offers []Offer) int
}

// Offer is one job offered to a BatchHandoff: what Take is given.
type Offer struct {
	Job    *job.Job
	Msg    *nats.Msg
	Settle func(error)
}

// Config configures a Dispatcher. A zero field takes its default (see
// WithDefaults) but Shards, which must match the topology.
type Config struct {
	Shards  int // delivery shards (must match the topology)
	Workers int // events handled concurrently (DefaultWorkers)
	// Handoff, when set, is offered every job before it is published.
	Handoff Handoff
	// SettleWait bounds how long Run waits at stop for the events whose
	// jobs Handoff still holds (DefaultSettleWait); those not settled by
	// then are left unacked, for redelivery.
	SettleWait time.Duration
	// Publisher stores the jobs (nil: the JetStream given to New). Give it
	// a publish-ack timeout of about 2*stream.Resend: Store sends a job
	// again after stream.Resend and awaits that copy.
	Publisher Publisher
	// StoreWait is how long an event's jobs may take to be stored, across
	// a DELIVERIES leader election, before the event is left for
	// redelivery (DefaultStoreWait).
	StoreWait time.Duration
	// Heartbeat is how often an event still being dispatched is reported
	// in progress, so that it is not redelivered while its jobs are
	// stored or delivered (0: never; keep it well below the consumer's
	// AckWait).
	Heartbeat time.Duration
	Logger    *slog.Logger // discard
	Metrics   Metrics
	Tracer    trace.Tracer // no spans
}

// Defaults of Config.
const (
	DefaultWorkers    = 64
	DefaultSettleWait = 10 * time.Second
	DefaultStoreWait  = 15 * time.Second
)

// WithDefaults returns c with each zero field set to its default.
func (c Config) WithDefaults() Config {
	c.Workers = cmp.Or(c.Workers, DefaultWorkers)
	c.SettleWait = cmp.Or(c.SettleWait, DefaultSettleWait)
	c.StoreWait = cmp.Or(c.StoreWait, DefaultStoreWait)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Tracer == nil {
		c.Tracer = noop.NewTracerProvider().Tracer("")
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Shards < 1:
		return fmt.Errorf("dispatch: Config.Shards must be at least 1, got %d", c.Shards)
	case c.Workers < 1:
		return fmt.Errorf("dispatch: Config.Workers must be at least 1, got %d", c.Workers)
	case c.SettleWait < 0:
		return fmt.Errorf("dispatch: Config.SettleWait must not be negative, got %s", c.SettleWait)
	case c.StoreWait < 0:
		return fmt.Errorf("dispatch: Config.StoreWait must not be negative, got %s", c.StoreWait)
	case c.Heartbeat < 0:
		return fmt.Errorf("dispatch: Config.Heartbeat must not be negative, got %s", c.Heartbeat)
	}
	return nil
}

// Metrics receives the dispatcher's counts; nil fields are skipped.
type Metrics interface {
	Dispatched(eventType string, jobs, handedOver int)
}

// Dispatcher is the dispatch role.
type Dispatcher struct {
	js       jetstream.JetStream
	pub      Publisher
	resolver Resolver
	cfg      Config
	log      *slog.Logger
	// unsettled counts the events acked only once Handoff settles a job.
	unsettled sync.WaitGroup
	// syncWarned is when a failed registry sync was last logged (unix ns).
	syncWarned atomic.Int64
	// settled remembers the settled jobs of events left for redelivery.
	settled settledJobs
}

// New returns a Dispatcher. An error names the Config field that is out
// of range.
func New(js jetstream.JetStream, resolver Resolver, cfg Config) (*Dispatcher, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var pub Publisher = js
	if cfg.Publisher != nil {
		pub = cfg.Publisher
	}
	return &Dispatcher{js: js, pub: pub, resolver: resolver, cfg: cfg, log: cfg.Logger}, nil
}

// Run consumes EVENTS until ctx ends, then stops pulling and waits for the
// events in hand to be finished (their jobs acked, or settled by Handoff
// within SettleWait) or left unacked for redelivery.
func (d *Dispatcher) Run(ctx context.Context) error {
	cons, err := d.js.Consumer(ctx, stream.Events, stream.DispatchConsumer)
	if err != nil {
		return fmt.Errorf("dispatch: consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2*d.cfg.Workers),
		jetstream.PullExpiry(stream.PullExpiry), jetstream.PullHeartbeat(stream.PullHeartbeat))
	if err != nil {
		return fmt.Errorf("dispatch: messages: %w", err)
	}
	go func() {
		<-ctx.Done()
		it.Drain() // deliver what is buffered, then close
		// Draining needs the server; without it, give up after a while.
		time.AfterFunc(5*time.Second, it.Stop)
	}()
	msgs := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range d.cfg.Workers {
		wg.Go(func() {
			for m := range msgs {
				d.handle(context.WithoutCancel(ctx), m)
			}
		})
	}
	defer func() {
		close(msgs)
		wg.Wait()
		d.waitSettled()
	}()
	for {
		m, err := it.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return nil
		}
		if err != nil {
			d.log.Debug("dispatch: pull", "err", err)
			time.Sleep(50 * time.Millisecond) // a transient pull error (missed heartbeat, reconnect)
			continue
		}
		if ctx.Err() != nil {
			_ = m.Nak() // stopping: another dispatcher takes it now
			continue
		}
		msgs <- stream.Hold(m, d.cfg.Heartbeat)
	}
}

func (d *Dispatcher) handle(ctx context.Context, m jetstream.Msg) {
	var e event.Envelope
	if err := json.Unmarshal(m.Data(), &e); err != nil {
		// Validated at publish: this is not an event of ours. Terminating is
		// the only way out; the log line is its record.
		d.log.ErrorContext(telemetry.Extract(ctx, m.Headers()), "dispatch: undecodable event terminated", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	published := time.Now()
	if md, err := m.Metadata(); err == nil {
		published = md.Timestamp
	}
	ctx, span := d.cfg.Tracer.Start(telemetry.Extract(ctx, m.Headers()), "dispatch "+e.Type, telemetry.ConsumerSpan)
	defer span.End()
	recording := span.IsRecording() // attributes are built only for a span that is kept
	if recording {
		span.SetAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("webhooks.event.id", e.ID),
			attribute.String("webhooks.event.type", e.Type),
			attribute.String("webhooks.company.id", e.CompanyID),
		)
	}
	ev := &pendingEvent{d: d, m: m, ctx: ctx, id: e.ID, typ: e.Type, done: d.settled.take(e.ID)}
	ev.left.Store(1) // this call's own hold, released below
	n, err := d.dispatch(ctx, &e, m.Headers(), published, ev)
	if recording {
		span.SetAttributes(attribute.Int("webhooks.jobs", n))
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	ev.jobs = n
	ev.settle(err)
}

// pendingEvent is an event whose jobs are not all stored or settled yet.
// It is acked when the last one is, or left for redelivery (Nak) when one
// of them failed.
type pendingEvent struct {
	d *Dispatcher
	m jetstream.Msg
	// ctx is the event's dispatch (its span), for the lines logged when
	// the event is settled, maybe after dispatch returned.
	ctx     context.Context
	id, typ string
	jobs    int // set before the dispatching call releases its hold
	taken   int // of them, the jobs Handoff took
	left    atomic.Int32
	failed  atomic.Pointer[error]
	handoff bool // a job was taken by Handoff: Run waits for the event

	mu   sync.Mutex
	done map[string]struct{} // webhooks whose jobs are settled, this time or before
}

// settled counts as settled the job of webhook id, to be skipped if the
// event is dispatched again.
func (ev *pendingEvent) settled(webhookID string) {
	ev.mu.Lock()
	if ev.done == nil {
		ev.done = make(map[string]struct{})
	}
	ev.done[webhookID] = struct{}{}
	ev.mu.Unlock()
}

// isDone reports whether the job of webhook id was settled by an earlier
// dispatch of the event.
func (ev *pendingEvent) isDone(webhookID string) bool {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	_, ok := ev.done[webhookID]
	return ok
}

// settle counts one job (or the dispatching call itself) as done.
func (ev *pendingEvent) settle(err error) {
	if err != nil {
		ev.failed.CompareAndSwap(nil, &err)
	}
	if ev.left.Add(-1) > 0 {
		return
	}
	d := ev.d
	if ev.handoff {
		defer d.unsettled.Done()
	}
	if p := ev.failed.Load(); p != nil {
		d.log.WarnContext(ev.ctx, "dispatch failed; event left for redelivery", "event_id", ev.id, "err", *p)
		ev.mu.Lock()
		d.settled.remember(ev.id, ev.done, time.Now())
		ev.mu.Unlock()
		_ = ev.m.NakWithDelay(time.Second)
		return
	}
	if err := ev.m.Ack(); err != nil {
		d.log.WarnContext(ev.ctx, "dispatch: ack failed; event will be redelivered (jobs deduplicated)", "event_id", ev.id, "err", err)
	}
	if d.cfg.Metrics != nil {
		d.cfg.Metrics.Dispatched(ev.typ, ev.jobs, ev.taken)
	}
}

// waitSettled waits, at most SettleWait, for the events whose jobs
// Handoff still holds.
func (d *Dispatcher) waitSettled() {
	done := make(chan struct{})
	go func() { d.unsettled.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d.cfg.SettleWait):
		d.log.Warn("dispatch: stopped with jobs of unacked events still being delivered; the events will be redelivered")
	}
}

// Dispatch publishes one job per matching webhook and waits for every
// JetStream ack. It returns the number of jobs.
func (d *Dispatcher) Dispatch(ctx context.Context, e *event.Envelope, h nats.Header, published time.Time) (int, error) {
	return d.dispatch(ctx, e, h, published, nil)
}

// dispatch makes one job per matching webhook. With ev, each job is first
// offered to Handoff, and ev counts the jobs Handoff took; the others are
// published, and dispatch returns once JetStream acked them all.
func (d *Dispatcher) dispatch(ctx context.Context, e *event.Envelope, h nats.Header, published time.Time, ev *pendingEvent) (int, error) {
	if err := d.resolver.Sync(ctx); err != nil {
		// The registry has no leader (one is being elected), so no
		// management write can be acknowledged now: the registry as last
		// seen is the registry. Waiting would stall every event for the
		// election.
		d.syncFailed(ctx, err)
	}
	comp, err := d.resolver.Company(ctx, e.CompanyID)
	if err != nil {
		return 0, err
	}
	target := h.Get(job.HeaderTarget)
	var msgs []*nats.Msg
	var offers []Offer
	batch, _ := d.cfg.Handoff.(BatchHandoff)
	n := 0
	sel := NewSelector(e, d.log)
	for _, w := range comp.Hooks {
		if target != "" {
			if w.ID != target {
				continue
			}
		} else if !sel.Selects(ctx, w) {
			continue
		}
		if ev != nil && ev.isDone(w.ID) {
			continue // settled by an earlier dispatch of this event
		}
		span, j, msg, err := d.newJob(ctx, e, w, job.DeliveryID(e.ID, w.ID, e.OccurredAt), e.ID+"."+w.ID, published)
		span.End()
		if err != nil {
			return n, err
		}
		n++
		if ev != nil && batch != nil {
			offers = append(offers, Offer{Job: j, Msg: msg})
			continue
		}
		if ev != nil && d.cfg.Handoff != nil && d.take(ev, j, msg) {
			continue
		}
		msgs = append(msgs, msg)
	}
	if len(offers) > 0 {
		msgs = append(msgs, d.takeBatch(ev, batch, offers)...)
	}
	if err := d.store(ctx, msgs); err != nil {
		return n, err
	}
	return n, nil
}

// syncFailed logs, at most once a second, that events are dispatched with
// the registry as last seen.
func (d *Dispatcher) syncFailed(ctx context.Context, err error) {
	now := time.Now().UnixNano()
	last := d.syncWarned.Load()
	if now-last < int64(time.Second) || !d.syncWarned.CompareAndSwap(last, now) {
		return
	}
	d.log.WarnContext(ctx, "dispatch: registry not reachable; dispatching with the registry as last seen", "err", err)
}

// take offers a job to Handoff, counting it in ev first: Take may settle
// it before it returns.
func (d *Dispatcher) take(ev *pendingEvent, j *job.Job, msg *nats.Msg) bool {
	ev.hold(1)
	if d.cfg.Handoff.Take(j, msg, ev.settler(j.WebhookID)) {
		ev.taken++
		return true
	}
	ev.left.Add(-1) // never more than the dispatching call's hold: not the last
	return false
}

// takeBatch offers an event's jobs to h, counting them in ev first, and
// returns the messages of those it did not take, to be stored.
func (d *Dispatcher) takeBatch(ev *pendingEvent, h BatchHandoff, offers []Offer) []*nats.Msg {
	ev.hold(len(offers))
	for i := range offers {
		offers[i].Settle = ev.settler(offers[i].Job.WebhookID)
	}
	n := h.TakeBatch(offers)
	ev.taken += n
	ev.left.Add(int32(n - len(offers))) // never more than the dispatching call's hold
	msgs := make([]*nats.Msg, 0, len(offers)-n)
	for _, o := range offers[n:] {
		msgs = append(msgs, o.Msg)
	}
	return msgs
}

// hold counts n jobs offered to Handoff as unsettled, and the event as one
// Run waits for.
func (ev *pendingEvent) hold(n int) {
	ev.left.Add(int32(n))
	if !ev.handoff {
		ev.handoff = true
		ev.d.unsettled.Add(1)
	}
}

// settler settles the job of webhook id: settled, to be skipped if the
// event comes back, when err is nil.
func (ev *pendingEvent) settler(webhookID string) func(error) {
	return func(err error) {
		if err == nil {
			ev.settled(webhookID)
		}
		ev.settle(err)
	}
}

// Selector decides which webhooks one event goes to. The event's values are
// decoded at most once, lazily, however many filters read them.
type Selector struct {
	e   *event.Envelope
	act *filter.Activation
	log *slog.Logger
}

// NewSelector returns a Selector for e.
func NewSelector(e *event.Envelope, log *slog.Logger) *Selector {
	return &Selector{e: e, log: log}
}

// Selects reports whether the event goes to webhook w: scope, then filter.
// A filter that fails at run time (a missing field, the cost limit) does not
// select, and is logged with ctx.
func (s *Selector) Selects(ctx context.Context, w *registry.Entry) bool {
	if !w.Matches(s.e.Type, s.e.ProjectID) {
		return false
	}
	if w.Filter == nil {
		return true
	}
	var ok bool
	var err error
	if s.act == nil {
		s.act, err = filter.NewActivation(s.e)
	}
	if err == nil {
		ok, err = w.Filter.MatchActivation(s.act)
	}
	if err != nil {
		s.log.DebugContext(ctx, "dispatch: filter did not evaluate; webhook not selected", "event_id", s.e.ID, "webhook_id", w.ID, "err", err)
		return false
	}
	return ok
}

// renderJob renders the body of e for w and its job's message, under a
// fan-out span whose context the job carries to its delivery attempts.
func (d *Dispatcher) renderJob(ctx context.Context, e *event.Envelope, w *registry.Entry, deliveryID, msgID string, published time.Time) (*nats.Msg, error) {
	span, _, msg, err := d.newJob(ctx, e, w, deliveryID, msgID, published)
	span.End()
	return msg, err
}

// newJob starts the fan-out span of e to w and renders the job and its
// message (with Nats-Msg-Id msgID) under it. The caller ends the span.
func (d *Dispatcher) newJob(ctx context.Context, e *event.Envelope, w *registry.Entry, deliveryID, msgID string, published time.Time) (trace.Span, *job.Job, *nats.Msg, error) {
	ctx, span := d.cfg.Tracer.Start(ctx, "fan out to "+w.ID, telemetry.ProducerSpan)
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("webhooks.webhook.id", w.ID),
			attribute.String("webhooks.delivery.id", deliveryID),
			attribute.String("webhooks.event.id", e.ID),
			attribute.String("webhooks.event.type", e.Type),
		)
	}
	// Sized for what it will hold: the job's seven headers and Nats-Msg-Id,
	// plus the trace context when there is one. A map made for more than
	// eight costs twice the allocations.
	size := 8
	if span.SpanContext().IsValid() {
		size = 10
	}
	h := make(nats.Header, size)
	telemetry.Inject(ctx, h)
	body := w.Payload
	if body == nil {
		var err error
		if body, err = w.PayloadJSON(); err != nil {
			return span, nil, nil, fmt.Errorf("dispatch: render: %w", err)
		}
	}
	body = renderWith(e, body)
	j := &job.Job{
		DeliveryID:  deliveryID,
		CompanyID:   e.CompanyID,
		WebhookID:   w.ID,
		EventID:     e.ID,
		EventType:   e.Type,
		Attempt:     1,
		PublishedAt: published,
		Body:        body,
		Header:      h,
	}
	msg := j.Msg(stream.DeliverySubject(w.ID, d.cfg.Shards))
	msg.Header[jetstream.MsgIDHeader] = []string{msgID} // as WithMsgID would, without allocating the option
	return span, j, msg, nil
}

// store stores jobs' messages in DELIVERIES, within StoreWait. Each
// carries its Nats-Msg-Id, so sending one again is deduplicated.
func (d *Dispatcher) store(ctx context.Context, msgs []*nats.Msg) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := stream.Store(ctx, d.pub, msgs, d.cfg.StoreWait); err != nil {
		return fmt.Errorf("dispatch: jobs not stored: %w", err)
	}
	return nil
}
