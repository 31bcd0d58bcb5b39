package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/apiserver"
)

func (e *env) createJob(name string) *v1alpha1.Job {
	e.t.Helper()
	j := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: v1alpha1.JobSpec{ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: 1, Template: v1alpha1.ReplicaTemplate{Command: []string{"true"}}}}}}
	v1alpha1.Default(j)
	if err := e.store.Create(e.t.Context(), j); err != nil {
		e.t.Fatal(err)
	}
	return j
}

// finishJob plays the controller: it sets the job's terminal status after
// delay.
func (e *env) finishJob(name string, phase v1alpha1.JobPhase, msg string, delay time.Duration) {
	time.Sleep(delay)
	ctx := context.Background()
	var j v1alpha1.Job
	if err := e.store.Get(ctx, "default", name, &j); err != nil {
		e.t.Error(err)
		return
	}
	j.Status.Phase = phase
	j.Status.Conditions = append(j.Status.Conditions, metav1.Condition{Type: string(phase), Status: metav1.ConditionTrue, Reason: string(phase), Message: msg, LastTransitionTime: metav1.NewTime(epoch)})
	if err := e.store.Update(ctx, &j); err != nil {
		e.t.Error(err)
	}
}

func TestWait(t *testing.T) {
	e := newEnv(t, nil)
	e.createJob("ok")
	go e.finishJob("ok", v1alpha1.JobSucceeded, "", 100*time.Millisecond)
	if got := e.mustRun("wait", "job/ok", "--for=condition=Succeeded", "--timeout=10s"); got != "job.skiff.dev/ok condition met\n" {
		t.Errorf("wait = %q", got)
	}
	// Already true: returns at once.
	e.mustRun("wait", "jobs", "ok", "--for", "condition=Succeeded")

	e.createJob("bad")
	go e.finishJob("bad", v1alpha1.JobFailed, "replica worker-0 exited with code 3\nafter 3 restarts", 100*time.Millisecond)
	err := e.mustFail("wait", "job/bad", "--for=condition=Succeeded", "--timeout=10s")
	for _, want := range []string{"job/bad will not become Succeeded", "exited with code 3 after 3 restarts", "skiff logs job/bad"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("failed wait: %q lacks %q", err, want)
		}
	}
	// Waiting for Failed itself succeeds.
	e.mustRun("wait", "job/bad", "--for=condition=Failed", "--timeout=10s")

	e.createJob("slow")
	start := time.Now()
	err = e.mustFail("wait", "job/slow", "--for=condition=Succeeded", "--timeout=300ms")
	if !strings.Contains(err.Error(), "timed out after 300ms waiting for condition Succeeded=True on job/slow") {
		t.Errorf("timeout: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout took %v", d)
	}

	go func() {
		time.Sleep(100 * time.Millisecond)
		k, _ := v1alpha1.LookupKind("jobs")
		if err := e.store.Delete(context.Background(), k, "default", "slow", storeDeleteOptions()); err != nil {
			t.Error(err)
		}
	}()
	if got := e.mustRun("wait", "job/slow", "--for=delete", "--timeout=10s"); got != "job.skiff.dev/slow deleted\n" {
		t.Errorf("wait delete = %q", got)
	}
	e.mustRun("wait", "job/slow", "--for=delete")
	if err := e.mustFail("wait", "job/slow", "--for=condition=Succeeded"); !strings.Contains(err.Error(), "not found") {
		t.Errorf("wait on missing job: %v", err)
	}
	if err := e.mustFail("wait", "job/ok", "--for=ready"); !strings.Contains(err.Error(), "--for=condition=NAME") {
		t.Errorf("bad --for: %v", err)
	}
	start = time.Now()
	if err := e.mustFail("wait", "job/ok", "--for=condition=Bogus", "--timeout=30s"); !strings.Contains(err.Error(), "use one of Admitted, Running, Succeeded, Failed") {
		t.Errorf("unknown job condition: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("an unknown condition waited %v instead of failing at once", d)
	}
}

func TestGetWatch(t *testing.T) {
	e := newEnv(t, nil)
	e.createJob("a")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		_, err := e.runCtx(ctx, out, "get", "jobs", "-w")
		done <- err
	}()
	waitOutput(t, out, "a      default   Pending   0          5m\n")
	go e.finishJob("a", v1alpha1.JobSucceeded, "", 0)
	waitOutput(t, out, "Succeeded")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("get -w ended with %v", err)
	}
	if strings.Count(out.String(), "NAME") != 1 {
		t.Errorf("header printed more than once:\n%s", out)
	}
}

func waitOutput(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never showed %q:\n%s", want, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pipeLogs serves one followed log fed by the test.
type pipeLogs struct {
	r    *io.PipeReader
	opts chan string
}

func (p *pipeLogs) OpenLog(_ context.Context, ns, job, replica string, o apiserver.LogOptions) (io.ReadCloser, error) {
	if job != "train" {
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: "skiff.dev", Resource: "jobs"}, job)
	}
	a := "current"
	if o.Attempt != nil {
		a = fmt.Sprint(*o.Attempt)
	}
	p.opts <- fmt.Sprintf("%s/%s %s follow=%v attempt=%s", ns, job, replica, o.Follow, a)
	return p.r, nil
}

func TestLogs(t *testing.T) {
	pr, pw := io.Pipe()
	logs := &pipeLogs{r: pr, opts: make(chan string, 1)}
	e := newEnv(t, logs)
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		_, err := e.runCtx(t.Context(), out, "logs", "-f", "job/train", "--replica", "worker-1", "--attempt", "0", "-n", "ml")
		done <- err
	}()
	if got := <-logs.opts; got != "ml/train worker-1 follow=true attempt=0" {
		t.Errorf("OpenLog got %q", got)
	}
	io.WriteString(pw, "step 1\n")
	waitOutput(t, out, "step 1\n")
	io.WriteString(pw, "step 2\n")
	waitOutput(t, out, "step 2\n")
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("logs: %v", err)
	}
	if err := e.mustFail("logs", "missing"); err.Error() != `jobs.skiff.dev "missing" not found` {
		t.Errorf("missing job: %v", err)
	}
	if err := e.mustFail("logs", "queue/x"); !strings.Contains(err.Error(), "logs are kept for jobs") {
		t.Errorf("queue logs: %v", err)
	}
}

// TestGetAllBig streams `get jobs -A` over 100,000 jobs, server and CLI
// together, and checks every row arrives. Its speed is measured by
// bench/apibench (README, Performance), not asserted here: a shared
// machine makes timed tests flaky.
func TestGetAllBig(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("creates 100,000 objects; skipped with -short and -race")
	}
	e := newEnv(t, nil)
	ctx := t.Context()
	const n = 100_000
	for i := range n {
		j := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("job-%06d", i), Namespace: fmt.Sprintf("team-%d", i%20), Labels: map[string]string{"app": "bench"}},
			Spec: v1alpha1.JobSpec{Queue: "default", ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: 4,
				Template: v1alpha1.ReplicaTemplate{Command: []string{"python3", "train.py", "--epochs", "10"}, Env: []v1alpha1.EnvVar{{Name: "LR", Value: "0.001"}}}}}},
			Status: v1alpha1.JobStatus{Phase: v1alpha1.JobRunning}}
		if err := e.store.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	var out countingWriter
	if _, err := e.runCtx(ctx, &out, "get", "jobs", "-A"); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	t.Logf("get jobs -A: %d lines in %v", out.lines, elapsed)
	if out.lines != n+1 {
		t.Errorf("printed %d lines, want %d", out.lines, n+1)
	}
}

type countingWriter struct{ lines int }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.lines += strings.Count(string(p), "\n")
	return len(p), nil
}
