package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/bluehq/webhooks/internal/telemetry"
)

func TestLogHandler(t *testing.T) {
	t.Parallel()
	spanCtx := spanContext(t)
	sc := trace.SpanContextFromContext(spanCtx)
	tests := []struct {
		name      string
		log       func(l *slog.Logger)
		wantTrace bool
		wantAttrs map[string]any
	}{
		{name: "context with span", log: func(l *slog.Logger) { l.InfoContext(spanCtx, "m") }, wantTrace: true},
		{name: "context without span", log: func(l *slog.Logger) { l.InfoContext(context.Background(), "m") }},
		{name: "no context", log: func(l *slog.Logger) { l.Info("m") }},
		{
			name:      "With attributes kept",
			log:       func(l *slog.Logger) { l.With("delivery_id", "d1").WarnContext(spanCtx, "m", "status", 503) },
			wantTrace: true,
			wantAttrs: map[string]any{"delivery_id": "d1", "status": 503.0},
		},
		{
			name:      "many attributes",
			log:       func(l *slog.Logger) { l.InfoContext(spanCtx, "m", "a", 1, "b", 2, "c", 3, "d", 4, "e", 5, "f", 6) },
			wantTrace: true,
			wantAttrs: map[string]any{"a": 1.0, "f": 6.0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			tt.log(slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(&buf, nil))))
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("log line %q: %v", buf.String(), err)
			}
			traceID, hasTrace := line["trace_id"]
			spanID, hasSpan := line["span_id"]
			if tt.wantTrace {
				if traceID != sc.TraceID().String() || spanID != sc.SpanID().String() {
					t.Errorf("trace_id=%v span_id=%v, want %s %s", traceID, spanID, sc.TraceID(), sc.SpanID())
				}
			} else if hasTrace || hasSpan {
				t.Errorf("unexpected ids in %s", buf.String())
			}
			for k, v := range tt.wantAttrs {
				if line[k] != v {
					t.Errorf("%s = %v, want %v", k, line[k], v)
				}
			}
		})
	}
}

func TestLogHandlerKeepsLevelAndGroups(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	l.DebugContext(spanContext(t), "hidden")
	if buf.Len() != 0 {
		t.Fatalf("a debug line passed an info handler: %s", buf.String())
	}
	l.WithGroup("http").InfoContext(spanContext(t), "m", "status", 200)
	if !strings.Contains(buf.String(), `"http":{"status":200,"trace_id":`) {
		t.Errorf("group lost or ids outside the record's attributes: %s", buf.String())
	}
}
