package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/reqlog"
	"skiff.dev/skiff/internal/store"
)

func TestRequestsCommand(t *testing.T) {
	l, err := reqlog.Open(filepath.Join(t.TempDir(), "requests.db"), reqlog.Options{Now: func() time.Time { return epoch }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	l.Record(reqlog.Entry{Time: epoch.Add(-2 * time.Hour), Namespace: "default", Service: "chat", Model: "llama", Key: "tk-old",
		Replica: "chat-0", Status: 200, PromptTokens: 100, CompletionTokens: 50, LatencySeconds: 2})
	l.Record(reqlog.Entry{Time: epoch.Add(time.Minute), Namespace: "default", Service: "chat", Model: "llama", Key: "tk-1",
		Replica: "chat-1", Stream: true, Status: 200, PromptTokens: 12, CompletionTokens: 30, TTFTSeconds: 0.05, LatencySeconds: 0.4})
	l.Record(reqlog.Entry{Time: epoch.Add(2 * time.Minute), Namespace: "team-b", Service: "emb", Model: "bge", Key: "tk-2",
		Replica: "emb-0", Status: 429})
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory(func() time.Time { return epoch })
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(apiserver.New(apiserver.Config{Store: st, Auth: auth.NewTokens(testToken),
		Routes: map[string]http.Handler{apiserver.RequestsPath: apiserver.RequestsHandler(l, nil)}}))
	t.Cleanup(srv.Close)
	e := &env{t: t, url: srv.URL, store: st, now: epoch.Add(5 * time.Minute)}

	table := e.mustRun("requests", "--since", "1h")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "AGE") ||
		!strings.Contains(lines[1], "4m   tk-1  llama  chat-1   true    200     12         30          50ms  400ms") {
		t.Errorf("table of default since 1h:\n%s", table)
	}
	all := e.mustRun("requests", "-A")
	if !strings.HasPrefix(all, "NAMESPACE") || !strings.Contains(all, "team-b") || !strings.Contains(all, "tk-old") {
		t.Errorf("-A:\n%s", all)
	}

	var list struct {
		Kind  string         `json:"kind"`
		Items []reqlog.Entry `json:"items"`
	}
	out := e.mustRun("requests", "-n", "team-b", "-o", "json")
	if err := json.Unmarshal([]byte(out), &list); err != nil || list.Kind != "RequestList" || len(list.Items) != 1 || list.Items[0].Status != 429 {
		t.Errorf("-n team-b -o json (%v):\n%s", err, out)
	}

	sum := e.mustRun("requests", "-A", "--summary")
	want := "NAMESPACE  MODEL  REQUESTS  ERRORS  TOKENS IN  TOKENS OUT  TOTAL TOKENS  MEAN TTFT  MEAN LATENCY\n" +
		"default    llama  2         0       112        80          192           50ms       1200ms\n" +
		"team-b     bge    1         1       0          0           0             -          -\n"
	if d := cmp.Diff(want, sum); d != "" {
		t.Errorf("--summary (-want +got):\n%s", d)
	}
	if out := e.mustRun("requests", "--model", "bge"); out != "" {
		t.Errorf("--model bge in default printed:\n%s", out)
	}
	if out := e.mustRun("requests", "-A", "--service", "emb"); !strings.Contains(out, "tk-2") || strings.Contains(out, "tk-1") || strings.Contains(out, "tk-old") {
		t.Errorf("--service emb printed:\n%s", out)
	}
	for _, args := range [][]string{{"requests", "-o", "yaml"}, {"requests", "-A", "-n", "x"}, {"requests", "--since", "-1h"}, {"requests", "--limit", "20000"}} {
		if err := e.mustFail(args...); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}
