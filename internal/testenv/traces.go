package testenv

import (
	"context"
	"log/slog"
	"sync"

	"go.opentelemetry.io/otel/trace"
)

// TraceID is the trace of WithTrace.
const TraceID = "4bf92f3577b34da6a3ce929d0e0e4736"

// WithTrace returns ctx carrying a remote span of trace TraceID, as a
// request or a message from another process would.
func WithTrace(ctx context.Context) context.Context {
	tid, _ := trace.TraceIDFromHex(TraceID)
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	return trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true,
	}))
}

// Traces is a slog.Handler that keeps, for each message logged, the trace
// id of the context it was logged with: what the log handler of
// internal/telemetry writes as trace_id.
type Traces struct {
	mu    sync.Mutex
	trace map[string]string
}

func (t *Traces) Enabled(context.Context, slog.Level) bool { return true }
func (t *Traces) WithAttrs([]slog.Attr) slog.Handler       { return t }
func (t *Traces) WithGroup(string) slog.Handler            { return t }

func (t *Traces) Handle(ctx context.Context, r slog.Record) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.trace == nil {
		t.trace = map[string]string{}
	}
	t.trace[r.Message] = ""
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		t.trace[r.Message] = sc.TraceID().String()
	}
	return nil
}

// Of is the trace id msg was last logged with: "" without one, or when it
// was not logged.
func (t *Traces) Of(msg string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.trace[msg]
}
