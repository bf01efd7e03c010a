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

func TestParseLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    slog.Level
		wantErr bool
	}{
		{name: "unset is info", in: "", want: slog.LevelInfo},
		{name: "debug", in: "debug", want: slog.LevelDebug},
		{name: "upper case", in: "WARN", want: slog.LevelWarn},
		{name: "error", in: "error", want: slog.LevelError},
		{name: "unknown word", in: "verbose", wantErr: true},
		{name: "slog offset syntax", in: "info+2", wantErr: true},
		{name: "warning spelled out", in: "warning", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := telemetry.ParseLevel(tt.in)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "debug, info, warn, error") || !strings.Contains(err.Error(), tt.in) {
					t.Fatalf("ParseLevel(%q) = %v, %v; want an error naming %q and the accepted levels", tt.in, got, err, tt.in)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseLevel(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

// go-redis's own lines come out as one JSON record each, through the
// handler that stamps trace ids.
func TestRedisLoggerWritesJSON(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := telemetry.NewRedisLogger(slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(&buf, nil))))
	l.Printf(spanContext(t), "redis: connection pool: failed to dial after %d attempts: %v\n", 5, "dial tcp 127.0.0.1:1: connect: connection refused")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	want := map[string]any{
		"level": "WARN", "component": "go-redis",
		"msg": "redis: connection pool: failed to dial after 5 attempts: dial tcp 127.0.0.1:1: connect: connection refused",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v (line %s)", k, line[k], v, buf.String())
		}
	}
	if line["trace_id"] == nil {
		t.Errorf("no trace_id in %s", buf.String())
	}
}
