package apiserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/store"
)

const (
	adminToken = "skf_test-admin"
	userToken  = "skf_test-user"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type fixture struct {
	t     *testing.T
	store store.Store
	srv   *httptest.Server
}

// newFixture starts an API server over a fresh memory store; edit, when
// given, adjusts the Config first.
func newFixture(t *testing.T, edit func(*Config)) *fixture {
	t.Helper()
	st := store.NewMemory(func() time.Time { return epoch })
	t.Cleanup(func() { st.Close() })
	tokens := auth.NewTokens(adminToken)
	tokens.Add(userToken, auth.Identity{Name: "alice", Namespace: "team-a", Role: "editor"})
	cfg := Config{Store: st, Auth: tokens, Version: "v0.0.0-test", Clock: func() time.Time { return epoch }}
	if edit != nil {
		edit(&cfg)
	}
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	return &fixture{t: t, store: st, srv: srv}
}

type response struct {
	code   int
	header http.Header
	body   string
}

// status decodes the body as a metav1.Status.
func (r response) status(t *testing.T) metav1.Status {
	t.Helper()
	var st metav1.Status
	if err := json.Unmarshal([]byte(r.body), &st); err != nil {
		t.Fatalf("body is not a Status: %v\n%s", err, r.body)
	}
	return st
}

// do sends a request with the admin token unless headers set another
// Authorization (an empty value sends none).
func (f *fixture) do(method, path, body string, headers ...string) response {
	f.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (f *fixture) mustCode(r response, want int) response {
	f.t.Helper()
	if r.code != want {
		f.t.Fatalf("code = %d, want %d; body:\n%s", r.code, want, r.body)
	}
	return r
}

const jobsPath = APIPrefix + "/namespaces/team-a/jobs"

func jobJSON(name string) string {
	return `{"apiVersion":"skiff.dev/v1alpha1","kind":"Job","metadata":{"name":"` + name + `","labels":{"app":"` + name + `"}},
"spec":{"replicaGroups":[{"name":"worker","replicas":2,"template":{"command":["python3","train.py"],"resources":{"cpu":"1"}}}]}}`
}
