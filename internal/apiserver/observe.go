package apiserver

import (
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"skiff.dev/skiff/internal/authz"
)

// observe ends a request's span and records its metrics.
func (s *Server) observe(r *http.Request, ri *requestInfo, code int, took time.Duration, span trace.Span) {
	longLived := ri.verb == authz.Watch || (ri.verb == authz.Logs && isTrue(r.URL.Query().Get("follow")))
	if s.cfg.Requests != nil {
		s.cfg.Requests.ObserveRequest(string(ri.verb), ri.kind, code, took, longLived)
	}
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
			attribute.Int("http.response.status_code", code),
			attribute.String("skiff.verb", string(ri.verb)),
			attribute.String("skiff.kind", ri.kind),
			attribute.String("skiff.namespace", ri.namespace),
			attribute.String("enduser.id", ri.user),
		)
		if code >= 500 {
			span.SetStatus(codes.Error, http.StatusText(code))
		}
	}
	span.End()
}

// spanRoute is a low-cardinality name for a path: resource URLs keep their
// kind and drop names and namespaces.
func spanRoute(path string) string {
	if !strings.HasPrefix(path, APIPrefix+"/") {
		return path
	}
	t, err := parseTarget(path)
	if err != nil {
		return APIPrefix
	}
	route := APIPrefix
	if t.inNamespace {
		route += "/namespaces/{namespace}"
	}
	route += "/" + t.kind.Plural
	if t.name != "" {
		route += "/{name}"
	}
	if t.sub != "" {
		route += "/" + t.sub
	}
	return route
}
