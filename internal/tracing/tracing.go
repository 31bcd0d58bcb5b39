package tracing

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/apimachinery/pkg/api/meta"

	"skiff.dev/skiff/api/v1alpha1"
)

// ScopeName is the instrumentation scope of Skiff's spans.
const ScopeName = "skiff.dev/skiff"

// Tracer returns Skiff's tracer from the global provider (a no-op until
// Setup installs an exporting one).
func Tracer() trace.Tracer { return otel.Tracer(ScopeName) }

// Endpoint returns the OTLP endpoint to export to: the flag's value, else
// the standard environment variables; "" means tracing is off.
func Endpoint(flag string, getenv func(string) string) string {
	if flag != "" {
		return flag
	}
	if v := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); v != "" {
		return v
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
}

// Setup installs a global tracer provider that batches spans to the OTLP
// HTTP endpoint (e.g. http://127.0.0.1:4318). With endpoint "" it changes
// nothing and returns a no-op shutdown. Call shutdown to flush on exit.
func Setup(ctx context.Context, endpoint, version string) (shutdown func(context.Context) error, err error) {
	if endpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--otlp-endpoint %q: want an OTLP/HTTP URL such as http://127.0.0.1:4318", endpoint)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(endpoint)}
	if os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" && (u.Path == "" || u.Path == "/") {
		// A base URL (the OTEL_EXPORTER_OTLP_ENDPOINT convention) gets the
		// traces path appended.
		opts = append(opts, otlptracehttp.WithURLPath("/v1/traces"))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter for %s: %w", endpoint, err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("skiff"), semconv.ServiceVersion(version))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown, nil
}

// StartCycle starts the span of one scheduling cycle; end it with the
// returned function and the cycle's error.
func StartCycle(ctx context.Context, tr trace.Tracer) (context.Context, func(error)) {
	ctx, span := tr.Start(ctx, "scheduler.cycle", trace.WithSpanKind(trace.SpanKindInternal))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// RecordJob records a finished job's lifecycle as spans with their real
// times: "job" from creation to completion, with children "job.queued"
// (creation to admission) and "job.run" (first start to completion).
// Jobs that have not finished are ignored.
func RecordJob(ctx context.Context, tr trace.Tracer, job *v1alpha1.Job, now time.Time) {
	phase := job.Status.Phase
	if phase != v1alpha1.JobSucceeded && phase != v1alpha1.JobFailed {
		return
	}
	created := job.CreationTimestamp.Time
	end := now
	if job.Status.CompletionTime != nil {
		end = job.Status.CompletionTime.Time
	}
	attrs := []attribute.KeyValue{
		attribute.String("skiff.job.namespace", job.Namespace),
		attribute.String("skiff.job.name", job.Name),
		attribute.String("skiff.job.queue", job.Spec.Queue),
		attribute.String("skiff.job.phase", string(phase)),
		attribute.Int("skiff.job.restarts", int(job.Status.Restarts)),
		attribute.Int("skiff.job.preemptions", int(job.Status.Preemptions)),
	}
	ctx, span := tr.Start(ctx, "job", trace.WithTimestamp(created), trace.WithAttributes(attrs...),
		trace.WithNewRoot())
	if c := meta.FindStatusCondition(job.Status.Conditions, v1alpha1.JobConditionAdmitted); c != nil && c.Status == "True" {
		_, q := tr.Start(ctx, "job.queued", trace.WithTimestamp(created))
		q.End(trace.WithTimestamp(c.LastTransitionTime.Time))
	}
	if job.Status.StartTime != nil {
		_, r := tr.Start(ctx, "job.run", trace.WithTimestamp(job.Status.StartTime.Time))
		r.End(trace.WithTimestamp(end))
	}
	if phase == v1alpha1.JobFailed {
		span.SetStatus(codes.Error, "job failed")
	}
	span.End(trace.WithTimestamp(end))
}
