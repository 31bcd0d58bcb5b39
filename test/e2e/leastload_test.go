package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const leastLoadServiceYAML = `apiVersion: skiff.dev/v1alpha1
kind: InferenceService
metadata: {name: ll, namespace: default}
spec:
  models: [ll-chat]
  template:
    command: ["sh", "-c", "exec '%s' --port \"$PORT\" --model ll-chat --force-dummy-tokenizer --max-num-seqs 1 --time-to-first-token 20ms --inter-token-latency 10ms"]
    resources: {cpu: 100m, memory: 64Mi}
  minReplicas: 2
  maxReplicas: 2
  routing: least-load
`

// simWaiting reads vllm:num_requests_waiting from a replica's /metrics.
func simWaiting(t *testing.T, port int32) float64 {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "vllm:num_requests_waiting") {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			return v
		}
	}
	return 0
}

func TestLeastLoadSendsFewerRequestsToTheReplicaWithALongQueue(t *testing.T) {
	t.Parallel()
	sim := llmSim(t)
	s := startServer(t, t.TempDir(), t.TempDir())
	s.mustSkiff(fmt.Sprintf(leastLoadServiceYAML, sim), "apply", "-f", "-")
	deadline := time.Now().Add(90 * time.Second)
	for s.getService("ll").Status.ReadyReplicas != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("replicas not ready: %+v", s.getService("ll").Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var busy struct {
		job  string
		port int32
	}
	for _, r := range s.getService("ll").Status.Replicas {
		if r.Index == 0 {
			busy.job, busy.port = r.Job, r.Port
		}
	}

	// Another client queues long requests on replica 0 directly, behind
	// the gateway's back: only its /metrics can tell the gateway.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := `{"model":"ll-chat","max_tokens":400,"ignore_eos":true,"messages":[{"role":"user","content":"a long one"}]}`
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/v1/chat/completions", busy.port), strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	defer wg.Wait()
	defer cancel()
	for simWaiting(t, busy.port) < 4 {
		if time.Now().After(deadline) {
			t.Fatal("replica 0's queue never grew")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Give the gateway's 1s scrape time to see the queue.
	time.Sleep(1500 * time.Millisecond)

	counts := map[string]int{}
	for i := 0; i < 10; i++ {
		req, _ := http.NewRequest(http.MethodPost, s.gateway+"/v1/chat/completions",
			strings.NewReader(fmt.Sprintf(`{"model":"ll-chat","max_tokens":3,"messages":[{"role":"user","content":"short %d"}]}`, i)))
		req.Header.Set("Authorization", "Bearer "+s.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %s", i, resp.Status)
		}
		counts[resp.Header.Get("X-Skiff-Replica")]++
	}
	t.Logf("new requests per replica with %s's queue full: %v", busy.job, counts)
	if counts[busy.job] > 1 {
		t.Errorf("the replica with a long queue (%s) got %d of 10 new requests (%v); want (almost) none", busy.job, counts[busy.job], counts)
	}
}
