// Package delivery is the deliverer role: it consumes the DELIVERIES shards,
// signs and POSTs each job to its endpoint, records the attempt, and decides
// what happens next: ack on 2xx, a scheduled retry on failure, DEAD when the
// attempts are spent or the webhook is disabled. Nothing is acked that was
// not delivered, rescheduled or dead-lettered.
package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/retry"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/webhook"
)

// Resolver finds the webhook a job is for (its URL, secrets, state).
type Resolver interface {
	Webhook(ctx context.Context, companyID, id string) (*registry.Entry, error)
}

// Disabler turns a webhook off (410 Gone, or failing for too long).
type Disabler interface {
	Disable(ctx context.Context, companyID, id, reason string) error
}

// Config configures a Deliverer.
type Config struct {
	Shards      int
	Timeout     time.Duration // per request
	Policy      retry.Policy
	MaxInFlight int // attempts in flight in this process
	UserAgent   string
	// StopTimeout bounds how long Run waits for in-flight attempts after
	// its context ends; what is still running then is handed back (Nak).
	StopTimeout time.Duration
	Logger      *slog.Logger
}

// Deliverer is the delivery role.
type Deliverer struct {
	js       jetstream.JetStream
	resolver Resolver
	disabler Disabler
	client   *http.Client
	cfg      Config
	log      *slog.Logger

	sem      chan struct{}
	inflight sync.WaitGroup
	// hardStop is cancelled when StopTimeout has passed after shutdown.
	hardStop context.Context
}

// New returns a Deliverer.
func New(js jetstream.JetStream, resolver Resolver, disabler Disabler, client *http.Client, cfg Config) (*Deliverer, error) {
	switch {
	case cfg.Shards < 1:
		return nil, errors.New("delivery: Config.Shards must be at least 1")
	case cfg.Timeout <= 0:
		return nil, errors.New("delivery: Config.Timeout must be positive")
	}
	if cfg.MaxInFlight < 1 {
		cfg.MaxInFlight = 1024
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "Blue-Webhooks/1.0"
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = cfg.Timeout + 2*time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Deliverer{
		js: js, resolver: resolver, disabler: disabler, client: client, cfg: cfg, log: cfg.Logger,
		sem: make(chan struct{}, cfg.MaxInFlight),
	}, nil
}

// Run consumes every shard until ctx ends. Then it stops pulling, lets the
// attempts in flight finish within StopTimeout, and hands back the rest.
func (d *Deliverer) Run(ctx context.Context) error {
	hardStop, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	d.hardStop = hardStop
	var consumers []jetstream.ConsumeContext
	stopAll := func() {
		for _, cc := range consumers {
			cc.Stop()
		}
	}
	perShard := max(16, 2*d.cfg.MaxInFlight/d.cfg.Shards)
	for shard := range d.cfg.Shards {
		cons, err := d.js.Consumer(ctx, stream.Deliveries, stream.ShardConsumer(shard))
		if err != nil {
			stopAll()
			return fmt.Errorf("delivery: consumer %d: %w", shard, err)
		}
		cc, err := cons.Consume(d.onMsg, jetstream.PullMaxMessages(perShard))
		if err != nil {
			stopAll()
			return fmt.Errorf("delivery: consume %d: %w", shard, err)
		}
		consumers = append(consumers, cc)
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

func (d *Deliverer) onMsg(m jetstream.Msg) {
	d.sem <- struct{}{}
	d.inflight.Add(1)
	go func() {
		defer func() { <-d.sem; d.inflight.Done() }()
		d.handle(d.hardStop, m)
	}()
}

// outcome of one attempt.
type outcome struct {
	status  int
	class   string
	errText string
	latency time.Duration
	resp    []byte
	retryIn time.Duration // from Retry-After, if any
}

func (o outcome) ok() bool { return o.class == ClassNone && o.status >= 200 && o.status < 300 }

func (d *Deliverer) handle(ctx context.Context, m jetstream.Msg) {
	j, err := job.FromMsg(natsHeader(m), m.Data())
	if err != nil {
		d.log.Error("delivery: malformed job terminated", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	log := d.log.With("delivery_id", j.DeliveryID, "webhook_id", j.WebhookID, "event_id", j.EventID, "attempt", j.Attempt)
	entry, err := d.resolver.Webhook(ctx, j.CompanyID, j.WebhookID)
	if errors.Is(err, webhook.ErrNotFound) {
		log.Info("delivery dropped: webhook deleted")
		_ = m.Ack()
		return
	}
	if err != nil {
		log.Warn("delivery: registry unavailable; job handed back", "err", err)
		_ = m.NakWithDelay(time.Second)
		return
	}
	if !entry.Enabled {
		d.finish(ctx, m, &j, log, d.deadLetter(ctx, &j, "disabled"), "parked")
		return
	}

	out := d.attempt(ctx, entry, &j)
	if ctx.Err() != nil {
		// Shutting down mid-attempt: hand the job back untouched.
		_ = m.Nak()
		return
	}
	log = log.With("status", out.status, "latency_ms", out.latency.Milliseconds(), "error_class", out.class)
	switch {
	case out.ok():
		log.Info("delivered")
		if err := m.Ack(); err != nil {
			log.Warn("delivery: ack failed; a duplicate may follow", "err", err)
		}
	case out.status == http.StatusGone:
		log.Warn("endpoint answered 410 Gone: webhook disabled")
		if d.disabler != nil {
			if err := d.disabler.Disable(ctx, j.CompanyID, j.WebhookID, "gone"); err != nil {
				log.Error("delivery: disabling webhook failed", "err", err)
				_ = m.NakWithDelay(time.Second)
				return
			}
		}
		d.finish(ctx, m, &j, log, d.deadLetter(ctx, &j, "gone"), "parked")
	default:
		delay, more := d.cfg.Policy.Next(j.Attempt)
		if !more {
			log.Warn("delivery failed; attempts exhausted", "err", out.errText)
			d.finish(ctx, m, &j, log, d.deadLetter(ctx, &j, "exhausted"), "dead")
			return
		}
		if out.retryIn > 0 {
			delay = d.cfg.Policy.Clamp(out.retryIn, time.Second)
		}
		log.Info("delivery failed; retry scheduled", "retry_in", delay.String(), "err", out.errText)
		d.finish(ctx, m, &j, log, d.schedule(ctx, m, j, delay), "retry")
	}
}

// finish acks the job once its next step is durable, or hands it back.
func (d *Deliverer) finish(_ context.Context, m jetstream.Msg, _ *job.Job, log *slog.Logger, stepErr error, step string) {
	if stepErr != nil {
		log.Error("delivery: "+step+" failed; job handed back", "err", stepErr)
		_ = m.NakWithDelay(time.Second)
		return
	}
	if err := m.Ack(); err != nil {
		log.Warn("delivery: ack after "+step+" failed; the job may be seen again", "err", err)
	}
}

func (d *Deliverer) attempt(ctx context.Context, e *registry.Entry, j *job.Job) outcome {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(j.Body))
	if err != nil {
		return outcome{class: ClassConnection, errText: err.Error()}
	}
	now := time.Now()
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{d.cfg.UserAgent}
	h["X-Webhook-Event"] = []string{j.EventType}
	h["X-Webhook-Attempt"] = []string{strconv.Itoa(j.Attempt)}
	if tp := j.Header.Get("traceparent"); tp != "" {
		h["Traceparent"] = []string{tp}
	}
	e.Signer(now).Sign(h, j.DeliveryID, now.Unix(), j.Body)

	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		return outcome{class: classify(err), errText: err.Error(), latency: time.Since(start)}
	}
	defer resp.Body.Close()
	head := make([]byte, 1024)
	n, _ := io.ReadFull(resp.Body, head)
	// Drain a little more so the connection can be reused; a larger body
	// costs the connection instead.
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	out := outcome{status: resp.StatusCode, latency: time.Since(start), resp: head[:n]}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		out.class, out.errText = ClassRedirect, "redirects are not followed: "+resp.Status
	default:
		out.class, out.errText = ClassStatus, resp.Status
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			if ra, ok := retry.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				out.retryIn = ra
			}
		}
	}
	return out
}

// schedule publishes the next attempt as a message schedule on the same
// stream, targeted at the job's own subject.
func (d *Deliverer) schedule(ctx context.Context, m jetstream.Msg, j job.Job, delay time.Duration) error {
	now := time.Now()
	if j.FirstFailAt.IsZero() {
		j.FirstFailAt = now
	}
	j.Attempt++
	j.Header = cloneHeader(j.Header)
	msg := j.Msg(stream.RetrySubject(j.DeliveryID))
	// A schedule fires at whole seconds; round up so the delay is never short.
	at := now.Add(delay).Truncate(time.Second).Add(time.Second)
	_, err := d.js.PublishMsg(ctx, msg, jetstream.WithScheduleAt(at), jetstream.WithScheduleTarget(m.Subject()))
	return err
}

// deadLetter copies the job to DEAD; deduplicated per delivery and attempt.
func (d *Deliverer) deadLetter(ctx context.Context, j *job.Job, reason string) error {
	jj := *j
	jj.Header = cloneHeader(j.Header)
	msg := jj.Msg(stream.DeadSubject(j.CompanyID, j.WebhookID, j.DeliveryID))
	msg.Header.Set(job.HeaderDeadReason, reason)
	_, err := d.js.PublishMsg(ctx, msg, jetstream.WithMsgID("dead."+j.DeliveryID+"."+strconv.Itoa(j.Attempt)))
	return err
}

func natsHeader(m jetstream.Msg) nats.Header {
	h := m.Headers()
	if h == nil {
		h = nats.Header{}
	}
	return h
}

// cloneHeader copies a header without the server's schedule and dedup
// headers, which must not be carried into a new publish.
func cloneHeader(h nats.Header) nats.Header {
	out := make(nats.Header, len(h))
	for k, v := range h {
		if len(k) > 5 && k[:5] == "Nats-" {
			continue
		}
		out[k] = v
	}
	return out
}
