package gateway

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope of the gateway's spans.
const tracerName = "skiff.dev/skiff/internal/gateway"

// operationName is the GenAI semantic conventions' gen_ai.operation.name
// of an API path.
func operationName(path string) string {
	switch path {
	case "/v1/chat/completions":
		return "chat"
	case "/v1/completions":
		return "text_completion"
	case "/v1/embeddings":
		return "embeddings"
	}
	return path
}

func (g *Gateway) tracer() trace.Tracer {
	if g.cfg.Tracer != nil {
		return g.cfg.Tracer
	}
	return otel.GetTracerProvider().Tracer(tracerName)
}

// startSpan opens the span of one inference request, named and tagged as
// the OpenTelemetry GenAI semantic conventions say
// ("{gen_ai.operation.name} {gen_ai.request.model}").
func (g *Gateway) startSpan(ctx context.Context, path, model string) (context.Context, trace.Span) {
	op := operationName(path)
	return g.tracer().Start(ctx, op+" "+model, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("gen_ai.operation.name", op),
			attribute.String("gen_ai.request.model", model),
		))
}

// endSpan records what the request came to and ends the span.
func endSpan(span trace.Span, rec *RequestRecord) {
	if !span.IsRecording() {
		span.End()
		return
	}
	span.SetAttributes(
		attribute.Int64("gen_ai.usage.input_tokens", rec.PromptTokens),
		attribute.Int64("gen_ai.usage.output_tokens", rec.CompletionTokens),
		attribute.Int("http.response.status_code", rec.Status),
		attribute.Bool("skiff.stream", rec.Stream),
		attribute.String("skiff.namespace", rec.Namespace),
		attribute.String("skiff.service", rec.Service),
		attribute.String("skiff.replica", rec.Replica),
	)
	if !rec.FirstToken.IsZero() {
		span.SetAttributes(attribute.Float64("skiff.time_to_first_token_s", rec.FirstToken.Sub(rec.Start).Seconds()))
	}
	if rec.Status >= 500 || rec.Status == 0 {
		span.SetStatus(codes.Error, http.StatusText(rec.Status))
	}
	span.End()
}

// injectTrace passes the span on to the replica (W3C traceparent), so a
// traced model server joins the request's trace.
func injectTrace(ctx context.Context, h http.Header) {
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(h))
}
