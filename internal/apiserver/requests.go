package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/authz"
	"skiff.dev/skiff/internal/reqlog"
)

// RequestsPath serves the gateway's request log: entries, with
// ?summary=true the usage per namespace and model, or with ?series=true
// one service's traffic over time.
const RequestsPath = APIPrefix + "/requests"

// RequestLog is the gateway's request log (*reqlog.Log implements it).
type RequestLog interface {
	Query(ctx context.Context, q reqlog.Query) ([]reqlog.Entry, error)
	Summarize(ctx context.Context, q reqlog.Query) ([]reqlog.Summary, error)
	Series(ctx context.Context, q reqlog.SeriesQuery) (reqlog.Series, error)
}

// Defaults of a series request.
const (
	DefaultSeriesWindow = 15 * time.Minute
	DefaultSeriesStep   = 10 * time.Second
)

// RequestsHandler serves RequestsPath (register it in Config.Routes). A
// cluster-admin reads every namespace, or the one ?namespace= names; any
// other token reads the requests made to services of its own namespace
// only, as it may list InferenceServices there. Query parameters: model,
// service, since (RFC 3339), limit (1 to reqlog.MaxQueryLimit) and
// summary; series=true with service (and namespace for a cluster-admin)
// buckets that service's requests from since (default 15 minutes ago) to
// now by step (a duration, default 10s). now is the clock (time.Now when
// nil).
func RequestsHandler(l RequestLog, now func() time.Time) http.Handler {
	if now == nil {
		now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writeError(w, methodNotAllowed(r.Method, r.URL.Path))
			return
		}
		id, _ := auth.IdentityFrom(r.Context())
		q, err := requestQuery(id, r)
		if err != nil {
			if ri := infoFrom(r.Context()); ri != nil && apierrors.IsForbidden(err) {
				ri.denied = true
			}
			writeError(w, err)
			return
		}
		if isTrue(r.URL.Query().Get("series")) {
			sq, err := seriesQuery(q, r, now())
			if err != nil {
				writeError(w, err)
				return
			}
			series, err := l.Series(r.Context(), sq)
			if err != nil {
				writeError(w, apierrors.NewInternalError(err))
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"kind": "RequestSeries", "series": series})
			return
		}
		if isTrue(r.URL.Query().Get("summary")) {
			sum, err := l.Summarize(r.Context(), q)
			if err != nil {
				writeError(w, apierrors.NewInternalError(err))
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"kind": "RequestSummaryList", "items": sum})
			return
		}
		es, err := l.Query(r.Context(), q)
		if err != nil {
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"kind": "RequestList", "items": es})
	})
}

// requestQuery reads and authorizes the query parameters.
func requestQuery(id auth.Identity, r *http.Request) (reqlog.Query, error) {
	v := r.URL.Query()
	q := reqlog.Query{Model: v.Get("model"), Service: v.Get("service")}
	ns := v.Get("namespace")
	if ns == "" && !id.Admin {
		if id.Namespace == "" {
			return q, forbiddenRequests("", "this token reaches no namespace: ask an admin for a token")
		}
		ns = id.Namespace
	}
	if ns != "" {
		if d := authz.Authorize(id, authz.List, "InferenceService", ns); !d.Allowed {
			return q, forbiddenRequests(ns, d.Reason)
		}
		q.Namespaces = []string{ns}
	}
	if s := v.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return q, apierrors.NewBadRequest(fmt.Sprintf("since: %q is not an RFC 3339 time such as 2026-03-01T12:00:00Z", s))
		}
		q.Since = t
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > reqlog.MaxQueryLimit {
			return q, apierrors.NewBadRequest(fmt.Sprintf("limit: %q must be a whole number from 1 to %d", s, reqlog.MaxQueryLimit))
		}
		q.Limit = n
	}
	return q, nil
}

// seriesQuery reads a series request on top of the authorized query q.
func seriesQuery(q reqlog.Query, r *http.Request, now time.Time) (reqlog.SeriesQuery, error) {
	v := r.URL.Query()
	sq := reqlog.SeriesQuery{Service: q.Service, Until: now, Since: q.Since, Step: DefaultSeriesStep}
	if len(q.Namespaces) == 1 {
		sq.Namespace = q.Namespaces[0]
	}
	if sq.Since.IsZero() {
		sq.Since = now.Add(-DefaultSeriesWindow)
	}
	if s := v.Get("step"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return sq, apierrors.NewBadRequest(fmt.Sprintf("step: %q is not a positive duration such as 10s or 1m", s))
		}
		sq.Step = d
	}
	if err := sq.Check(); err != nil {
		return sq, apierrors.NewBadRequest(err.Error())
	}
	return sq, nil
}

func forbiddenRequests(ns, reason string) error {
	return apierrors.NewForbidden(v1alpha1.GroupVersion.WithResource("requests").GroupResource(), ns, errors.New(reason))
}
