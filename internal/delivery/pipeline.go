package delivery

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/telemetry"
	"github.com/bluehq/webhooks/internal/webhook"
)

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
		d.log.ErrorContext(ctx, "delivery: malformed job terminated", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	d.handleJob(ctx, pulledMsg{m}, j)
}

// handleJob delivers j, read from m, or decides what else becomes of it.
func (d *Deliverer) handleJob(ctx context.Context, m message, j job.Job) {
	// The job's trace (the dispatcher's span, from its headers): every line
	// logged about the job carries its trace id, those logged before the
	// attempt's span starts too.
	ctx = telemetry.Extract(ctx, j.Header)
	log := &jobLog{base: d.log, j: &j}
	entry, err := d.deps.Resolver.Webhook(ctx, j.CompanyID, j.WebhookID)
	if errors.Is(err, webhook.ErrNotFound) {
		log.InfoContext(ctx, "delivery dropped: webhook deleted")
		d.cfg.Metrics.Outcome(attempt.Dropped)
		_ = m.Ack()
		return
	}
	if err != nil {
		log.WarnContext(ctx, "delivery: registry unavailable; job handed back", "err", err)
		_ = m.requeue(time.Second)
		return
	}
	if !entry.Enabled {
		// Logged without a request, so that the delivery shows as parked.
		rec := outcome{}.record(&j)
		rec.Outcome = attempt.Parked
		d.record(ctx, rec)
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
			d.release(ctx, w.j.WebhookID, s, w.entry.EffectiveConcurrency(d.limits), 0, noAttempt)
			return
		}
	}
}

// deliver makes one attempt with the endpoint slot s (nil when the shared
// state could not give one) and does what decide makes of its outcome. It returns the
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
		end := attemptSucceeded
		if !out.ok() || ctx.Err() != nil {
			end = attemptFailed
		}
		next = d.release(ctx, j.WebhookID, s, w.entry.EffectiveConcurrency(d.limits), out.latency, end)
	}
	if ctx.Err() != nil {
		// Shutting down mid-attempt: hand the job back untouched.
		_ = m.requeue(0)
		return next
	}
	d.cfg.Metrics.Attempt(out.outcomeClass(), out.status, out.latency)
	log.out = &out
	rec := out.record(j)

	// A 410 disables the webhook by itself; any other answer counts for
	// the endpoint's health, which may disable it too.
	disabled := out.status != http.StatusGone && d.health(ctx, w.entry, j, out.ok(), log)
	delay, more := d.cfg.Policy.Next(j.Attempt)
	dec := decide(afterAttempt{out: out, disabled: disabled, delay: delay, more: more, now: time.Now()}, d.cfg.Policy)
	switch dec.verdict {
	case acked:
		rec.Outcome = attempt.Delivered
		d.record(ctx, rec)
		log.InfoContext(ctx, "delivered")
		d.cfg.Metrics.Outcome(attempt.Delivered)
		if !j.PublishedAt.IsZero() {
			d.cfg.Metrics.Delivered(time.Since(j.PublishedAt))
		}
		if err := m.Ack(); err != nil {
			log.WarnContext(ctx, "delivery: ack failed; a duplicate may follow", "err", err)
		}
	case goneDisable:
		rec.Outcome = attempt.Parked
		d.record(ctx, rec)
		log.WarnContext(ctx, "endpoint answered 410 Gone: disabling webhook")
		if err := d.disable(ctx, j, "gone", log); err != nil {
			_ = m.requeue(time.Second)
			return next
		}
		d.park(ctx, m, j, log, "gone")
	case parked:
		rec.Outcome = attempt.Parked
		d.record(ctx, rec)
		d.park(ctx, m, j, log, "disabled")
	case deadLettered:
		rec.Outcome = attempt.Dead
		d.record(ctx, rec)
		log.WarnContext(ctx, "delivery failed; attempts exhausted: dead-lettered", "err", out.errText)
		d.cfg.Metrics.Outcome(attempt.Dead)
		d.finish(ctx, m, log, d.deadLetter(ctx, j, "exhausted"), "dead-letter")
	case retried:
		retry := *j
		retry.Attempt++
		retry.Header = job.CopyHeader(j.Header)
		linkNext(ctx, retry.Header)
		rec.Outcome, rec.NextAttemptAt = attempt.Retry, &dec.at
		d.record(ctx, rec)
		log.InfoContext(ctx, "delivery failed; retry scheduled", "next_attempt_at", dec.at, "err", out.errText)
		d.cfg.Metrics.Outcome(attempt.Retry)
		d.finish(ctx, m, log, d.schedule(ctx, m.Subject(), retry, dec.at), "retry schedule")
	}
	return next
}
