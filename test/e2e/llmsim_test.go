package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"skiff.dev/skiff/api/v1alpha1"
)

// llmSimBuild serialises llmSim's builds within the test process.
var llmSimBuild sync.Mutex

// llmSimVersion is the llm-d-inference-sim release tools/llmsim pins.
const llmSimVersion = "v0.10.2"

// llmSim returns the path of an llm-d-inference-sim binary built from the
// tools/llmsim module. Building it takes minutes on a cold module cache, so
// the binary is kept in the user cache directory, keyed by the module's
// go.sum, and reused by later runs.
func llmSim(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds llm-d-inference-sim: not in -short mode")
	}
	sum, err := os.ReadFile("../../tools/llmsim/go.sum")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(sum)
	cacheDir, err := os.UserCacheDir()
	if err != nil {
		cacheDir = os.TempDir()
	}
	bin := filepath.Join(cacheDir, "skiff-test", "llm-d-inference-sim-"+llmSimVersion+"-"+hex.EncodeToString(h[:6]))
	// Parallel tests of this process wait for one build; other processes
	// build into files of their own and the last rename wins.
	llmSimBuild.Lock()
	defer llmSimBuild.Unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(filepath.Dir(bin), filepath.Base(bin)+".*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	build := exec.Command("go", "build", "-o", tmp, "github.com/llm-d/llm-d-inference-sim/cmd/llm-d-inference-sim")
	build.Dir = "../../tools/llmsim"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building llm-d-inference-sim %s in tools/llmsim: %v\n%s", llmSimVersion, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

const simServiceYAML = `apiVersion: skiff.dev/v1alpha1
kind: InferenceService
metadata: {name: sim, namespace: default}
spec:
  models: [sim-chat]
  queue: default
  template:
    command: ["sh", "-c", "exec '%s' --port \"$PORT\" --model sim-chat --force-dummy-tokenizer --time-to-first-token 100ms --inter-token-latency 20ms --max-num-seqs 64"]
    resources: {cpu: 100m, memory: 64Mi}
  minReplicas: 0
  maxReplicas: 3
  routing: least-request
  autoscaling: {targetInFlight: 2, scaleToZeroAfter: 3s, stableWindow: 4s, panicWindow: 1s}
  limits:
    perKey: {tokensPerMinute: %d}
`

func TestLLMSimServiceScalesFromZeroToNAndBackWithLimitsAndUsage(t *testing.T) {
	t.Parallel()
	sim := llmSim(t)
	s := startServer(t, t.TempDir(), t.TempDir())
	s.mustSkiff(fmt.Sprintf(simServiceYAML, sim, 100000), "apply", "-f", "-")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	admin := openai.NewClient(option.WithBaseURL(s.gateway+"/v1/"), option.WithAPIKey(s.token), option.WithMaxRetries(0))
	chat := func(c openai.Client, maxTokens int64) (*openai.ChatCompletion, error) {
		return c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:     "sim-chat",
			MaxTokens: openai.Int(maxTokens),
			Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me about the harbor at dawn.")},
		})
	}

	// 0 -> 1: the first request is held until the replica is ready. The
	// first client is the official npm package (answer, stream, 404).
	if got := s.getService("sim").Status.DesiredReplicas; got != 0 {
		t.Fatalf("before traffic: %d replicas desired", got)
	}
	if dir, ok := npmClient(t); ok {
		res := runNodeClient(t, dir, s.gateway+"/v1", s.token, "sim-chat")
		if len(res.Models) != 1 || res.Models[0] != "sim-chat" || res.Content == "" || res.Usage.CompletionTokens < 1 ||
			res.Chunks < 2 || res.StreamUsage == nil || res.StreamUsage.CompletionTokens < 1 ||
			res.NotFound.Status != 404 || res.NotFound.Type != "not_found_error" {
			t.Errorf("npm openai client saw %+v", res)
		}
	}
	resp, err := chat(admin, 5)
	if err != nil {
		t.Fatalf("first request: %v\nserver log:\n%s", err, s.out.String())
	}
	if resp.Usage.CompletionTokens < 1 || resp.Usage.PromptTokens < 1 {
		t.Errorf("usage %+v", resp.Usage)
	}

	// 1 -> N: 12 concurrent streams, target 2 in flight per replica.
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := admin.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
				Model:     "sim-chat",
				MaxTokens: openai.Int(60),
				Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprintf("question %d", i))},
			})
			n := 0
			for st.Next() {
				if len(st.Current().Choices) > 0 {
					n++
				}
			}
			if err := st.Err(); err != nil {
				errs <- err
			} else if n < 2 {
				errs <- fmt.Errorf("stream %d got %d chunks", i, n)
			}
		}()
	}
	maxReady := int32(0)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-time.After(200 * time.Millisecond):
		}
		if r := s.getService("sim").Status.ReadyReplicas; r > maxReady {
			maxReady = r
		}
	}
	close(errs)
	for err := range errs {
		t.Errorf("a stream under scale-up failed: %v", err)
	}
	// Keep the load on until a second replica is ready, if the burst was
	// too short to see one.
	for i := 0; maxReady < 2 && i < 60; i++ {
		var wg sync.WaitGroup
		for j := 0; j < 8; j++ {
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = chat(admin, 40) }()
		}
		wg.Wait()
		if r := s.getService("sim").Status.ReadyReplicas; r > maxReady {
			maxReady = r
		}
	}
	if maxReady < 2 {
		t.Errorf("never more than %d ready replicas under load", maxReady)
	}

	// A tenant key with a small token budget gets 429 with Retry-After.
	s.mustSkiff(fmt.Sprintf(simServiceYAML, sim, 60), "apply", "-f", "-")
	out := s.mustSkiff("", "token", "create", "--user", "alice", "--namespace", "default", "--role", "viewer")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	alice := openai.NewClient(option.WithBaseURL(s.gateway+"/v1/"), option.WithAPIKey(lines[len(lines)-1]), option.WithMaxRetries(0))
	var apiErr *openai.Error
	limited := false
	for i := 0; i < 20 && !limited; i++ {
		_, err := chat(alice, 20)
		switch {
		case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests:
			limited = true
			if apiErr.Response.Header.Get("Retry-After") == "" || !strings.Contains(apiErr.Message, "60 tokens per minute") {
				t.Errorf("429: %q Retry-After %q", apiErr.Message, apiErr.Response.Header.Get("Retry-After"))
			}
		case err != nil:
			t.Fatalf("alice request %d: %v", i, err)
		}
	}
	if !limited {
		t.Error("60 tokens/min never refused alice")
	}

	// Usage per key and model.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.gateway+"/v1/usage", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	uresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var usage struct {
		Data []struct {
			Key         string `json:"key"`
			Model       string `json:"model"`
			Requests    int64  `json:"requests"`
			TotalTokens int64  `json:"total_tokens"`
		} `json:"data"`
	}
	err = json.NewDecoder(uresp.Body).Decode(&usage)
	uresp.Body.Close()
	if err != nil || len(usage.Data) != 2 {
		t.Fatalf("usage %+v %v", usage, err)
	}
	for _, u := range usage.Data {
		if u.Model != "sim-chat" || u.Requests < 2 || u.TotalTokens < 10 {
			t.Errorf("usage record %+v", u)
		}
	}

	// N -> 0 after the idle period, replicas drained and deleted.
	deadline := time.Now().Add(90 * time.Second)
	for {
		svc := s.getService("sim")
		if svc.Status.DesiredReplicas == 0 && len(svc.Status.Replicas) == 0 {
			if c := findCondition(svc.Status.Conditions, v1alpha1.ServiceConditionReady); c == nil || c.Reason != "ScaledToZero" {
				t.Errorf("scaled to zero with condition %+v", c)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("did not scale to zero: %+v", svc.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if jobs := s.mustSkiff("", "get", "jobs", "-l", "skiff.dev/inference-service=sim", "-o", "name"); strings.TrimSpace(jobs) != "" {
		t.Errorf("replica jobs left after scale to zero: %q", jobs)
	}
}
