package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSharedPrefixWorkload(t *testing.T) {
	w := SharedPrefix{Groups: 3, PromptsPerGroup: 4, SystemPromptLen: 50, QuestionLen: 5, MaxTokens: 10, Seed: 1}
	reqs, err := w.Requests()
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 12 {
		t.Fatalf("%d requests", len(reqs))
	}
	systems := map[int]string{}
	questions := map[string]bool{}
	for _, r := range reqs {
		if s, ok := systems[r.Group]; ok && s != r.System {
			t.Errorf("group %d has two system prompts", r.Group)
		}
		systems[r.Group] = r.System
		questions[r.Prompt] = true
		if n := len(strings.Fields(r.System)); n != 54 {
			t.Errorf("system prompt of %d words", n)
		}
	}
	if len(systems) != 3 || len(questions) < 11 {
		t.Errorf("%d groups, %d distinct questions", len(systems), len(questions))
	}
	again, _ := w.Requests()
	if diff := cmp.Diff(reqs, again); diff != "" {
		t.Errorf("same seed, different workload:\n%s", diff)
	}
	if _, err := (SharedPrefix{Groups: 0, PromptsPerGroup: 1, QuestionLen: 1, MaxTokens: 1}).Requests(); err == nil {
		t.Error("0 groups accepted")
	}
}

func TestSummarizePercentilesAndGoodput(t *testing.T) {
	var results []Result
	for i := 1; i <= 100; i++ {
		results = append(results, Result{TTFT: time.Duration(i) * time.Millisecond, E2E: time.Duration(i+100) * time.Millisecond,
			ITL: []time.Duration{time.Millisecond}, PromptTokens: 10, CompletionTokens: 11})
	}
	results = append(results, Result{Err: "HTTP 429: slow down"})
	r := Summarize(results, 10*time.Second, SLO{TTFT: 50 * time.Millisecond})
	if r.Completed != 100 || r.Failed != 1 || r.Errors[0] != "HTTP 429: slow down" {
		t.Errorf("counts %+v", r)
	}
	if r.TTFT.Mean != 50.5 || r.TTFT.P50 != 50.5 || r.TTFT.P99 != 99.01 {
		t.Errorf("ttft %+v", r.TTFT)
	}
	if r.TPOT.Mean != 10 { // (e2e - ttft) / (11 - 1) = 100ms / 10
		t.Errorf("tpot %+v", r.TPOT)
	}
	if r.RequestThroughput != 10 || r.OutputTokenThroughput != 110 || r.TotalTokenThroughput != 210 {
		t.Errorf("throughput %+v", r)
	}
	if r.Goodput != 5 { // 50 requests within 50 ms TTFT, over 10 s
		t.Errorf("goodput %v", r.Goodput)
	}
}

// fakeServer streams n chunks per request and counts requests in flight.
func fakeServer(t *testing.T, maxInFlight *atomic.Int64) *httptest.Server {
	var inFlight atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		if r.Header.Get("Authorization") != "Bearer k" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"message":"bad key"}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{\"content\":\"t%d \"}}]}\n\n", i)
			w.(http.Flusher).Flush()
		}
		fmt.Fprint(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRunFixedConcurrencyAndPoisson(t *testing.T) {
	var maxInFlight atomic.Int64
	srv := fakeServer(t, &maxInFlight)
	reqs, _ := Uniform{N: 20, PromptLen: 3, MaxTokens: 3, Seed: 1}.Requests()
	rep, results, err := Run(context.Background(), Options{BaseURL: srv.URL + "/v1", APIKey: "k", Model: "m", Requests: reqs, Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Completed != 20 || rep.CompletionTokens != 60 || rep.PromptTokens != 80 || maxInFlight.Load() > 3 {
		t.Errorf("report %+v, max in flight %d", rep, maxInFlight.Load())
	}
	for _, r := range results {
		if len(r.ITL) != 2 || r.TTFT <= 0 || r.E2E < r.TTFT {
			t.Errorf("result %+v", r)
		}
	}
	rep, _, err = Run(context.Background(), Options{BaseURL: srv.URL + "/v1", APIKey: "wrong", Model: "m", Requests: reqs[:2], Rate: 1000, Seed: 2})
	if err != nil || rep.Failed != 2 || !strings.Contains(rep.Errors[0], "HTTP 401: bad key") {
		t.Errorf("report %+v %v", rep, err)
	}
}
