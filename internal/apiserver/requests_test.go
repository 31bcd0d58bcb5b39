package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
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
	f := newFixture(t, func(c *Config) { c.Routes = map[string]http.Handler{RequestsPath: RequestsHandler(l)} })
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
