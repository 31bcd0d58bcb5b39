package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// canaryServiceYAML runs llm-d-inference-sim in the mode its MODE env
// names: "random" answers with canned sentences, "echo" repeats the prompt,
// so each answer tells which revision served it.
const canaryServiceYAML = `apiVersion: skiff.dev/v1alpha1
kind: InferenceService
metadata: {name: canary, namespace: default}
spec:
  models: [canary-chat]
  template:
    command: ["sh", "-c", "exec '%s' --port \"$PORT\" --model canary-chat --force-dummy-tokenizer --mode \"$MODE\""]
    env: [{name: MODE, value: %s}]
    resources: {cpu: 100m, memory: 64Mi}
  minReplicas: 1
  maxReplicas: 1
  canaryTrafficPercent: %d
`

func TestCanaryRevisionGetsItsPercentAndPromotionLosesNoRequest(t *testing.T) {
	t.Parallel()
	sim := llmSim(t)
	s := startServer(t, t.TempDir(), t.TempDir())
	s.mustSkiff(fmt.Sprintf(canaryServiceYAML, sim, "random", 20), "apply", "-f", "-")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := openai.NewClient(option.WithBaseURL(s.gateway+"/v1/"), option.WithAPIKey(s.token), option.WithMaxRetries(0))
	// ask reports whether the echoing (new) revision answered.
	ask := func(prompt string) (bool, error) {
		resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "canary-chat", MaxTokens: openai.Int(64),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
		})
		if err != nil {
			return false, err
		}
		if len(resp.Choices) == 0 {
			return false, fmt.Errorf("no choices in %+v", resp)
		}
		return strings.TrimSpace(resp.Choices[0].Message.Content) == prompt, nil
	}
	waitService := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: %+v", what, s.getService("canary").Status)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitService("the first revision ready", func() bool { return s.getService("canary").Status.ReadyReplicas == 1 })
	first := s.getService("canary").Status.Revisions[0].TemplateHash
	if echoed, err := ask("before the canary"); err != nil || echoed {
		t.Fatalf("first revision: echoed %v, err %v", echoed, err)
	}

	// The template changes with canaryTrafficPercent 20: a canary.
	s.mustSkiff(fmt.Sprintf(canaryServiceYAML, sim, "echo", 20), "apply", "-f", "-")
	var canaryHash string
	waitService("the canary ready beside the first revision", func() bool {
		revs := s.getService("canary").Status.Revisions
		if len(revs) != 2 || revs[0].TemplateHash != first || revs[0].ReadyReplicas != 1 || !revs[1].Canary || revs[1].ReadyReplicas != 1 {
			return false
		}
		canaryHash = revs[1].TemplateHash
		return revs[0].TrafficPercent == 80 && revs[1].TrafficPercent == 20
	})
	echoed := 0
	for i := 0; i < 100; i++ {
		e, err := ask(fmt.Sprintf("which revision answers request %d", i))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if e {
			echoed++
		}
	}
	t.Logf("20%% canary: %d of 100 requests answered by the new revision", echoed)
	// Smooth weighted round-robin: 20 of 100, give or take one.
	if echoed < 19 || echoed > 21 {
		t.Errorf("the 20%% canary answered %d of 100 requests", echoed)
	}

	// Promote under steady traffic: every request must succeed.
	var failed, sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				if _, err := ask(fmt.Sprintf("during promotion %d-%d", w, i)); err != nil {
					failed.Add(1)
					t.Logf("request during promotion: %v", err)
				}
			}
		}()
	}
	s.mustSkiff(fmt.Sprintf(canaryServiceYAML, sim, "echo", 100), "apply", "-f", "-")
	waitService("the canary promoted and the first revision retired", func() bool {
		st := s.getService("canary").Status
		if len(st.Revisions) != 1 || st.Revisions[0].TemplateHash != canaryHash || st.ReadyReplicas != 1 || len(st.Replicas) != 1 {
			return false
		}
		return st.Replicas[0].Job == "canary-0" && st.Replicas[0].Revision == canaryHash && st.Replicas[0].State == "Ready"
	})
	close(stop)
	wg.Wait()
	t.Logf("promotion: %d requests during it, %d failed", sent.Load(), failed.Load())
	if failed.Load() > 0 || sent.Load() == 0 {
		t.Errorf("%d of %d requests failed during the promotion", failed.Load(), sent.Load())
	}
	for i := 0; i < 10; i++ {
		if e, err := ask(fmt.Sprintf("after promotion %d", i)); err != nil || !e {
			t.Fatalf("after promotion request %d: echoed %v, err %v", i, e, err)
		}
	}
	if jobs := strings.Fields(s.mustSkiff("", "get", "jobs", "-l", "skiff.dev/inference-service=canary", "-o", "name")); len(jobs) != 1 {
		t.Errorf("replica jobs after promotion: %v", jobs)
	}
}
