// Package telemetry is the platform's observability edge: OpenTelemetry
// tracing configured by the standard OTEL_* variables, W3C trace context
// carried in NATS headers, a slog handler that stamps trace and span ids on
// log lines, and the Prometheus metrics of the pipeline (events, jobs,
// deliveries, attempts, end-to-end latency, queue lag).
//
// Nothing here touches OpenTelemetry globals: SetupTracing returns the
// provider for the caller to pass on, and Inject/Extract use this package's
// W3C propagator (see Propagator) whatever otel.GetTextMapPropagator says.
package telemetry
