package apiserver

import (
	"net/http"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"skiff.dev/skiff/internal/auth"
)

type recordedRequest struct {
	verb, kind string
	code       int
	longLived  bool
}

type requestLog struct {
	mu   sync.Mutex
	reqs []recordedRequest
}

func (l *requestLog) ObserveRequest(verb, kind string, code int, _ time.Duration, longLived bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, recordedRequest{verb, kind, code, longLived})
}

func TestSessionCookieAuthenticatesReadsOnly(t *testing.T) {
	f := newFixture(t, nil)
	cookie := SessionCookie + "=" + userToken
	if r := f.do("GET", APIPrefix+"/namespaces/team-a/jobs", "", "Authorization", "", "Cookie", cookie); r.code != http.StatusOK {
		t.Errorf("GET with the session cookie = %d %s, want 200", r.code, r.body)
	}
	if r := f.do("GET", APIPrefix+"/namespaces/team-b/jobs", "", "Authorization", "", "Cookie", cookie); r.code != http.StatusForbidden {
		t.Errorf("GET of another tenant's namespace with the cookie = %d, want 403", r.code)
	}
	body := `{"apiVersion":"skiff.dev/v1alpha1","kind":"Job","metadata":{"name":"x","namespace":"team-a"},"spec":{"replicaGroups":[{"name":"w","template":{"command":["true"]}}]}}`
	if r := f.do("POST", APIPrefix+"/namespaces/team-a/jobs", body, "Authorization", "", "Cookie", cookie); r.code != http.StatusUnauthorized {
		t.Errorf("POST with only the session cookie = %d, want 401 (the cookie never writes)", r.code)
	}
	if r := f.do("GET", APIPrefix+"/namespaces/team-a/jobs", "", "Authorization", "", "Cookie", SessionCookie+"=skf_wrong"); r.code != http.StatusUnauthorized {
		t.Errorf("GET with a bad cookie = %d, want 401", r.code)
	}
}

func TestRequestsAreObservedAndTraced(t *testing.T) {
	log := &requestLog{}
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	var seen auth.Identity
	f := newFixture(t, func(c *Config) {
		c.Requests = log
		c.Tracer = tp.Tracer("test")
		c.Routes = map[string]http.Handler{"/extra": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen, _ = auth.IdentityFrom(r.Context())
			w.WriteHeader(http.StatusTeapot)
		})}
	})
	f.do("GET", APIPrefix+"/namespaces/team-a/jobs/missing", "")
	f.do("GET", APIPrefix+"/queues", "", "Authorization", "")
	if r := f.do("GET", "/extra", "", "Authorization", "Bearer "+userToken); r.code != http.StatusTeapot || seen.Name != "alice" {
		t.Errorf("extra route = %d with identity %+v", r.code, seen)
	}
	if r := f.do("GET", "/extra", "", "Authorization", ""); r.code != http.StatusUnauthorized {
		t.Errorf("extra route without a token = %d, want 401", r.code)
	}
	want := []recordedRequest{{"get", "Job", 404, false}, {"list", "Queue", 401, false}, {"get", "", 418, false}, {"get", "", 401, false}}
	log.mu.Lock()
	got := append([]recordedRequest(nil), log.reqs...)
	log.mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("observed %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d observed as %+v, want %+v", i, got[i], want[i])
		}
	}
	spans := sr.Ended()
	if len(spans) != 4 {
		t.Fatalf("%d spans, want 4", len(spans))
	}
	if name := spans[0].Name(); name != "GET "+APIPrefix+"/namespaces/{namespace}/jobs/{name}" {
		t.Errorf("span name %q carries names or namespaces", name)
	}
}
