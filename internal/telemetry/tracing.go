package telemetry

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// SetupTracing returns the TracerProvider the process should use and the
// function that flushes and stops it.
//
// Tracing is off, and the provider is the no-op one at near-zero cost,
// unless OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// is set; OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn it off
// too. When on, spans go through a batch processor to an OTLP/HTTP exporter
// (protobuf, or JSON with OTEL_EXPORTER_OTLP_PROTOCOL=http/json), with
// service.name from OTEL_SERVICE_NAME, else from OTEL_RESOURCE_ATTRIBUTES,
// else service.
//
// getenv (os.Getenv if nil) decides those variables. The SDK reads the rest
// itself from the process environment: OTEL_TRACES_SAMPLER(_ARG),
// OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*, and the exporter's headers, TLS,
// timeout and compression (OTEL_EXPORTER_OTLP_[TRACES_]*).
//
// The provider is not installed globally; callers pass it on (or call
// otel.SetTracerProvider themselves). The errors name the variable at fault:
// an unsupported exporter or protocol (grpc is not built in), or an endpoint
// that is not an absolute http(s) URL.
func SetupTracing(ctx context.Context, service string, getenv func(string) string) (trace.TracerProvider, func(context.Context) error, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	off := func(context.Context) error { return nil }
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return noop.NewTracerProvider(), off, nil
	}
	switch exp := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); exp {
	case "none":
		return noop.NewTracerProvider(), off, nil
	case "", "otlp":
	default:
		return nil, nil, fmt.Errorf("telemetry: OTEL_TRACES_EXPORTER=%q is not supported (use otlp or none)", exp)
	}
	endpoint, err := tracesEndpoint(getenv)
	if err != nil {
		return nil, nil, err
	}
	if endpoint == "" {
		return noop.NewTracerProvider(), off, nil
	}

	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(endpoint)}
	protoVar := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	proto := strings.TrimSpace(getenv(protoVar))
	if proto == "" {
		protoVar = "OTEL_EXPORTER_OTLP_PROTOCOL"
		proto = strings.TrimSpace(getenv(protoVar))
	}
	switch proto {
	case "", "http/protobuf":
		opts = append(opts, otlptracehttp.WithEncoding(otlptracehttp.EncodingProtobuf))
	case "http/json":
		opts = append(opts, otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON))
	default:
		return nil, nil, fmt.Errorf("telemetry: %s=%q is not supported (use http/protobuf or http/json)", protoVar, proto)
	}
	exporter, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: OTLP trace exporter: %w", err)
	}

	// Later detectors win: the service argument is the default, the
	// environment overrides it, and OTEL_SERVICE_NAME as read by getenv
	// has the last word.
	detectors := []resource.Option{
		resource.WithAttributes(semconv.ServiceName(service)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	}
	if name := strings.TrimSpace(getenv("OTEL_SERVICE_NAME")); name != "" {
		detectors = append(detectors, resource.WithAttributes(semconv.ServiceName(name)))
	}
	res, err := resource.New(ctx, detectors...)
	if err != nil {
		_ = exporter.Shutdown(ctx)
		return nil, nil, fmt.Errorf("telemetry: resource (OTEL_RESOURCE_ATTRIBUTES): %w", err)
	}

	// No WithSampler: the SDK takes OTEL_TRACES_SAMPLER, defaulting to
	// parentbased_always_on.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	shutdown := func(ctx context.Context) error {
		if err := tp.Shutdown(ctx); err != nil {
			return fmt.Errorf("telemetry: tracer provider shutdown: %w", err)
		}
		return nil
	}
	return tp, shutdown, nil
}

// tracesEndpoint is the full URL spans are POSTed to, or "" when neither
// endpoint variable is set. As the OTLP specification says, the per-signal
// variable is used as is and the generic one gets /v1/traces appended.
func tracesEndpoint(getenv func(string) string) (string, error) {
	name, perSignal := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", true
	raw := strings.TrimSpace(getenv(name))
	if raw == "" {
		name, perSignal = "OTEL_EXPORTER_OTLP_ENDPOINT", false
		raw = strings.TrimSpace(getenv(name))
	}
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("telemetry: %s=%q must be an absolute http or https URL", name, raw)
	}
	if !perSignal {
		u.Path = path.Join("/", u.Path, "v1/traces")
	}
	return u.String(), nil
}

// Span kinds as start options, built once for the hot paths.
var (
	ConsumerSpan = trace.WithSpanKind(trace.SpanKindConsumer)
	ProducerSpan = trace.WithSpanKind(trace.SpanKindProducer)
	ClientSpan   = trace.WithSpanKind(trace.SpanKindClient)
)
