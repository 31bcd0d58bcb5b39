package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"k8s.io/apimachinery/pkg/api/resource"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/store"
)

const testToken = "skf_cli-test"

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	t     *testing.T
	url   string
	store store.Store
	now   time.Time
	stdin string
}

func newEnv(t *testing.T, logs apiserver.LogSource) *env {
	t.Helper()
	st := store.NewMemory(func() time.Time { return epoch })
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(apiserver.New(apiserver.Config{Store: st, Auth: auth.NewTokens(testToken), Logs: logs, Version: "v1.0.0-server"}))
	t.Cleanup(srv.Close)
	return &env{t: t, url: srv.URL, store: st, now: epoch.Add(5 * time.Minute)}
}

// syncBuffer is written by a running command and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runCtx runs the CLI with --server and --token pointing at the test
// server.
func (e *env) runCtx(ctx context.Context, stdout io.Writer, args ...string) (stderr string, err error) {
	a := &app{version: "v1.0.0-cli", now: func() time.Time { return e.now }}
	root := newRoot(a)
	root.SetArgs(append([]string{"--server", e.url, "--token", testToken}, args...))
	var errb bytes.Buffer
	root.SetOut(stdout)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(e.stdin))
	err = root.ExecuteContext(ctx)
	return errb.String(), err
}

func (e *env) run(args ...string) (stdout, stderr string, err error) {
	e.t.Helper()
	var out bytes.Buffer
	stderr, err = e.runCtx(e.t.Context(), &out, args...)
	return out.String(), stderr, err
}

func (e *env) mustRun(args ...string) string {
	e.t.Helper()
	out, stderr, err := e.run(args...)
	if err != nil {
		e.t.Fatalf("skiff %s: %v\nstderr: %s", strings.Join(args, " "), err, stderr)
	}
	return out
}

func (e *env) mustFail(args ...string) error {
	e.t.Helper()
	out, _, err := e.run(args...)
	if err == nil {
		e.t.Fatalf("skiff %s succeeded, want an error; output:\n%s", strings.Join(args, " "), out)
	}
	if strings.Contains(err.Error(), "\n") {
		e.t.Errorf("error is not one line: %q", err)
	}
	return err
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const queueYAML = `apiVersion: skiff.dev/v1alpha1
kind: Queue
metadata:
  name: default
spec:
  cohort: research
  flavors:
  - name: gpu
    resources:
    - name: gpu
      nominalQuota: 8
---
# a comment-only document is skipped
---
apiVersion: skiff.dev/v1alpha1
kind: Flavor
metadata:
  name: gpu
spec:
  gpuModel: H100
  nodeLabels: {skiff.dev/gpu: "true"}
`

func jobYAML(name string, priority int) string {
	return `apiVersion: skiff.dev/v1alpha1
kind: Job
metadata:
  name: ` + name + `
  labels: {app: ` + name + `}
spec:
  priority: ` + string(rune('0'+priority)) + `
  replicaGroups:
  - name: worker
    replicas: 2
    template:
      command: [python3, train.py]
`
}

func TestApplyGetDescribeDelete(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cluster.yaml"), queueYAML)
	writeFile(t, filepath.Join(dir, "jobs", "a.yml"), jobYAML("a", 1))
	writeFile(t, filepath.Join(dir, "jobs", "b.json"), `{"apiVersion":"skiff.dev/v1alpha1","kind":"Job","metadata":{"name":"b"},"spec":{"replicaGroups":[{"name":"w","template":{"command":["true"]}}]}}`)
	writeFile(t, filepath.Join(dir, "jobs", "README.md"), "not a manifest")

	got := e.mustRun("apply", "-f", dir)
	want := "queue.skiff.dev/default created\nflavor.skiff.dev/gpu created\njob.skiff.dev/a created\njob.skiff.dev/b created\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("apply (-want +got):\n%s", diff)
	}
	got = e.mustRun("apply", "-f", filepath.Join(dir, "jobs", "a.yml"))
	if got != "job.skiff.dev/a unchanged\n" {
		t.Errorf("re-apply = %q", got)
	}
	e.stdin = jobYAML("a", 3)
	got = e.mustRun("apply", "-f", "-")
	if got != "job.skiff.dev/a configured\n" {
		t.Errorf("changed apply = %q", got)
	}
	e.stdin = ""

	// A controller places job a.
	var j v1alpha1.Job
	ctx := t.Context()
	if err := e.store.Get(ctx, "default", "a", &j); err != nil {
		t.Fatal(err)
	}
	j.Status.Phase = v1alpha1.JobRunning
	j.Status.Restarts = 1
	j.Status.Admission = &v1alpha1.Admission{Queue: "default", Placements: []v1alpha1.Placement{{Group: "worker", Node: "box-1"}, {Group: "worker", Index: 1, Node: "box-1"}}}
	j.Status.Conditions = []metav1.Condition{{Type: "Admitted", Status: metav1.ConditionTrue, Reason: "QuotaReserved", Message: "admitted by queue default", LastTransitionTime: metav1.NewTime(epoch)}}
	if err := e.store.Update(ctx, &j); err != nil {
		t.Fatal(err)
	}
	ev := &v1alpha1.Event{ObjectMeta: metav1.ObjectMeta{Name: "a.1", Namespace: "default"},
		InvolvedObject: v1alpha1.ObjectReference{Kind: "Job", Name: "a"}, Reason: "Started", Type: "Normal",
		Message: "started 2 replicas", Source: "job-controller", LastTimestamp: metav1.NewTime(epoch.Add(time.Minute))}
	if err := e.store.Create(ctx, ev); err != nil {
		t.Fatal(err)
	}

	q := &v1alpha1.Queue{}
	if err := e.store.Get(ctx, "", "default", q); err != nil {
		t.Fatal(err)
	}
	q.Status = v1alpha1.QueueStatus{PendingJobs: 1, AdmittedJobs: 1, Usage: []v1alpha1.FlavorUsage{{Name: "gpu",
		Resources: map[string]resource.Quantity{"gpu": resource.MustParse("10")},
		Borrowed:  map[string]resource.Quantity{"gpu": resource.MustParse("2")}}}}
	if err := e.store.Update(ctx, q); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"get", "jobs"}, `
NAME   QUEUE     PHASE     RESTARTS   AGE
a      default   Running   1          5m
b      default   Pending   0          5m
`},
		{[]string{"get", "jobs", "-o", "wide"}, `
NAME   QUEUE     PHASE     RESTARTS   AGE   PRIORITY   REPLICAS   NODE
a      default   Running   1          5m    3          2/2        box-1
b      default   Pending   0          5m    0          0/1        <none>
`},
		{[]string{"get", "job", "-A", "-l", "app=a"}, `
NAMESPACE   NAME   QUEUE     PHASE     RESTARTS   AGE
default     a      default   Running   1          5m
`},
		{[]string{"get", "job/b", "--no-headers"}, `
b   default   Pending   0   5m
`},
		{[]string{"get", "jobs", "-o", "name", "--field-selector", "status.phase=Running"}, `
job.skiff.dev/a
`},
		{[]string{"get", "queues"}, `
NAME      COHORT     GPU USED/QUOTA   BORROWED   PENDING   ADMITTED   AGE
default   research   10/8             gpu=2      1         1          5m
`},
		{[]string{"get", "flavors"}, `
NAME   GPU MODEL   NODE LABELS          AGE
gpu    H100        skiff.dev/gpu=true   5m
`},
		{[]string{"get", "ev"}, `
LAST SEEN   TYPE     REASON    OBJECT   MESSAGE
4m          Normal   Started   job/a    started 2 replicas
`},
	}
	for _, tt := range tests {
		got := e.mustRun(tt.args...)
		if diff := cmp.Diff(strings.TrimPrefix(tt.want, "\n"), got); diff != "" {
			t.Errorf("skiff %s (-want +got):\n%s", strings.Join(tt.args, " "), diff)
		}
	}

	out := e.mustRun("get", "job", "a", "-o", "yaml")
	obj, err := v1alpha1.Decode([]byte(out))
	if err != nil {
		t.Fatalf("-o yaml is not a manifest: %v\n%s", err, out)
	}
	if obj.(*v1alpha1.Job).Status.Phase != v1alpha1.JobRunning {
		t.Errorf("-o yaml lost status:\n%s", out)
	}
	out = e.mustRun("get", "jobs", "-o", "json")
	var list v1alpha1.JobList
	if err := jsonUnmarshalStrict(out, &list); err != nil || len(list.Items) != 2 || list.Kind != "JobList" || list.Items[0].Kind != "Job" {
		t.Errorf("-o json list: %v\n%s", err, out)
	}

	out = e.mustRun("describe", "job", "a")
	for _, want := range []string{"Name:         a", "Namespace:    default", "Labels:       app=a", "Spec:\n  priority: 3",
		"Status:\n", "phase: Running", "Conditions:\n  TYPE      STATUS  REASON         AGE  MESSAGE\n  Admitted  True    QuotaReserved  5m   admitted by queue default",
		"Events:\n  TYPE    REASON   AGE  FROM            MESSAGE\n  Normal  Started  4m   job-controller  started 2 replicas"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe output lacks %q:\n%s", want, out)
		}
	}
	out = e.mustRun("describe", "queue/default")
	if !strings.Contains(out, "Events: <none>") || strings.Contains(out, "Namespace:") {
		t.Errorf("describe queue:\n%s", out)
	}

	got = e.mustRun("delete", "job", "a")
	if got != "job.skiff.dev \"a\" deleted\n" {
		t.Errorf("delete = %q", got)
	}
	err = e.mustFail("get", "job", "a")
	if err.Error() != `jobs.skiff.dev "a" not found` {
		t.Errorf("get deleted = %q", err)
	}
	e.mustRun("delete", "job", "a", "--ignore-not-found")
	got = e.mustRun("delete", "-f", filepath.Join(dir, "cluster.yaml"))
	if got != "queue.skiff.dev \"default\" deleted\nflavor.skiff.dev \"gpu\" deleted\n" {
		t.Errorf("delete -f = %q", got)
	}
	_, stderr, err := e.run("get", "queues")
	if err != nil || stderr != "No resources found\n" {
		t.Errorf("empty get: %v %q", err, stderr)
	}
	_, stderr, _ = e.run("get", "jobs", "-n", "nowhere")
	if stderr != "No resources found in nowhere namespace.\n" {
		t.Errorf("empty namespaced get: %q", stderr)
	}
}

func TestApplyBadManifestAppliesNothing(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), jobYAML("good", 1))
	writeFile(t, filepath.Join(dir, "b.yaml"), jobYAML("x", 1)+"---\n"+strings.Replace(jobYAML("bad", 1), "replicas: 2", "replicas: 2\n    replicaz: 3", 1))
	err := e.mustFail("apply", "-f", dir)
	for _, want := range []string{"b.yaml (document 2)", "spec.replicaGroups[0].replicaz", "unknown field"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	var l v1alpha1.JobList
	if err := e.store.List(t.Context(), &l, store.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Fatalf("%d jobs stored after a bad apply (%v)", len(l.Items), err)
	}

	// A manifest the server refuses fails alone; the others are applied.
	writeFile(t, filepath.Join(dir, "b.yaml"), strings.Replace(jobYAML("bad", 1), "command: [python3, train.py]", "command: []", 1))
	out, _, err := e.run("apply", "-f", dir)
	if out != "job.skiff.dev/good created\n" || err == nil || !strings.Contains(err.Error(), "spec.replicaGroups[0].template.command") {
		t.Errorf("out %q err %v", out, err)
	}
	if got := e.mustRun("apply", "-n", "other", "-f", filepath.Join(dir, "a.yaml")); got != "job.skiff.dev/good created\n" {
		t.Errorf("apply -n other = %q", got)
	}
	e.stdin = strings.Replace(jobYAML("ns", 1), "name: ns", "name: ns\n  namespace: team", 1)
	if err := e.mustFail("apply", "-n", "other", "-f", "-"); !strings.Contains(err.Error(), "does not match -n other") {
		t.Errorf("namespace clash: %v", err)
	}
	if err := e.mustFail("apply", "-f", filepath.Join(dir, "missing.yaml")); !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func jsonUnmarshalStrict(s string, v any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func TestErrorsSayWhatToDo(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.mustFail("get", "widgets"); !strings.Contains(err.Error(), `unknown kind "widgets"`) {
		t.Errorf("unknown kind: %v", err)
	}
	if err := e.mustFail("get", "jobs", "-o", "xml"); !strings.Contains(err.Error(), "-o xml") {
		t.Errorf("bad output: %v", err)
	}
	if err := e.mustFail("get", "jobs", "--bogus"); !strings.Contains(err.Error(), "skiff get --help") {
		t.Errorf("bad flag: %v", err)
	}

	dead := httptest.NewServer(nil)
	dead.Close()
	e2 := *e
	e2.url = dead.URL
	err := e2.mustFail("get", "jobs")
	want := "cannot reach the skiff server at " + dead.URL + " (connection refused): start it with `skiff up` or set --server"
	if err.Error() != want {
		t.Errorf("unreachable:\n got %q\nwant %q", err, want)
	}

	a := &app{version: "v", now: time.Now}
	root := newRoot(a)
	root.SetArgs([]string{"--server", e.url, "--token", "skf_wrong", "get", "jobs"})
	root.SetOut(io.Discard)
	err = root.Execute()
	if err == nil || !strings.Contains(err.Error(), "rejected the token") {
		t.Errorf("bad token: %v", err)
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Errorf("error %T is not a *cli.Error", err)
	}
}

func TestVersionAndCompletion(t *testing.T) {
	e := newEnv(t, nil)
	if got := e.mustRun("version"); got != "Client Version: v1.0.0-cli\nServer Version: v1.0.0-server\n" {
		t.Errorf("version = %q", got)
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if out := e.mustRun("completion", sh); !strings.Contains(out, "skiff") {
			t.Errorf("completion %s printed %d bytes", sh, len(out))
		}
	}
	e.mustFail("completion", "tcsh")
}

func TestConfigFile(t *testing.T) {
	e := newEnv(t, nil)
	cfgHome := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfgHome)
	t.Setenv(EnvServer, "")
	t.Setenv(EnvToken, "")
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	writeFile(t, tokenFile, testToken+"\n")

	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		root := NewRoot("v")
		root.SetArgs(args)
		root.SetOut(&out)
		root.SetErr(io.Discard)
		err := root.Execute()
		return out.String(), err
	}
	_, err := run("get", "jobs")
	if err == nil || !strings.Contains(err.Error(), "no skiff server configured") || !strings.Contains(err.Error(), filepath.Join(cfgHome, "skiff", "config.yaml")) {
		t.Errorf("no config: %v", err)
	}
	path, err := WriteUserConfig(e.url, tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(cfgHome, "skiff", "config.yaml") {
		t.Errorf("config path %s", path)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode: %v %v", fi.Mode(), err)
	}
	cfg, _, err := LoadUserConfig()
	if diff := cmp.Diff(UserConfig{Server: e.url, TokenFile: tokenFile}, cfg); diff != "" || err != nil {
		t.Errorf("LoadUserConfig %v (-want +got):\n%s", err, diff)
	}
	if out, err := run("version"); err != nil || !strings.Contains(out, "Server Version: v1.0.0-server") {
		t.Errorf("version via config: %q %v", out, err)
	}
	// The environment overrides the file.
	t.Setenv(EnvToken, "skf_wrong")
	if _, err := run("version"); err == nil || !strings.Contains(err.Error(), "rejected the token") {
		t.Errorf("env token: %v", err)
	}
	t.Setenv(EnvToken, "")
	if err := os.Remove(tokenFile); err != nil {
		t.Fatal(err)
	}
	if _, err := run("version"); err == nil || !strings.Contains(err.Error(), "token file") {
		t.Errorf("missing token file: %v", err)
	}
}

func storeDeleteOptions() store.DeleteOptions { return store.DeleteOptions{} }
