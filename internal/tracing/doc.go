// Package tracing sets up OpenTelemetry tracing and records the spans of
// Skiff's control plane: API requests (in the apiserver), scheduling cycles
// (one span per cycle, started by the loop that runs the cycle) and job
// lifecycles (a job span with its queued and running phases, recorded when
// the job finishes).
//
// Export is off unless configured: with neither --otlp-endpoint nor the
// standard OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// variables, the global tracer provider stays OpenTelemetry's no-op one and
// nothing is sent anywhere.
package tracing
