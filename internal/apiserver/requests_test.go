package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"skiff.dev/skiff/internal/reqlog"
)

func TestRequestsRouteAuthz(t *testing.T) {
	l, err := reqlog.Open(filepath.Join(t.TempDir(), "requests.db"), reqlog.Options{Now: func() time.Time { return epoch }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for _, e := range []reqlog.Entry{
		{Time: epoch, Namespace: "team-a", Service: "chat", Model: "llama", Key: "tk-a", Status: 200, PromptTokens: 3, CompletionTokens: 4},
		{Time: epoch, Namespace: "team-b", Service: "chat", Model: "qwen", Key: "tk-b", Status: 200, PromptTokens: 10, CompletionTokens: 1},
		{Time: epoch, Namespace: "team-a", Service: "chat", Model: "llama", Key: "tk-a", Status: 500},
	} {
		l.Record(e)
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *Config) {
		c.Routes = map[string]http.Handler{RequestsPath: RequestsHandler(l, func() time.Time { return epoch.Add(time.Hour) })}
	})
	namespaces := func(r response) []string {
		t.Helper()
		var list struct {
			Kind  string         `json:"kind"`
			Items []reqlog.Entry `json:"items"`
		}
		if err := json.Unmarshal([]byte(r.body), &list); err != nil || list.Kind != "RequestList" {
			t.Fatalf("not a RequestList (%v):\n%s", err, r.body)
		}
		var out []string
		for _, e := range list.Items {
			out = append(out, e.Namespace)
		}
		return out
	}
	user := []string{"Authorization", "Bearer " + userToken}

	if d := cmp.Diff([]string{"team-a", "team-b", "team-a"}, namespaces(f.mustCode(f.do("GET", RequestsPath, ""), 200))); d != "" {
		t.Errorf("admin, every namespace (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"team-b"}, namespaces(f.mustCode(f.do("GET", RequestsPath+"?namespace=team-b", ""), 200))); d != "" {
		t.Errorf("admin, team-b (-want +got):\n%s", d)
	}
	// A tenant token sees its own namespace by default, and nothing else.
	if d := cmp.Diff([]string{"team-a", "team-a"}, namespaces(f.mustCode(f.do("GET", RequestsPath, "", user...), 200))); d != "" {
		t.Errorf("tenant (-want +got):\n%s", d)
	}
	if st := f.mustCode(f.do("GET", RequestsPath+"?namespace=team-b", "", user...), http.StatusForbidden).status(t); st.Reason != "Forbidden" {
		t.Errorf("tenant reading team-b: %+v", st)
	}
	if st := f.mustCode(f.do("GET", RequestsPath+"?namespace=team-b&summary=true", "", user...), http.StatusForbidden).status(t); st.Reason != "Forbidden" {
		t.Errorf("tenant summary of team-b: %+v", st)
	}
	f.mustCode(f.do("GET", RequestsPath, "", "Authorization", ""), http.StatusUnauthorized)

	var sum struct {
		Kind  string           `json:"kind"`
		Items []reqlog.Summary `json:"items"`
	}
	r := f.mustCode(f.do("GET", RequestsPath+"?summary=true", "", user...), 200)
	if err := json.Unmarshal([]byte(r.body), &sum); err != nil {
		t.Fatal(err)
	}
	want := []reqlog.Summary{{Namespace: "team-a", Model: "llama", Requests: 2, Errors: 1, PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7}}
	if d := cmp.Diff(want, sum.Items); sum.Kind != "RequestSummaryList" || d != "" {
		t.Errorf("tenant summary %q (-want +got):\n%s", sum.Kind, d)
	}

	for _, q := range []string{"?since=yesterday", "?limit=0", "?limit=x", "?limit=10001"} {
		f.mustCode(f.do("GET", RequestsPath+q, ""), http.StatusBadRequest)
	}
	f.mustCode(f.do("POST", RequestsPath, "{}"), http.StatusMethodNotAllowed)
}

func TestRequestsSeriesRoute(t *testing.T) {
	l, err := reqlog.Open(filepath.Join(t.TempDir(), "requests.db"), reqlog.Options{Now: func() time.Time { return epoch }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	now := epoch.Add(time.Hour)
	for _, e := range []reqlog.Entry{
		{Time: now.Add(-90 * time.Second), Namespace: "team-a", Service: "chat", Model: "llama", Key: "tk-a", Replica: "chat-0", Status: 200,
			PromptTokens: 3, CompletionTokens: 4, LatencySeconds: 0.5, TTFTSeconds: 0.1, Stream: true},
		{Time: now.Add(-80 * time.Second), Namespace: "team-a", Service: "chat", Model: "llama", Key: "tk-a", Replica: "chat-1", Status: 429},
		{Time: now.Add(-30 * time.Second), Namespace: "team-b", Service: "chat", Model: "qwen", Key: "tk-b", Status: 200, PromptTokens: 10},
		{Time: now.Add(-2 * time.Hour), Namespace: "team-a", Service: "chat", Model: "llama", Key: "tk-a", Status: 200, PromptTokens: 99},
	} {
		l.Record(e)
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *Config) {
		c.Routes = map[string]http.Handler{RequestsPath: RequestsHandler(l, func() time.Time { return now })}
	})
	user := []string{"Authorization", "Bearer " + userToken}
	series := func(r response) reqlog.Series {
		t.Helper()
		var body struct {
			Kind   string        `json:"kind"`
			Series reqlog.Series `json:"series"`
		}
		if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Kind != "RequestSeries" {
			t.Fatalf("not a RequestSeries (%v):\n%s", err, r.body)
		}
		return body.Series
	}

	// A tenant reads its own service's series, by default over the last
	// 15 minutes in steps of 10s; the entry two hours ago is outside it.
	s := series(f.mustCode(f.do("GET", RequestsPath+"?series=true&service=chat", "", user...), 200))
	if s.Namespace != "team-a" || s.StepSeconds != 10 || len(s.Buckets) != 90 || !s.Since.Equal(now.Add(-15*time.Minute)) {
		t.Fatalf("series %s/%s from %s step %v, %d buckets", s.Namespace, s.Service, s.Since, s.StepSeconds, len(s.Buckets))
	}
	var reqs, errs, prompt int64
	replicas := 0
	for _, b := range s.Buckets {
		reqs, errs, prompt = reqs+b.Requests, errs+b.Errors, prompt+b.PromptTokens
		replicas = max(replicas, b.Replicas)
	}
	if reqs != 2 || errs != 1 || prompt != 3 || replicas != 1 {
		t.Errorf("team-a's series sums to %d requests, %d errors, %d prompt tokens, at most %d replicas", reqs, errs, prompt, replicas)
	}

	// The admin names the namespace; since and step are honored.
	s = series(f.mustCode(f.do("GET", RequestsPath+"?series=true&service=chat&namespace=team-b&step=1m&since="+
		now.Add(-2*time.Minute).Format(time.RFC3339), ""), 200))
	want := []reqlog.Bucket{{Time: now.Add(-2 * time.Minute)},
		{Time: now.Add(-time.Minute), Requests: 1, PromptTokens: 10}}
	if d := cmp.Diff(want, s.Buckets); d != "" {
		t.Errorf("team-b's series (-want +got):\n%s", d)
	}

	// Another tenant's series is forbidden, no token is 401, and bad
	// parameters say which one to fix.
	f.mustCode(f.do("GET", RequestsPath+"?series=true&service=chat&namespace=team-b", "", user...), http.StatusForbidden)
	f.mustCode(f.do("GET", RequestsPath+"?series=true&service=chat", "", "Authorization", ""), http.StatusUnauthorized)
	for q, msg := range map[string]string{
		"?series=true&namespace=team-a":                  "service:",
		"?series=true&service=chat":                      "namespace:",
		"?series=true&service=chat&namespace=a&step=-1s": "step:",
		"?series=true&service=chat&namespace=a&step=1ms": "buckets",
	} {
		r := f.mustCode(f.do("GET", RequestsPath+q, ""), http.StatusBadRequest)
		if st := r.status(t); !strings.Contains(st.Message, msg) {
			t.Errorf("GET %s: %q, want it to name %q", q, st.Message, msg)
		}
	}
}
