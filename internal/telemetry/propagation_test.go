package telemetry_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"

	"github.com/bluehq/webhooks/internal/telemetry"
	"github.com/bluehq/webhooks/internal/testenv"
)

// spanContext is a sampled remote span with a tracestate and baggage.
func spanContext(t *testing.T) context.Context {
	t.Helper()
	ts, err := trace.ParseTraceState("vendor=abc")
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
		TraceState: ts,
	})
	member, err := baggage.NewMember("company", "c1")
	if err != nil {
		t.Fatal(err)
	}
	bag, err := baggage.New(member)
	if err != nil {
		t.Fatal(err)
	}
	return baggage.ContextWithBaggage(trace.ContextWithSpanContext(context.Background(), sc), bag)
}

func checkExtracted(t *testing.T, want, got context.Context) {
	t.Helper()
	w, g := trace.SpanContextFromContext(want), trace.SpanContextFromContext(got)
	if !g.IsValid() || !g.IsRemote() {
		t.Fatalf("extracted span context %+v is not a valid remote one", g)
	}
	if !g.Equal(w.WithRemote(true)) {
		t.Errorf("extracted %+v, want %+v", g, w)
	}
	if v := baggage.FromContext(got).Member("company").Value(); v != "c1" {
		t.Errorf("baggage company = %q, want c1", v)
	}
}

func TestInjectExtractRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := spanContext(t)
	h := nats.Header{}
	telemetry.Inject(ctx, h)
	for _, k := range []string{"traceparent", "tracestate", "baggage"} {
		if len(h[k]) != 1 {
			t.Errorf("header %q = %v, want one value (lower-case key)", k, h[k])
		}
	}
	if got, want := h.Get("traceparent"), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"; got != want {
		t.Errorf("traceparent %q, want %q", got, want)
	}
	checkExtracted(t, ctx, telemetry.Extract(context.Background(), h))
}

// TestTraceContextCrossesNATS sends the headers through a real server.
func TestTraceContextCrossesNATS(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t, 1)
	sub, err := n.Conn.SubscribeSync("telemetry.test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := spanContext(t)
	msg := nats.NewMsg("telemetry.test")
	telemetry.Inject(ctx, msg.Header)
	if err := n.Conn.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	got, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	checkExtracted(t, ctx, telemetry.Extract(context.Background(), got.Header))
}

func TestExtractWithoutValidContext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    nats.Header
	}{
		{name: "nil header"},
		{name: "no trace headers", h: nats.Header{"Nats-Msg-Id": {"x"}}},
		{name: "malformed traceparent", h: nats.Header{"traceparent": {"00-zz-yy-01"}}},
		{name: "all-zero trace id", h: nats.Header{"traceparent": {"00-00000000000000000000000000000000-00f067aa0ba902b7-01"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if sc := trace.SpanContextFromContext(telemetry.Extract(context.Background(), tt.h)); sc.IsValid() {
				t.Errorf("extracted a valid span context %+v", sc)
			}
		})
	}
}

func TestHeaderCarrier(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    nats.Header
		key  string
		want string
	}{
		{name: "lower-case key", h: nats.Header{"traceparent": {"a"}}, key: "traceparent", want: "a"},
		{name: "asked in another case", h: nats.Header{"traceparent": {"a"}}, key: "Traceparent", want: "a"},
		{name: "stored in another case", h: nats.Header{"TraceParent": {"b"}}, key: "traceparent", want: "b"},
		{name: "lower case preferred", h: nats.Header{"Traceparent": {"x"}, "traceparent": {"a"}}, key: "traceparent", want: "a"},
		{name: "first value", h: nats.Header{"tracestate": {"1", "2"}}, key: "tracestate", want: "1"},
		{name: "missing", h: nats.Header{"other": {"x"}}, key: "traceparent", want: ""},
		{name: "nil", key: "traceparent", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := telemetry.HeaderCarrier(tt.h).Get(tt.key); got != tt.want {
				t.Errorf("Get(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}

	h := nats.Header{"Nats-Msg-Id": {"id"}}
	c := telemetry.HeaderCarrier(h)
	c.Set("TraceParent", "v1")
	c.Set("traceparent", "v2")
	if got := h["traceparent"]; len(got) != 1 || got[0] != "v2" {
		t.Errorf(`h["traceparent"] = %v, want [v2]`, got)
	}
	if _, ok := h["TraceParent"]; ok {
		t.Error("Set kept the key's case")
	}
	if keys := c.Keys(); len(keys) != 2 {
		t.Errorf("Keys() = %v, want Nats-Msg-Id and traceparent", keys)
	}
}
