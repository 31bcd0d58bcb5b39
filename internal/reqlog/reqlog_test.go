package reqlog

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/gateway"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// tickClock advances a millisecond on every reading, so that durations the
// gateway measures are positive and the same on every run.
type tickClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *tickClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

type keys struct{}

func (keys) Authenticate(tok string) (auth.Identity, bool) {
	switch tok {
	case "skf_a":
		return auth.Identity{Name: "alice", Namespace: "team-a", Role: "editor", TokenID: "tk-a"}, true
	case "skf_b":
		return auth.Identity{Name: "bob", Namespace: "team-b", Role: "editor", TokenID: "tk-b"}, true
	}
	return auth.Identity{}, false
}

// replica answers like an OpenAI server: usage 7 in / 3 out, a stream of
// two chunks and a usage chunk, and 400 for a prompt that says "refuse".
func replica(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(body), "refuse"):
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error": {"message": "refused", "type": "invalid_request_error"}}`)
		case strings.Contains(string(body), `"stream":true`):
			w.Header().Set("Content-Type", "text/event-stream")
			for _, tok := range []string{"Hel", "lo"} {
				fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", tok)
			}
			fmt.Fprint(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n")
			fmt.Fprint(w, "data: [DONE]\n\n")
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func openLog(t *testing.T, opts Options) *Log {
	t.Helper()
	l, err := Open(filepath.Join(t.TempDir(), "requests.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func post(t *testing.T, url, token, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestGatewayRequestsAreLogged(t *testing.T) {
	clk := &tickClock{t: epoch}
	l := openLog(t, Options{Now: func() time.Time { return epoch }})
	mx := gateway.NewMetrics()
	gw := gateway.New(gateway.Config{Auth: keys{}, Now: clk.Now, Observe: l.Observe, Metrics: mx})
	rep := replica(t)
	gw.SetService(gateway.Service{Namespace: "team-a", Name: "chat", Models: []string{"llama"}, LogPrompts: true})
	gw.SetService(gateway.Service{Namespace: "team-b", Name: "plain", Models: []string{"qwen"}})
	gw.SetService(gateway.Service{Namespace: "team-b", Name: "tight", Models: []string{"tiny"}, KeyLimit: gateway.Limit{RequestsPerMinute: 1}})
	for _, s := range []string{"team-a/chat", "team-b/plain", "team-b/tight"} {
		ns, name, _ := strings.Cut(s, "/")
		if err := gw.SetEndpoints(ns, name, []gateway.Endpoint{{Name: name + "-0", URL: rep.URL}}); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)

	promptA := `{"model":"llama","messages":[{"role":"user","content":"my secret plan"}]}`
	if code := post(t, srv.URL, "skf_a", promptA); code != 200 {
		t.Fatalf("team-a: %d", code)
	}
	if code := post(t, srv.URL, "skf_b", `{"model":"qwen","stream":true,"messages":[{"role":"user","content":"not kept"}]}`); code != 200 {
		t.Fatalf("team-b stream: %d", code)
	}
	if code := post(t, srv.URL, "skf_b", `{"model":"qwen","messages":[{"role":"user","content":"refuse"}]}`); code != 400 {
		t.Fatalf("team-b refused: %d", code)
	}
	for i, want := range []int{200, 429} {
		if code := post(t, srv.URL, "skf_b", `{"model":"tiny","messages":[]}`); code != want {
			t.Fatalf("tight request %d: %d, want %d", i, code, want)
		}
	}
	// Refused before any service took them: an unknown model, another
	// namespace's model, a body that is not JSON — logged under the
	// caller's namespace and key; a request without a valid key is not.
	for _, r := range []struct {
		token, body string
		code        int
	}{
		{"skf_b", `{"model":"nope","messages":[]}`, 404},
		{"skf_b", `{"model":"llama","stream":true,"messages":[]}`, 403},
		{"skf_a", `{"model":`, 400},
		{"skf_wrong", `{"model":"llama","messages":[]}`, 401},
	} {
		if code := post(t, srv.URL, r.token, r.body); code != r.code {
			t.Fatalf("%s %s: %d, want %d", r.token, r.body, code, r.code)
		}
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := l.Query(context.Background(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Namespace: "team-a", Key: "tk-a", Path: "/v1/chat/completions", Status: 400},
		{Namespace: "team-b", Model: "llama", Key: "tk-b", Path: "/v1/chat/completions", Stream: true, Status: 403},
		{Namespace: "team-b", Model: "nope", Key: "tk-b", Path: "/v1/chat/completions", Status: 404},
		{Namespace: "team-b", Service: "tight", Model: "tiny", Key: "tk-b", Path: "/v1/chat/completions", Status: 429},
		{Namespace: "team-b", Service: "tight", Model: "tiny", Key: "tk-b", Replica: "tight-0", Path: "/v1/chat/completions", Status: 200,
			PromptTokens: 7, CompletionTokens: 3},
		{Namespace: "team-b", Service: "plain", Model: "qwen", Key: "tk-b", Replica: "plain-0", Path: "/v1/chat/completions", Status: 400},
		{Namespace: "team-b", Service: "plain", Model: "qwen", Key: "tk-b", Replica: "plain-0", Path: "/v1/chat/completions", Stream: true, Status: 200,
			PromptTokens: 5, CompletionTokens: 2},
		{Namespace: "team-a", Service: "chat", Model: "llama", Key: "tk-a", Replica: "chat-0", Path: "/v1/chat/completions", Status: 200,
			PromptTokens: 7, CompletionTokens: 3, Prompt: promptA},
	}
	ignore := cmpopts.IgnoreFields(Entry{}, "ID", "Time", "TTFTSeconds", "LatencySeconds", "QueuedSeconds")
	if d := cmp.Diff(want, got, ignore); d != "" {
		t.Fatalf("entries (-want +got):\n%s", d)
	}
	// The 429 is in the metrics as well as in the log.
	rec := httptest.NewRecorder()
	mx.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if want := `skiff_gateway_requests_total{code="429",model="tiny",namespace="team-b"} 1`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("metrics lack %s:\n%s", want, rec.Body.String())
	}
	for i, e := range got {
		if e.Time.Before(epoch) || e.LatencySeconds <= 0 {
			t.Errorf("entry %d: time %v latency %v", i, e.Time, e.LatencySeconds)
		}
		if stream := e.Stream && e.Status == 200; stream != (e.TTFTSeconds > 0) || e.TTFTSeconds > e.LatencySeconds {
			t.Errorf("entry %d: stream %v ttft %v latency %v", i, stream, e.TTFTSeconds, e.LatencySeconds)
		}
	}
	sum, err := l.Summarize(context.Background(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	wantSum := []Summary{
		{Namespace: "team-a", Model: "", Requests: 1, Errors: 1},
		{Namespace: "team-a", Model: "llama", Requests: 1, PromptTokens: 7, CompletionTokens: 3, TotalTokens: 10},
		{Namespace: "team-b", Model: "llama", Requests: 1, Errors: 1},
		{Namespace: "team-b", Model: "nope", Requests: 1, Errors: 1},
		{Namespace: "team-b", Model: "qwen", Requests: 2, Errors: 1, PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7},
		{Namespace: "team-b", Model: "tiny", Requests: 2, Errors: 1, PromptTokens: 7, CompletionTokens: 3, TotalTokens: 10},
	}
	if d := cmp.Diff(wantSum, sum, cmpopts.IgnoreFields(Summary{}, "MeanLatencySeconds", "MeanTTFTSeconds")); d != "" {
		t.Errorf("summary (-want +got):\n%s", d)
	}
	if sum[1].MeanTTFTSeconds != 0 || sum[4].MeanTTFTSeconds != got[6].TTFTSeconds {
		t.Errorf("mean TTFT is over streams only: %+v, stream ttft %v", sum, got[6].TTFTSeconds)
	}
}

func entry(ns, model string, at time.Time) Entry {
	return Entry{Time: at, Namespace: ns, Service: "s", Model: model, Key: "k", Path: "/v1/completions", Status: 200,
		PromptTokens: 1, CompletionTokens: 2, LatencySeconds: 0.5}
}

func TestRetentionByCountAndAge(t *testing.T) {
	now := epoch
	l := openLog(t, Options{MaxEntries: 5, MaxAge: time.Hour, Batch: 2, Now: func() time.Time { return now }})
	ctx := context.Background()
	for i := range 8 {
		l.Record(entry("ns", fmt.Sprintf("m%d", i), epoch.Add(time.Duration(i)*time.Minute)))
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	models := func() []string {
		es, err := l.Query(ctx, Query{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Model)
		}
		return out
	}
	if d := cmp.Diff([]string{"m7", "m6", "m5", "m4", "m3"}, models()); d != "" {
		t.Errorf("after 8 records with MaxEntries 5 (-want +got):\n%s", d)
	}
	// An hour and five minutes later, entries before epoch+5m are too old.
	now = epoch.Add(65 * time.Minute)
	l.Record(entry("ns", "m8", now))
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"m8", "m7", "m6", "m5"}, models()); d != "" {
		t.Errorf("after MaxAge (-want +got):\n%s", d)
	}
	if l.Dropped() != 0 {
		t.Errorf("dropped %d", l.Dropped())
	}
}

func TestQueryFilters(t *testing.T) {
	l := openLog(t, Options{Now: func() time.Time { return epoch }})
	ctx := context.Background()
	l.Record(entry("a", "x", epoch))
	l.Record(entry("b", "x", epoch.Add(time.Minute)))
	l.Record(entry("a", "y", epoch.Add(2*time.Minute)))
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		q    Query
		want []string
	}{
		{"all", Query{}, []string{"a/y", "b/x", "a/x"}},
		{"namespace", Query{Namespaces: []string{"a"}}, []string{"a/y", "a/x"}},
		{"no namespace", Query{Namespaces: []string{}}, nil},
		{"model", Query{Model: "x"}, []string{"b/x", "a/x"}},
		{"since", Query{Since: epoch.Add(time.Minute)}, []string{"a/y", "b/x"}},
		{"limit", Query{Limit: 1}, []string{"a/y"}},
	} {
		es, err := l.Query(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range es {
			got = append(got, e.Namespace+"/"+e.Model)
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
}

func TestCloseFlushesAndReopenKeeps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "requests.db")
	l, err := Open(path, Options{Now: func() time.Time { return epoch }})
	if err != nil {
		t.Fatal(err)
	}
	l.Record(entry("a", "x", epoch))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.Record(entry("a", "late", epoch)) // after Close: dropped, no panic
	if l.Dropped() != 1 {
		t.Errorf("dropped after close = %d, want 1", l.Dropped())
	}
	l2, err := Open(path, Options{Now: func() time.Time { return epoch }})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	es, err := l2.Query(context.Background(), Query{})
	if err != nil || len(es) != 1 || es[0].Model != "x" {
		t.Fatalf("after reopen: %v %+v", err, es)
	}
	var mode string
	if err := l2.r.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}
