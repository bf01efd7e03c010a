// Package publish is the Go client Blue services use to publish events to
// the webhook platform. Each event is validated against the event catalogue
// first and published to the EVENTS stream with Nats-Msg-Id = event id, so a
// retried publish is deduplicated; Publish returns only after JetStream has
// acknowledged (persisted) the event. While the stream has no leader (one
// is being elected after a server died) a publish is sent again every half
// second, for up to the client's wait (WithWait, default 10 s), rather than
// failing.
package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/telemetry"
)

// Event is the envelope a Blue service publishes.
type Event = event.Envelope

// ErrInvalid is wrapped by every validation error; errors.As with
// *event.FieldError gives the field at fault.
var ErrInvalid = event.ErrInvalid

// FieldError names the field of an event that is not valid.
type FieldError = event.FieldError

// Client publishes events.
type Client struct {
	js  jetstream.JetStream
	cat *event.Catalogue
	// Inject, if set, adds headers (trace context) to each published event.
	inject func(ctx context.Context, h nats.Header)
	tracer trace.Tracer
	onPub  func(eventType string)
	wait   time.Duration
}

// DefaultWait is how long a publish waits for JetStream to store an event
// (across a leader election) unless WithWait says otherwise.
const DefaultWait = 10 * time.Second

// WithWait sets how long a publish keeps trying to store its events before
// it fails; at least a second.
func WithWait(d time.Duration) Option {
	return func(c *Client) { c.wait = max(d, time.Second) }
}

// WithPublished calls f once per event JetStream acknowledged (metrics).
func WithPublished(f func(eventType string)) Option {
	return func(c *Client) { c.onPub = f }
}

// Option configures a Client.
type Option func(*Client)

// WithHeaderInjector adds headers to every published message, e.g. the W3C
// trace context of ctx.
func WithHeaderInjector(f func(ctx context.Context, h nats.Header)) Option {
	return func(c *Client) { c.inject = f }
}

// WithTracerProvider traces each publish (a producer span per event) and
// sends its W3C trace context in the message headers, so the dispatch and
// the deliveries of the event join the publisher's trace.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *Client) { c.tracer = tp.Tracer("github.com/bluehq/webhooks/pkg/publish") }
}

// New returns a Client over a NATS connection.
func New(nc *nats.Conn, opts ...Option) (*Client, error) {
	// An ack not seen within two resends is given up on: by then the
	// message was sent again and that copy is awaited instead.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096), jetstream.WithPublishAsyncTimeout(2*stream.Resend))
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	cat, err := event.LoadCatalogue()
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	c := &Client{js: js, cat: cat, tracer: noop.NewTracerProvider().Tracer(""), wait: DefaultWait}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Catalogue returns the event catalogue the client validates against.
func (c *Client) Catalogue() *event.Catalogue { return c.cat }

// Publish validates and publishes one event. An empty ID is filled with a new
// one and a zero OccurredAt with now; the id is returned. Errors wrapping
// ErrInvalid mean the event was refused and nothing was published.
func (c *Client) Publish(ctx context.Context, e Event) (string, error) {
	return c.PublishWithHeader(ctx, e, nil)
}

// PublishWithHeader is Publish with extra message headers (the platform uses
// it to address its own events, such as WEBHOOK_TEST, to one webhook).
func (c *Client) PublishWithHeader(ctx context.Context, e Event, h nats.Header) (string, error) {
	if e.ID == "" {
		e.ID = event.NewID()
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = time.Now().UTC()
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	valid, err := c.cat.Check(raw)
	if err != nil {
		return "", err
	}
	ids, err := c.publishValid(ctx, []event.Checked{valid}, h)
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// PublishJSON validates raw (one envelope or an array of them) and publishes
// every event, all or nothing for validation. It returns the ids in order.
// If a publish fails after validation, some events may be stored; publishing
// the same batch again is safe because ids are deduplicated.
func (c *Client) PublishJSON(ctx context.Context, raw []byte) ([]string, error) {
	events, err := c.cat.CheckBatch(raw)
	if err != nil {
		return nil, err
	}
	return c.publishValid(ctx, events, nil)
}

// PublishChecked publishes events that the client's Catalogue accepted
// (Check or CheckBatch), for a caller that looks at them between the two
// (the ingest checks their companies). It returns the ids in order, as
// PublishJSON does.
func (c *Client) PublishChecked(ctx context.Context, events []event.Checked) ([]string, error) {
	return c.publishValid(ctx, events, nil)
}

// publishValid publishes validated envelopes as they were checked.
func (c *Client) publishValid(ctx context.Context, events []event.Checked, extra nats.Header) ([]string, error) {
	ids := make([]string, len(events))
	msgs := make([]*nats.Msg, len(events))
	for i := range events {
		e := &events[i]
		msg := &nats.Msg{Subject: stream.EventSubject(e.CompanyID, e.ProjectID, e.Type), Data: e.Raw, Header: nats.Header{}}
		for k, v := range extra {
			msg.Header[k] = v
		}
		msg.Header[jetstream.MsgIDHeader] = []string{e.ID}
		sctx, span := c.tracer.Start(ctx, "publish "+e.Type, trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(
				attribute.String("messaging.system", "nats"),
				attribute.String("messaging.destination.name", msg.Subject),
				attribute.String("webhooks.event.id", e.ID),
				attribute.String("webhooks.event.type", e.Type),
				attribute.String("webhooks.company.id", e.CompanyID),
			))
		span.End() // the span marks the hand-off; the ack is awaited below for the batch
		if span.SpanContext().IsValid() {
			telemetry.Inject(sctx, msg.Header)
		}
		if c.inject != nil {
			c.inject(ctx, msg.Header)
		}
		ids[i], msgs[i] = e.ID, msg
	}
	if err := stream.Store(ctx, c.js, msgs, c.wait); err != nil {
		return nil, fmt.Errorf("publish: events not stored: %w", err)
	}
	if c.onPub != nil {
		for i := range events {
			c.onPub(events[i].Type)
		}
	}
	return ids, nil
}

// IsInvalid reports whether err is a validation error (nothing published).
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }
