package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	goruntime "runtime"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/authz"
	"skiff.dev/skiff/internal/store"
)

// APIPrefix is the path every resource URL starts with.
const APIPrefix = "/apis/" + v1alpha1.Group + "/" + v1alpha1.Version

// DefaultMaxBodyBytes caps request bodies when Config.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 4 << 20

// Authenticator maps a bearer token to the identity it stands for.
// *auth.Tokens implements it.
type Authenticator interface {
	Authenticate(token string) (auth.Identity, bool)
}

// Operation names the kind of write an AdmitFunc is asked about.
type Operation string

// The operations passed to AdmitFunc.
const (
	Create Operation = "CREATE"
	Update Operation = "UPDATE"
	Delete Operation = "DELETE"
)

// AdmitFunc decides whether a write may happen after the object was
// defaulted and validated. For Create old is nil; for Delete obj is nil and
// old is the stored object. The caller's identity is in ctx
// (auth.IdentityFrom). A returned *apierrors.StatusError is sent as is (e.g.
// NewForbidden); a *v1alpha1.ValidationError becomes 422 Invalid with its
// field causes; any other error becomes 422 Invalid with its message.
type AdmitFunc func(ctx context.Context, op Operation, obj, old v1alpha1.Object) error

// LogOptions select which log of a replica to read.
type LogOptions struct {
	// Follow keeps the stream open and sends new output as it is written.
	Follow bool
	// Attempt selects a gang attempt; nil means the current one.
	Attempt *int32
}

// LogSource opens replica logs. replica is a replica group and index such as
// "worker-1" (empty lets the source choose, e.g. the first replica).
// Errors should be apierrors (NotFound, BadRequest) so the caller gets a
// useful status. The reader must return when ctx is done or be unblocked by
// Close.
type LogSource interface {
	OpenLog(ctx context.Context, namespace, job, replica string, opts LogOptions) (io.ReadCloser, error)
}

// Config wires a Server.
type Config struct {
	Store store.Store
	// Auth authenticates every request except /healthz and /readyz.
	// Required: New panics without one, because an API without
	// authentication is never what was meant.
	Auth Authenticator
	// Admit is an optional admission hook run after validation.
	Admit AdmitFunc
	// Logs serves the job log route; nil answers 503.
	Logs LogSource
	// Clock times requests for the request log; nil means time.Now.
	Clock func() time.Time
	// Version is reported by /version.
	Version string
	// Logger, when set, receives one line per request (never bodies or
	// tokens).
	Logger *slog.Logger
	// MaxBodyBytes caps request bodies; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Audit, when set, records every authenticated or refused request and
	// serves AuditPath.
	Audit AuditLog
	// AfterWrite, when set, is told about every object this server wrote
	// (for Delete, the object as it was), before the client gets the
	// answer. Caches of tokens and policies use it so that a revocation or
	// a new policy holds for the very next request.
	AfterWrite func(op Operation, obj v1alpha1.Object)
	// Metrics keeps jobs' metric time series; nil answers the metrics
	// routes with 503.
	Metrics MetricStore
	// DefaultStopGrace is the grace period replicas get when their job sets
	// no runPolicy.terminationGracePeriodSeconds (told in notices).
	DefaultStopGrace time.Duration
	// Ready, when set, decides /readyz (e.g. the store has been opened and
	// controllers have synced); nil means always ready.
	Ready func() error
	// Requests, when set, is told about every request.
	Requests RequestObserver
	// Routes are extra paths (e.g. "/metrics") served after
	// authentication, with the caller's identity in the request context
	// (auth.IdentityFrom); each handler authorizes for itself.
	Routes map[string]http.Handler
	// Tracer, when set, gets one span per request; nil uses the global
	// OpenTelemetry provider (a no-op unless tracing was set up).
	Tracer trace.Tracer
}

// RequestObserver records API requests (*monitoring.Metrics implements it).
// longLived marks watches and followed logs, whose duration is how long
// the client stayed.
type RequestObserver interface {
	ObserveRequest(verb, kind string, code int, took time.Duration, longLived bool)
}

// SessionCookie is the cookie the web dashboard keeps the caller's token in
// (HttpOnly, SameSite=Strict). The API accepts it for reads only (GET), so
// a page can never write with it.
const SessionCookie = "skiff_session"

// Server is the API's http.Handler.
type Server struct {
	cfg Config
}

// VersionInfo is the body of GET /version.
type VersionInfo struct {
	Version    string `json:"version"`
	APIVersion string `json:"apiVersion"`
	GoVersion  string `json:"goVersion"`
}

// New returns the API handler.
func New(cfg Config) *Server {
	if cfg.Store == nil || cfg.Auth == nil {
		panic("apiserver.New: Config.Store and Config.Auth are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Tracer == nil {
		cfg.Tracer = otel.Tracer("skiff.dev/skiff/apiserver")
	}
	return &Server{cfg: cfg}
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.cfg.Clock()
	ri := &requestInfo{}
	rw := &responseWriter{ResponseWriter: w, info: ri}
	ctx, span := s.cfg.Tracer.Start(r.Context(), r.Method+" "+spanRoute(r.URL.Path), trace.WithSpanKind(trace.SpanKindServer))
	r = r.WithContext(context.WithValue(ctx, infoKey{}, ri))
	defer func() {
		s.observe(r, ri, rw.statusCode(), s.cfg.Clock().Sub(start), span)
	}()
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			if s.cfg.Logger != nil {
				s.cfg.Logger.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p)
			}
			if !rw.wrote {
				writeError(rw, apierrors.NewInternalError(fmt.Errorf("%v", p)))
			}
		}
		s.recordAudit(ri, rw.statusCode())
		if s.cfg.Logger != nil {
			s.cfg.Logger.Debug("request", "method", r.Method, "path", r.URL.Path,
				"code", rw.statusCode(), "duration", s.cfg.Clock().Sub(start))
		}
	}()
	s.route(rw, r)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		writeText(w, http.StatusOK, "ok")
		return
	case "/readyz":
		if s.cfg.Ready != nil {
			if err := s.cfg.Ready(); err != nil {
				writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
				return
			}
		}
		writeText(w, http.StatusOK, "ok")
		return
	}
	id, ok := s.authenticate(r)
	ri := infoFrom(r.Context())
	if !ok {
		// Audit the refusal with what the path names; the token is never recorded.
		ri.user, ri.verb, ri.denied = "system:anonymous", authz.Verb(strings.ToLower(r.Method)), true
		if t, err := parseTarget(r.URL.Path); err == nil && strings.HasPrefix(r.URL.Path, APIPrefix+"/") {
			ri.verb, ri.kind, ri.namespace, ri.name = verbOf(r, t), t.kind.Kind, t.namespace, t.name
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="skiff"`)
		writeError(w, apierrors.NewUnauthorized("Unauthorized"))
		return
	}
	r = r.WithContext(auth.WithIdentity(r.Context(), id))
	ri.user, ri.userNamespace, ri.tokenID = id.Name, id.Namespace, id.TokenID

	switch {
	case r.URL.Path == "/version":
		if r.Method != http.MethodGet {
			writeError(w, methodNotAllowed(r.Method, "/version"))
			return
		}
		writeJSON(w, http.StatusOK, VersionInfo{Version: s.cfg.Version, APIVersion: v1alpha1.APIVersion, GoVersion: goruntime.Version()})
	case r.URL.Path == AuditPath:
		s.serveAudit(w, r)
	case s.cfg.Routes[r.URL.Path] != nil:
		ri.verb = authz.Get
		s.cfg.Routes[r.URL.Path].ServeHTTP(w, r)
	case r.URL.Path == APIPrefix || r.URL.Path == APIPrefix+"/":
		writeJSON(w, http.StatusOK, discovery())
	case strings.HasPrefix(r.URL.Path, APIPrefix+"/"):
		s.serveResource(w, r)
	default:
		writeError(w, notFoundPath(r.URL.Path))
	}
}

// authenticate reads "Authorization: Bearer <token>". Tokens in query
// strings are refused on purpose: they end up in logs and browser history.
func (s *Server) authenticate(r *http.Request) (auth.Identity, bool) {
	h := r.Header.Get("Authorization")
	if h == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
			return s.cfg.Auth.Authenticate(c.Value)
		}
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return auth.Identity{}, false
	}
	return s.cfg.Auth.Authenticate(strings.TrimSpace(token))
}

// target is a parsed resource URL.
type target struct {
	kind      v1alpha1.Kind
	namespace string
	// inNamespace is true for /namespaces/{ns}/... URLs.
	inNamespace bool
	name        string
	sub         string
	// scope is a filter authorization adds to lists and watches (e.g. only
	// the caller's namespace's tokens).
	scope fieldFilter
}

// parseTarget splits a path below APIPrefix. It returns a Status error for
// paths that name no resource or use the wrong scope, with the right path
// in the message.
func parseTarget(path string) (target, error) {
	rest := strings.TrimPrefix(path, APIPrefix+"/")
	parts := strings.Split(rest, "/")
	for _, p := range parts {
		if p == "" {
			return target{}, notFoundPath(path)
		}
	}
	var t target
	// /namespaces and /namespaces/{name} are the Namespace kind itself.
	if parts[0] == "namespaces" && len(parts) > 2 {
		if len(parts) < 3 || len(parts) > 5 {
			return target{}, notFoundPath(path)
		}
		t.namespace, t.inNamespace = parts[1], true
		parts = parts[2:]
	} else if len(parts) > 2 {
		return target{}, notFoundPath(path)
	}
	k, ok := v1alpha1.LookupKind(parts[0])
	if !ok || k.Plural != parts[0] {
		return target{}, notFoundPath(path)
	}
	t.kind = k
	if len(parts) > 1 {
		t.name = parts[1]
	}
	if len(parts) > 2 {
		t.sub = parts[2]
	}
	if t.inNamespace && !k.Namespaced {
		nf := apierrors.NewNotFound(k.GroupResource(), t.name)
		nf.ErrStatus.Message = fmt.Sprintf("%s are cluster-scoped, not in a namespace: use %s/%s", k.Plural, APIPrefix, k.Plural)
		return target{}, nf
	}
	return t, nil
}

func (s *Server) serveResource(w http.ResponseWriter, r *http.Request) {
	t, err := parseTarget(r.URL.Path)
	if err != nil {
		writeError(w, err)
		return
	}
	ri := infoFrom(r.Context())
	ri.verb, ri.kind, ri.namespace, ri.name = verbOf(r, t), t.kind.Kind, t.namespace, t.name
	if t.kind.Namespaced && !t.inNamespace && (t.name != "" || r.Method != http.MethodGet) {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf(
			"%s are namespaced: use %s/namespaces/NAMESPACE/%s", t.kind.Plural, APIPrefix, t.kind.Plural)))
		return
	}
	if t.inNamespace {
		if msgs := validateNamespace(t.namespace); msgs != "" {
			writeError(w, apierrors.NewBadRequest(msgs))
			return
		}
	}
	// Authorization comes before any read of the object, so a denial is the
	// same whether or not the object exists.
	scope, t, err := s.authorizeTargetScope(r, t, ri.verb)
	if err != nil {
		writeError(w, err)
		return
	}
	t.scope = scope
	switch {
	case t.sub == "log" && t.kind.Kind == "Job":
		if r.Method != http.MethodGet {
			writeError(w, methodNotAllowed(r.Method, r.URL.Path))
			return
		}
		s.serveLog(w, r, t)
	case t.sub == "metrics" && t.kind.Kind == "Job":
		s.serveMetrics(w, r, t)
	case t.sub == "notice" && t.kind.Kind == "Job":
		if r.Method != http.MethodGet {
			writeError(w, methodNotAllowed(r.Method, r.URL.Path))
			return
		}
		s.serveNotice(w, r, t)
	case t.sub != "":
		writeError(w, notFoundPath(r.URL.Path))
	case t.name == "":
		switch r.Method {
		case http.MethodGet:
			if isTrue(r.URL.Query().Get("watch")) {
				s.watch(w, r, t)
			} else {
				s.list(w, r, t)
			}
		case http.MethodPost:
			s.create(w, r, t)
		default:
			writeError(w, methodNotAllowed(r.Method, r.URL.Path))
		}
	default:
		switch r.Method {
		case http.MethodGet:
			s.get(w, r, t)
		case http.MethodPut:
			s.update(w, r, t)
		case http.MethodDelete:
			s.delete(w, r, t)
		default:
			writeError(w, methodNotAllowed(r.Method, r.URL.Path))
		}
	}
}

func isTrue(v string) bool { return v == "true" || v == "1" }

func discovery() *metav1.APIResourceList {
	l := &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: v1alpha1.APIVersion,
	}
	for _, k := range v1alpha1.Kinds() {
		l.APIResources = append(l.APIResources, metav1.APIResource{
			Name: k.Plural, SingularName: k.Singular, Namespaced: k.Namespaced, Kind: k.Kind,
			ShortNames: k.ShortNames,
			Verbs:      metav1.Verbs{"create", "delete", "get", "list", "update", "watch"},
		})
	}
	return l
}

// responseWriter remembers whether anything was written, so a failure after
// the header went out aborts the connection instead of appending a second
// body. Unwrap lets http.ResponseController reach Flush and deadlines.
type responseWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
	info  *requestInfo
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
		w.info.warningHeaders(w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.code, w.wrote = http.StatusOK, true
		w.info.warningHeaders(w.Header())
	}
	return w.ResponseWriter.Write(p)
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) statusCode() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// errorsAs is errors.As with the target type as a type parameter.
func errorsAs[T error](err error) (T, bool) {
	var t T
	ok := errors.As(err, &t)
	return t, ok
}

// writeJSON writes v with code. Encoding errors after the header cannot be
// reported to the client and are dropped.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeText(w http.ResponseWriter, code int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, s)
}
