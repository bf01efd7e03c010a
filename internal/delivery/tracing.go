package delivery

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/telemetry"
)

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
