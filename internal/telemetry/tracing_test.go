package telemetry_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/bluehq/webhooks/internal/telemetry"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestSetupTracingOff(t *testing.T) {
	t.Parallel()
	const endpoint = "http://127.0.0.1:4318"
	tests := []struct {
		name string
		env  map[string]string
	}{
		{name: "no variables"},
		{name: "no endpoint", env: map[string]string{"OTEL_SERVICE_NAME": "x", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}},
		{name: "sdk disabled", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_SDK_DISABLED": "true"}},
		{name: "sdk disabled, upper case", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint, "OTEL_SDK_DISABLED": "TRUE"}},
		{name: "exporter none", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_TRACES_EXPORTER": "none"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp, shutdown, err := telemetry.SetupTracing(t.Context(), "webhookd", envOf(tt.env))
			if err != nil {
				t.Fatalf("SetupTracing: %v", err)
			}
			if _, ok := tp.(noop.TracerProvider); !ok {
				t.Errorf("provider is %T, want noop.TracerProvider", tp)
			}
			_, span := tp.Tracer("test").Start(t.Context(), "s")
			if span.IsRecording() {
				t.Error("no-op span is recording")
			}
			span.End()
			if err := shutdown(t.Context()); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
	}
}

func TestSetupTracingRejects(t *testing.T) {
	t.Parallel()
	const endpoint = "http://127.0.0.1:4318"
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string // the error names it
	}{
		{name: "unknown exporter", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_TRACES_EXPORTER": "zipkin"}, wantVar: "OTEL_TRACES_EXPORTER"},
		{name: "grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, wantVar: "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{name: "traces grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, wantVar: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"},
		{name: "endpoint without scheme", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"}, wantVar: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{name: "traces endpoint not a URL", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "://x"}, wantVar: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := telemetry.SetupTracing(t.Context(), "webhookd", envOf(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.wantVar) {
				t.Fatalf("err = %v, want one naming %s", err, tt.wantVar)
			}
		})
	}
}

// TestSetupTracingExports proves the exporter is wired: a span ended
// before shutdown reaches an OTLP/HTTP receiver at the configured URL.
func TestSetupTracingExports(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		env         func(url string) map[string]string
		wantPath    string
		wantType    string
		wantService string // checked for protobuf bodies
	}{
		{
			name:     "generic endpoint gets /v1/traces",
			env:      func(u string) map[string]string { return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": u + "/otlp"} },
			wantPath: "/otlp/v1/traces", wantType: "application/x-protobuf", wantService: "webhookd",
		},
		{
			name: "traces endpoint as is, service from OTEL_SERVICE_NAME",
			env: func(u string) map[string]string {
				return map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": u + "/v1/traces", "OTEL_SERVICE_NAME": "deliverer"}
			},
			wantPath: "/v1/traces", wantType: "application/x-protobuf", wantService: "deliverer",
		},
		{
			name: "http/json",
			env: func(u string) map[string]string {
				return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": u, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}
			},
			wantPath: "/v1/traces", wantType: "application/json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			type request struct {
				method, path, contentType string
				body                      []byte
			}
			got := make(chan request, 16)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				got <- request{r.Method, r.URL.Path, r.Header.Get("Content-Type"), body}
				w.Header().Set("Content-Type", tt.wantType)
				if tt.wantType == "application/json" {
					_, _ = io.WriteString(w, "{}")
				}
			}))
			defer srv.Close()

			tp, shutdown, err := telemetry.SetupTracing(t.Context(), "webhookd", envOf(tt.env(srv.URL)))
			if err != nil {
				t.Fatalf("SetupTracing: %v", err)
			}
			if _, ok := tp.(noop.TracerProvider); ok {
				t.Fatal("got the no-op provider with an endpoint set")
			}
			_, span := tp.Tracer("test").Start(t.Context(), "deliver")
			if !span.IsRecording() {
				t.Fatal("span is not recording")
			}
			span.End()
			if err := shutdown(t.Context()); err != nil {
				t.Fatalf("shutdown: %v", err)
			}

			// Shutdown flushes synchronously: the request has been handled.
			var req request
			select {
			case req = <-got:
			default:
				t.Fatal("the receiver got no request")
			}
			if req.method != http.MethodPost || req.path != tt.wantPath || req.contentType != tt.wantType {
				t.Fatalf("got %s %s (%s), want POST %s (%s)", req.method, req.path, req.contentType, tt.wantPath, tt.wantType)
			}
			if tt.wantService == "" {
				return
			}
			var export collectortrace.ExportTraceServiceRequest
			if err := proto.Unmarshal(req.body, &export); err != nil {
				t.Fatalf("body: %v", err)
			}
			rs := export.GetResourceSpans()
			if len(rs) != 1 || len(rs[0].GetScopeSpans()) != 1 || len(rs[0].GetScopeSpans()[0].GetSpans()) != 1 {
				t.Fatalf("want one span, got %v", rs)
			}
			if name := rs[0].GetScopeSpans()[0].GetSpans()[0].GetName(); name != "deliver" {
				t.Errorf("span name %q, want deliver", name)
			}
			var service string
			for _, kv := range rs[0].GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			if service != tt.wantService {
				t.Errorf("service.name %q, want %q", service, tt.wantService)
			}
		})
	}
}
