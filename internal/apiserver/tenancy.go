package apiserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/audit"
	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/authz"
)

// AuditLog records every request and answers the audit route.
// *audit.Log implements it.
type AuditLog interface {
	Record(e audit.Event) error
	Query(q audit.Query) ([]audit.Event, error)
}

// AuditPath serves the audit log to cluster-admins.
const AuditPath = APIPrefix + "/audit"

// requestInfo is what a request did, filled in as routing learns it and
// written to the audit log when the request ends.
type requestInfo struct {
	user string
	// userNamespace and tokenID say which credential acted: user names are
	// chosen by whoever creates a token, so they alone do not identify it.
	userNamespace string
	tokenID       string
	verb          authz.Verb
	kind          string
	namespace     string
	name          string
	denied        bool

	mu       sync.Mutex
	warnings []string
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(infoKey{}).(*requestInfo)
	return ri
}

// AddWarning sends msg to the client in a Warning header (RFC 7234 code
// 299), e.g. from a policy whose action is Warn. The CLI prints each as
// "Warning: msg". It does nothing outside a request.
func AddWarning(ctx context.Context, msg string) {
	if ri := infoFrom(ctx); ri != nil {
		ri.mu.Lock()
		ri.warnings = append(ri.warnings, msg)
		ri.mu.Unlock()
	}
}

// warningHeaders adds collected warnings to h; called just before the
// response header is written.
func (ri *requestInfo) warningHeaders(h http.Header) {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	for _, w := range ri.warnings {
		h.Add("Warning", "299 - "+strconv.Quote(strings.Map(printable, w)))
	}
	ri.warnings = nil
}

func printable(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return ' '
	}
	return r
}

func (s *Server) recordAudit(ri *requestInfo, code int) {
	if s.cfg.Audit == nil || ri.verb == "" {
		return
	}
	e := audit.Event{Time: s.cfg.Clock().UTC(), User: ri.user, UserNamespace: ri.userNamespace, TokenID: ri.tokenID, Verb: string(ri.verb), Kind: ri.kind,
		Namespace: ri.namespace, Name: ri.name, Allowed: !ri.denied && code != http.StatusUnauthorized && code != http.StatusForbidden, Code: code}
	if err := s.cfg.Audit.Record(e); err != nil && s.cfg.Logger != nil {
		s.cfg.Logger.Error("writing the audit log", "err", err)
	}
}

// verbOf maps a request on a target to its authorization verb.
func verbOf(r *http.Request, t target) authz.Verb {
	switch {
	case t.sub == "log":
		return authz.Logs
	case (t.sub == "metrics" || t.sub == "notice") && r.Method == http.MethodPost:
		return authz.Report
	case t.sub == "metrics" || t.sub == "notice":
		return authz.Get
	case r.Method == http.MethodGet && t.name == "" && isTrue(r.URL.Query().Get("watch")):
		return authz.Watch
	case r.Method == http.MethodGet && t.name == "":
		return authz.List
	case r.Method == http.MethodGet:
		return authz.Get
	case r.Method == http.MethodPost:
		return authz.Create
	case r.Method == http.MethodPut:
		return authz.Update
	case r.Method == http.MethodDelete:
		return authz.Delete
	}
	return authz.Verb(strings.ToLower(r.Method))
}

// forbidden is the 403 for a denied decision. It names the object the
// request named, so it reads the same whether or not that object exists.
func forbidden(t target, name string, d authz.Decision) error {
	return apierrors.NewForbidden(t.kind.GroupResource(), name, errors.New(d.Reason))
}

// authorizeTarget applies authz.Authorize to a parsed request and returns
// the target narrowed to what the identity may see (lists across
// namespaces) plus, for token lists, the filter that keeps other
// namespaces' tokens out. Token creates are authorized later, once the body
// says which namespace the token is for.
func (s *Server) authorizeTarget(r *http.Request, t target, verb authz.Verb) (target, fieldFilter, error) {
	id, _ := auth.IdentityFrom(r.Context())
	ri := infoFrom(r.Context())
	listing := verb == authz.List || verb == authz.Watch
	switch {
	case id.Admin:
		return t, nil, nil
	case t.kind.Kind == "Job" && (t.sub == "metrics" || t.sub == "notice"):
		if d := authz.AuthorizeJobProgress(id, verb, t.namespace, t.name); !d.Allowed {
			ri.denied = true
			return t, nil, forbidden(t, t.name, d)
		}
		return t, nil, nil
	case t.kind.Kind == "Token":
		if verb == authz.Create {
			return t, nil, nil
		}
		ns := id.Namespace
		if !listing {
			// The token's namespace is in its spec: read it, and answer a
			// missing token exactly like another namespace's token.
			tok := &v1alpha1.Token{}
			if err := s.cfg.Store.Get(r.Context(), "", t.name, tok); err == nil {
				ns = tok.Spec.Namespace
			} else if apierrors.IsNotFound(err) {
				ns = ""
			} else {
				return t, nil, err
			}
		}
		ri.namespace = ns
		if d := authz.Authorize(id, verb, "Token", ns); !d.Allowed {
			// The reason must not tell a missing token from another
			// namespace's: both read as a token outside the caller's reach.
			ri.denied = true
			return t, nil, forbidden(t, t.name, authz.Authorize(id, verb, "Token", ""))
		}
		if listing {
			return t, fieldFilter{{path: []string{"spec", "namespace"}, value: id.Namespace}}, nil
		}
		return t, nil, nil
	case t.kind.Kind == "Namespace":
		ns := t.name
		if listing {
			ns = id.Namespace
		}
		if d := authz.Authorize(id, verb, "Namespace", ns); !d.Allowed {
			ri.denied = true
			return t, nil, forbidden(t, t.name, d)
		}
		if listing {
			return t, fieldFilter{{path: []string{"metadata", "name"}, value: id.Namespace}}, nil
		}
		return t, nil, nil
	case t.kind.Namespaced && !t.inNamespace && listing:
		t.namespace = authz.ListNamespace(id)
		ri.namespace = t.namespace
	}
	if d := authz.Authorize(id, verb, t.kind.Kind, t.namespace); !d.Allowed {
		ri.denied = true
		return t, nil, forbidden(t, t.name, d)
	}
	return t, nil, nil
}

func (s *Server) authorizeTargetScope(r *http.Request, t target, verb authz.Verb) (fieldFilter, target, error) {
	t, scope, err := s.authorizeTarget(r, t, verb)
	return scope, t, err
}

// prepareToken turns a Token create into what is stored: a fresh secret
// whose hash goes into spec.secretHash, expiresAt from ttl, and a generated
// name when none was given. It returns the secret for the response.
func (s *Server) prepareToken(r *http.Request, t target, tok *v1alpha1.Token) (string, error) {
	id, _ := auth.IdentityFrom(r.Context())
	ri := infoFrom(r.Context())
	ri.namespace = tok.Spec.Namespace
	if d := authz.Authorize(id, authz.Create, "Token", tok.Spec.Namespace); !d.Allowed {
		ri.denied = true
		return "", forbidden(t, tok.Name, d)
	}
	if tok.Spec.SecretHash != "" {
		return "", invalidField("Token", tok.Name, field.NewPath("spec", "secretHash"),
			"is set by the server: remove it (the new token is returned once, in status.token)")
	}
	if tok.Name == "" {
		b := make([]byte, 6)
		if _, err := rand.Read(b); err != nil {
			return "", apierrors.NewInternalError(fmt.Errorf("generating a token id: %w", err))
		}
		tok.Name = "tk-" + hex.EncodeToString(b)
		ri.name = tok.Name
	}
	if e := tok.Spec.ExpiresAt; e != nil && !e.After(s.cfg.Clock()) && !s.tokenExists(r.Context(), tok.Name) {
		// (An existing token's name goes on to the already-exists answer,
		// so applying its manifest again says unchanged.)
		return "", invalidField("Token", tok.Name, field.NewPath("spec", "expiresAt"),
			fmt.Sprintf("%s is not in the future: the token could never be used; give a later time, a ttl, or neither for no expiry", e.UTC().Format(time.RFC3339)))
	}
	if tok.Spec.TTL != nil && tok.Spec.TTL.Duration > 0 && tok.Spec.ExpiresAt == nil {
		exp := metav1.NewTime(s.cfg.Clock().Add(tok.Spec.TTL.Duration).UTC().Truncate(time.Second))
		tok.Spec.ExpiresAt = &exp
	}
	secret, err := auth.NewToken()
	if err != nil {
		return "", apierrors.NewInternalError(err)
	}
	tok.Spec.SecretHash = auth.HashToken(secret)
	return secret, nil
}

// tokenExists says whether a token of that name is stored.
func (s *Server) tokenExists(ctx context.Context, name string) bool {
	if name == "" {
		return false
	}
	return s.cfg.Store.Get(ctx, "", name, &v1alpha1.Token{}) == nil
}

// ensureNamespace creates the Namespace object a new token points at, so
// that `token create` is all it takes to start a tenant.
func (s *Server) ensureNamespace(ctx context.Context, name string) error {
	ns := &v1alpha1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	v1alpha1.SetTypeMeta(ns)
	if err := s.cfg.Store.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s for the token: %w", name, err)
	}
	return nil
}

// AuditList is the body of GET AuditPath.
type AuditList struct {
	Kind  string        `json:"kind"`
	Items []audit.Event `json:"items"`
}

// serveAudit answers GET AuditPath?user=U&since=RFC3339&limit=N.
func (s *Server) serveAudit(w http.ResponseWriter, r *http.Request) {
	id, _ := auth.IdentityFrom(r.Context())
	ri := infoFrom(r.Context())
	ri.verb, ri.kind = authz.List, authz.AuditKind
	if r.Method != http.MethodGet {
		writeError(w, methodNotAllowed(r.Method, r.URL.Path))
		return
	}
	if d := authz.Authorize(id, authz.List, authz.AuditKind, ""); !d.Allowed {
		ri.denied = true
		writeError(w, apierrors.NewForbidden(v1alpha1.GroupVersion.WithResource("audit").GroupResource(), "", errors.New(d.Reason)))
		return
	}
	if s.cfg.Audit == nil {
		writeError(w, apierrors.NewServiceUnavailable("this server keeps no audit log"))
		return
	}
	q := audit.Query{User: r.URL.Query().Get("user")}
	if v := r.URL.Query().Get("since"); v != "" {
		ts, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeError(w, apierrors.NewBadRequest(fmt.Sprintf("since %q: use an RFC 3339 time such as 2026-01-02T15:04:05Z", v)))
			return
		}
		q.Since = ts
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, apierrors.NewBadRequest(fmt.Sprintf("limit %q: use a whole number of events", v)))
			return
		}
		q.Limit = n
	}
	events, err := s.cfg.Audit.Query(q)
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	if events == nil {
		events = []audit.Event{}
	}
	writeJSON(w, http.StatusOK, AuditList{Kind: "AuditList", Items: events})
}
