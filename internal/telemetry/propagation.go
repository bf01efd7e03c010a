package telemetry

import (
	"context"
	"strings"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// w3c is W3C Trace Context plus W3C Baggage: traceparent, tracestate and
// baggage headers.
var w3c propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(
	propagation.TraceContext{}, propagation.Baggage{},
)

// Propagator returns the W3C Trace Context + Baggage propagator that Inject
// and Extract use, for callers that carry trace context elsewhere (HTTP).
func Propagator() propagation.TextMapPropagator { return w3c }

// HeaderCarrier adapts NATS message headers to propagation.TextMapCarrier.
// nats.Header is case-sensitive, so keys are written in lower case
// (traceparent, tracestate, baggage) and read in any case.
type HeaderCarrier nats.Header

var _ propagation.TextMapCarrier = HeaderCarrier(nil)

// Get returns the first value of key, matched case-insensitively.
func (c HeaderCarrier) Get(key string) string {
	key = strings.ToLower(key)
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	for k, v := range c {
		if len(k) == len(key) && len(v) > 0 && strings.EqualFold(k, key) {
			return v[0]
		}
	}
	return ""
}

// Set replaces the values of the lower-cased key with value.
func (c HeaderCarrier) Set(key, value string) {
	c[strings.ToLower(key)] = []string{value}
}

// Keys lists the header names.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// Inject writes ctx's span context and baggage into h, which must not be
// nil (allocate msg.Header = nats.Header{} first).
func Inject(ctx context.Context, h nats.Header) {
	w3c.Inject(ctx, HeaderCarrier(h))
}

// Extract returns ctx with the remote span context and baggage found in h;
// ctx unchanged if h (possibly nil) carries none or an invalid one.
func Extract(ctx context.Context, h nats.Header) context.Context {
	return w3c.Extract(ctx, HeaderCarrier(h))
}
