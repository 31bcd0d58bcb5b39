package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
)

// buildTinyLM builds the example model server where examples/serve's
// manifests expect it: $HOME/.cache/skiff-tinylm/tinylm.
func buildTinyLM(t *testing.T, home string) {
	t.Helper()
	out := filepath.Join(home, ".cache", "skiff-tinylm", "tinylm")
	build := exec.Command("go", "build", "-o", out, "../../examples/serve/tinylm")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building tinylm: %v\n%s", err, b)
	}
}

func (s *server) getService(name string) *v1alpha1.InferenceService {
	s.t.Helper()
	out := s.mustSkiff("", "get", "inferenceservice", name, "-o", "json")
	svc := &v1alpha1.InferenceService{}
	if err := json.Unmarshal([]byte(out), svc); err != nil {
		s.t.Fatalf("decoding service JSON: %v\n%s", err, out)
	}
	return svc
}

// curl calls the gateway the way the guide does; it falls back to net/http
// where curl is not installed. It returns the status and the body.
func (s *server) curl(token, path, body string) (int, string) {
	s.t.Helper()
	if _, err := exec.LookPath("curl"); err == nil {
		args := []string{"-sS", "-N", "-o", "-", "-w", "\n%{http_code}", s.gateway + path, "-H", "Content-Type: application/json"}
		if token != "" {
			args = append(args, "-H", "Authorization: Bearer "+token)
		}
		if body != "" {
			args = append(args, "-d", body)
		}
		out, err := exec.Command("curl", args...).Output()
		if err != nil {
			s.t.Fatalf("curl %s: %v", path, err)
		}
		text := strings.TrimRight(string(out), "\n")
		i := strings.LastIndexByte(text, '\n')
		var code int
		fmt.Sscan(text[i+1:], &code)
		return code, text[:i+1]
	}
	method := http.MethodGet
	if body != "" {
		method = http.MethodPost
	}
	req, _ := http.NewRequest(method, s.gateway+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return resp.StatusCode, b.String()
}

func TestExampleModelIsTrainedServedAndAnswersThroughTheGateway(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	buildTinyLM(t, home)
	s := startServer(t, t.TempDir(), home)

	// Train: a job writes the model file.
	s.mustSkiff("", "apply", "-f", "../../examples/serve/train.yaml")
	s.mustSkiff("", "wait", "job/tinylm-train", "--for=condition=Succeeded", "--timeout=2m")
	if logs := s.mustSkiff("", "logs", "job/tinylm-train"); !strings.Contains(logs, "bits/char") {
		t.Errorf("training log %q", logs)
	}
	if _, err := os.Stat(filepath.Join(home, ".cache", "skiff-tinylm", "model.json")); err != nil {
		t.Fatal(err)
	}

	// Serve: minReplicas 0, so nothing runs until the first request.
	s.mustSkiff("", "apply", "-f", "../../examples/serve/service.yaml")
	deadline := time.Now().Add(time.Minute)
	for {
		svc := s.getService("tinylm")
		if c := findCondition(svc.Status.Conditions, v1alpha1.ServiceConditionReady); c != nil && c.Reason == "ScaledToZero" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("service never reported ScaledToZero: %+v", svc.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	table := s.mustSkiff("", "get", "isvc")
	if !strings.Contains(table, "tinylm") || !strings.Contains(table, "0/0") || !strings.Contains(table, "least-request") {
		t.Errorf("get isvc:\n%s", table)
	}

	// The first request wakes the service and waits for its replica.
	code, body := s.curl(s.token, "/v1/chat/completions", `{"model":"tinylm","seed":7,"max_tokens":40,"messages":[{"role":"user","content":"The harbor"}]}`)
	if code != 200 || !strings.Contains(body, `"usage"`) || !strings.Contains(body, `"role":"assistant"`) {
		t.Fatalf("first request: %d %s\nserver log:\n%s", code, body, s.out.String())
	}
	var answer struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal([]byte(body), &answer); err != nil || answer.Choices[0].Message.Content == "" {
		t.Fatalf("answer %s: %v", body, err)
	}

	// Streaming through curl: chunks, then [DONE]; the usage chunk the
	// gateway asked for is not shown to a client that did not ask.
	code, body = s.curl(s.token, "/v1/chat/completions", `{"model":"tinylm","stream":true,"max_tokens":10,"messages":[{"role":"user","content":"A skiff"}]}`)
	if code != 200 || strings.Count(body, "data: ") < 3 || !strings.Contains(body, "data: [DONE]") || strings.Contains(body, `"usage"`) {
		t.Errorf("stream: %d %s", code, body)
	}

	// Bad input answers in OpenAI's format and leaves the gateway serving.
	for _, c := range []struct {
		token, body string
		code        int
	}{
		{"", `{"model":"tinylm"}`, 401},
		{"skf_wrong", `{"model":"tinylm"}`, 401},
		{s.token, `{"model":"nope","messages":[]}`, 404},
		{s.token, `{"model":`, 400},
	} {
		code, body := s.curl(c.token, "/v1/chat/completions", c.body)
		if code != c.code || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d %s, want %d", c.body, code, body, c.code)
		}
	}

	// Usage was recorded for the admin key: two answered requests so far.
	code, body = s.curl(s.token, "/v1/usage", "")
	var usage struct {
		Data []struct {
			Model            string `json:"model"`
			Key              string `json:"key"`
			Requests         int    `json:"requests"`
			CompletionTokens int    `json:"completion_tokens"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &usage); err != nil || code != 200 || len(usage.Data) != 1 ||
		usage.Data[0].Requests != 2 || usage.Data[0].CompletionTokens < answer.Usage.CompletionTokens+1 {
		t.Errorf("usage: %d %s", code, body)
	}
	// The request log has both answered requests (written off the request
	// path, so poll briefly); the refused ones named no service.
	var reqs struct {
		Items []struct {
			Namespace, Model, Key, Replica string
			Stream                         bool
			Status                         int
			CompletionTokens               int
			Prompt                         string
		} `json:"items"`
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		out := s.mustSkiff("", "requests", "-o", "json")
		if err := json.Unmarshal([]byte(out), &reqs); err != nil {
			t.Fatalf("skiff requests -o json: %v\n%s", err, out)
		}
		if len(reqs.Items) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(reqs.Items) != 2 || !reqs.Items[0].Stream || reqs.Items[1].Stream || reqs.Items[1].CompletionTokens != answer.Usage.CompletionTokens {
		t.Errorf("request log: %+v", reqs.Items)
	}
	for _, e := range reqs.Items {
		if e.Namespace != "default" || e.Model != "tinylm" || e.Key != "admin" || e.Replica != "tinylm-0" || e.Status != 200 || e.Prompt != "" {
			t.Errorf("request log entry: %+v", e)
		}
	}
	// Refusals with a valid key are logged too, under the key's namespace
	// (none for the bootstrap admin), with no service; 401s are not.
	statuses := map[int]int{}
	for deadline = time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out := s.mustSkiff("", "requests", "-A", "-o", "json")
		if err := json.Unmarshal([]byte(out), &reqs); err != nil {
			t.Fatalf("skiff requests -A -o json: %v\n%s", err, out)
		}
		clear(statuses)
		for _, e := range reqs.Items {
			statuses[e.Status]++
		}
		if len(reqs.Items) >= 4 || time.Now().After(deadline) {
			break
		}
	}
	if want := map[int]int{200: 2, 404: 1, 400: 1}; !maps.Equal(statuses, want) {
		t.Errorf("request log statuses %v, want %v: %+v", statuses, want, reqs.Items)
	}
	if sum := s.mustSkiff("", "requests", "-A", "--summary"); !strings.Contains(sum, "default    tinylm  2 ") {
		t.Errorf("skiff requests --summary:\n%s", sum)
	}
	// skiff bench serve drives the same endpoint.
	bench := s.mustSkiff("", "bench", "serve", "--url", s.gateway+"/v1", "--model", "tinylm", "--token", s.token,
		"--workload", "shared-prefix", "--groups", "2", "--per-group", "3", "--system-len", "20", "--question-len", "4",
		"--max-tokens", "8", "--concurrency", "2", "-o", "json")
	var rep struct {
		Completed int `json:"completed"`
		Failed    int `json:"failed"`
		TTFT      struct {
			Mean float64 `json:"mean_ms"`
		} `json:"ttft"`
		OutputTokens int `json:"total_output_tokens"`
	}
	if err := json.Unmarshal([]byte(bench), &rep); err != nil || rep.Completed != 6 || rep.Failed != 0 || rep.TTFT.Mean <= 0 || rep.OutputTokens < 6 {
		t.Errorf("bench serve: %v\n%s", err, bench)
	}
	// The gateway's metrics are on the server's /metrics too, beside the
	// scheduler's: one scrape covers both.
	req, _ := http.NewRequest(http.MethodGet, s.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	scraped, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`skiff_gateway_requests_total{code="200",model="tinylm",namespace="default"}`, "skiff_gateway_time_to_first_token_seconds_bucket", "skiff_scheduler_"} {
		if !strings.Contains(string(scraped), want) {
			t.Errorf("the server's /metrics lacks %s:\n%s", want, grepLines(string(scraped), "skiff_gateway"))
		}
	}
	svc := s.getService("tinylm")
	if svc.Status.ReadyReplicas != 1 || len(svc.Status.Replicas) != 1 || svc.Status.Replicas[0].Job != "tinylm-0" {
		t.Errorf("status after traffic: %+v", svc.Status)
	}
	desc := s.mustSkiff("", "describe", "isvc", "tinylm")
	for _, want := range []string{"ScaledUp", "ReplicaReady"} {
		if !strings.Contains(desc, want) {
			t.Errorf("describe lacks %s:\n%s", want, desc)
		}
	}
	// Deleting the service stops its replica.
	s.mustSkiff("", "delete", "isvc", "tinylm")
	deadline = time.Now().Add(time.Minute)
	for strings.Contains(s.mustSkiff("", "get", "jobs"), "tinylm-0") {
		if time.Now().After(deadline) {
			t.Fatal("the replica job outlived its service")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func findCondition(conds []metav1.Condition, typ string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

const keptService = `apiVersion: skiff.dev/v1alpha1
kind: InferenceService
metadata: {name: kept, namespace: default}
spec:
  models: [kept]
  template:
    command: ["sh", "-c", "exec \"$HOME/.cache/skiff-tinylm/tinylm\" serve --name kept --model \"$HOME/.cache/skiff-tinylm/model.json\""]
    resources: {cpu: 100m, memory: 64Mi}
  minReplicas: 1
  maxReplicas: 2
`

func TestServiceSurvivesAServerKillWithoutASecondReplica(t *testing.T) {
	t.Parallel()
	data, home := t.TempDir(), t.TempDir()
	buildTinyLM(t, home)
	s := startServer(t, data, home)
	s.mustSkiff("", "apply", "-f", "../../examples/serve/train.yaml")
	s.mustSkiff("", "wait", "job/tinylm-train", "--for=condition=Succeeded", "--timeout=2m")
	s.mustSkiff(keptService, "apply", "-f", "-")
	waitReady := func(s *server) {
		deadline := time.Now().Add(time.Minute)
		for s.getService("kept").Status.ReadyReplicas != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("no ready replica: %+v\n%s", s.getService("kept").Status, s.out.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitReady(s)
	body := `{"model":"kept","max_tokens":5,"messages":[{"role":"user","content":"The tide"}]}`
	if code, out := s.curl(s.token, "/v1/chat/completions", body); code != 200 {
		t.Fatalf("before the kill: %d %s", code, out)
	}
	s.stop(syscall.SIGKILL)
	s2 := startServer(t, data, home)
	waitReady(s2)
	if code, out := s2.curl(s2.token, "/v1/chat/completions", body); code != 200 {
		t.Fatalf("after the restart: %d %s\n%s", code, out, s2.out.String())
	}
	jobs := strings.Fields(s2.mustSkiff("", "get", "jobs", "-l", "skiff.dev/inference-service=kept", "-o", "name"))
	if len(jobs) != 1 || !strings.HasSuffix(jobs[0], "/kept-0") {
		t.Errorf("replica jobs after the restart: %v, want only kept-0", jobs)
	}
}

// grepLines is the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
