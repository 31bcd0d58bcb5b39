package controller_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/controller"
	"skiff.dev/skiff/internal/store"
)

// createSpec creates a job of groups (name: replicas) after edit adjusts it.
func (h *harness) createSpec(name string, groups map[string]int32, order []string, edit func(*v1alpha1.JobSpec)) {
	h.t.Helper()
	job := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	for _, g := range order {
		job.Spec.ReplicaGroups = append(job.Spec.ReplicaGroups, v1alpha1.ReplicaGroup{Name: g, Replicas: groups[g],
			Template: v1alpha1.ReplicaTemplate{Command: []string{"train"}}})
	}
	if edit != nil {
		edit(&job.Spec)
	}
	v1alpha1.Default(job)
	if err := v1alpha1.Validate(job); err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.Create(h.ctx, job); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) env(name string) string {
	h.rt.mu.Lock()
	defer h.rt.mu.Unlock()
	return strings.Join(h.rt.specs["default/"+name].Env, " ")
}

func i32(v int32) *int32 { return &v }

func TestSuccessPolicyGroupEndsTheJobAndStopsTheRest(t *testing.T) {
	h := newHarness(t)
	h.createSpec("mpi", map[string]int32{"launcher": 1, "worker": 2}, []string{"launcher", "worker"}, func(s *v1alpha1.JobSpec) {
		s.SuccessPolicy = &v1alpha1.SuccessPolicy{Group: "launcher"}
	})
	h.waitPhase("mpi", v1alpha1.JobRunning)
	h.rt.exit("default", "mpi-launcher-0-0", 0, "")
	j := h.waitPhase("mpi", v1alpha1.JobSucceeded)
	if !strings.Contains(conditionText(j), "all 1 replicas of group launcher exited with code 0") {
		t.Errorf("conditions: %s", conditionText(j))
	}
	h.waitFor("workers stopped", func() bool {
		a, _ := h.rt.Status(h.ctx, "default", "mpi-worker-0-0")
		b, _ := h.rt.Status(h.ctx, "default", "mpi-worker-1-0")
		return a.Reason == "Stopped" && b.Reason == "Stopped"
	})
}

func TestReplicaScopeRestartsOnlyTheFailedReplica(t *testing.T) {
	h := newHarness(t)
	h.createSpec("ps", map[string]int32{"worker": 2}, []string{"worker"}, func(s *v1alpha1.JobSpec) {
		s.FailurePolicy = &v1alpha1.FailurePolicy{RestartScope: v1alpha1.RestartReplica, MaxRestarts: i32(1)}
	})
	h.waitPhase("ps", v1alpha1.JobRunning)
	h.rt.exit("default", "ps-worker-1-0", 3, "")
	h.waitFor("worker-1 restarted alone", func() bool { return h.rt.startCount("default", "ps-worker-1-1") == 1 })
	if st, _ := h.rt.Status(h.ctx, "default", "ps-worker-0-0"); st.State != "Running" {
		t.Errorf("the healthy replica was disturbed: %+v", st)
	}
	if env := h.env("ps-worker-1-1"); !strings.Contains(env, "SKIFF_ATTEMPT=1") || !strings.Contains(env, "SKIFF_REPLICA_INDEX=1") {
		t.Errorf("restarted replica env: %s", env)
	}
	h.waitFor("restart recorded", func() bool {
		j := h.job("ps")
		return j.Status.Restarts == 1 && len(j.Status.Replicas) == 2 && j.Status.Replicas[1].Restarts == 1 && j.Status.Replicas[1].State == v1alpha1.ReplicaRunning
	})
	// The same replica failing again is past its maxRestarts.
	h.rt.exit("default", "ps-worker-1-1", 3, "")
	j := h.waitPhase("ps", v1alpha1.JobFailed)
	if !strings.Contains(conditionText(j), "maxRestarts 1 reached") {
		t.Errorf("conditions: %s", conditionText(j))
	}
	h.waitFor("the other replica stopped", func() bool {
		st, _ := h.rt.Status(h.ctx, "default", "ps-worker-0-0")
		return st.Reason == "Stopped"
	})
	// Both finish: the job with replicas of different attempts succeeds.
	h.createSpec("ok", map[string]int32{"worker": 2}, []string{"worker"}, func(s *v1alpha1.JobSpec) {
		s.FailurePolicy = &v1alpha1.FailurePolicy{RestartScope: v1alpha1.RestartReplica}
	})
	h.waitPhase("ok", v1alpha1.JobRunning)
	h.rt.exit("default", "ok-worker-0-0", 1, "")
	h.waitFor("ok-worker-0 restarted", func() bool { return h.rt.startCount("default", "ok-worker-0-1") == 1 })
	h.waitFor("restart recorded", func() bool {
		return h.job("ok").Status.Replicas[0].State == v1alpha1.ReplicaRunning
	})
	h.rt.exit("default", "ok-worker-0-1", 0, "")
	h.rt.exit("default", "ok-worker-1-0", 0, "")
	h.waitPhase("ok", v1alpha1.JobSucceeded)
}

func TestExitCodePolicy(t *testing.T) {
	h := newHarness(t)
	h.createSpec("codes", map[string]int32{"worker": 2}, []string{"worker"}, func(s *v1alpha1.JobSpec) {
		s.FailurePolicy = &v1alpha1.FailurePolicy{RestartPolicy: v1alpha1.RestartOnExitCode, MaxRestarts: i32(5)}
	})
	h.waitPhase("codes", v1alpha1.JobRunning)
	// 137 (SIGKILL, e.g. the OOM killer) is retried...
	h.rt.exit("default", "codes-worker-0-0", 137, "")
	h.waitFor("attempt 1", func() bool { return h.rt.startCount("default", "codes-worker-0-1") == 1 })
	h.waitPhase("codes", v1alpha1.JobRunning)
	// ...while 1 is the program's own verdict: the job fails at once.
	h.rt.exit("default", "codes-worker-1-1", 1, "")
	j := h.waitPhase("codes", v1alpha1.JobFailed)
	if j.Status.Restarts != 1 || !strings.Contains(conditionText(j), "PermanentFailure") && !strings.Contains(conditionText(j), "not retried") {
		t.Errorf("restarts %d, conditions: %s", j.Status.Restarts, conditionText(j))
	}
	h.waitFor("the peer stopped", func() bool {
		st, _ := h.rt.Status(h.ctx, "default", "codes-worker-0-1")
		return st.Reason == "Stopped"
	})

	h.createSpec("never", map[string]int32{"worker": 1}, []string{"worker"}, func(s *v1alpha1.JobSpec) {
		s.FailurePolicy = &v1alpha1.FailurePolicy{RestartPolicy: v1alpha1.RestartNever}
	})
	h.waitPhase("never", v1alpha1.JobRunning)
	h.rt.exit("default", "never-worker-0-0", 143, "")
	if j := h.waitPhase("never", v1alpha1.JobFailed); j.Status.Restarts != 0 {
		t.Errorf("restarts under Never = %d", j.Status.Restarts)
	}
}

func TestBackoffFromTheFailurePolicy(t *testing.T) {
	h := newHarnessWith(t, time.Millisecond)
	h.createSpec("slow", map[string]int32{"worker": 1}, []string{"worker"}, func(s *v1alpha1.JobSpec) {
		s.FailurePolicy = &v1alpha1.FailurePolicy{BackoffSeconds: i32(60), MaxRestarts: i32(3)}
	})
	h.waitPhase("slow", v1alpha1.JobRunning)
	before := time.Now()
	h.rt.exit("default", "slow-worker-0-0", 1, "")
	h.waitFor("restart scheduled", func() bool { return h.job("slow").Status.NextAttemptTime != nil })
	after := time.Now()
	next := h.job("slow").Status.NextAttemptTime.Time
	// Stored with second precision, and set between before and after.
	if next.Before(before.Add(59*time.Second)) || next.After(after.Add(60*time.Second)) {
		t.Errorf("next attempt at %v, want 60s (failurePolicy.backoffSeconds) after the failure at %v..%v", next, before, after)
	}
	if h.rt.startCount("default", "slow-worker-0-1") != 0 {
		t.Error("the next attempt started before its backoff")
	}
}

type fakeIssuer struct{}

func (fakeIssuer) Issue(ns, job, uid string) string { return "skj_" + ns + "." + job + "." + uid }

type recordingMetrics struct{ deleted, flushed chan string }

func (m recordingMetrics) Flush(_ context.Context, ns, replica string) error {
	m.flushed <- ns + "/" + replica
	return nil
}

func (m recordingMetrics) DeleteJob(_ context.Context, ns, job string) error {
	m.deleted <- ns + "/" + job
	return nil
}

func TestReplicaEnvCheckpointDirAndGrace(t *testing.T) {
	data := t.TempDir()
	metrics := recordingMetrics{deleted: make(chan string, 4), flushed: make(chan string, 64)}
	h := newHarnessConfigured(t, 10*time.Millisecond, func(c *controller.JobController) {
		c.DataDir, c.APIURL, c.Tokens, c.Metrics, c.Logs = data, "http://127.0.0.1:7400", fakeIssuer{}, metrics, metrics
	})
	h.createSpec("ckpt", map[string]int32{"worker": 1}, []string{"worker"}, func(s *v1alpha1.JobSpec) {
		grace := int64(42)
		s.RunPolicy.TerminationGracePeriodSeconds = &grace
	})
	h.waitPhase("ckpt", v1alpha1.JobRunning)
	j := h.job("ckpt")
	dir := filepath.Join(data, "checkpoints", "default", "_jobs", "ckpt")
	env := h.env("ckpt-worker-0-0")
	for _, want := range []string{"SKIFF_CHECKPOINT_DIR=" + dir, "SKIFF_API=http://127.0.0.1:7400", "SKIFF_JOB_TOKEN=skj_default.ckpt." + string(j.UID)} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s: %s", want, env)
		}
	}
	if j.Status.CheckpointDir != dir {
		t.Errorf("status.checkpointDir = %q, want %q", j.Status.CheckpointDir, dir)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.ckpt"), []byte("w"), 0o600); err != nil {
		t.Fatalf("the checkpoint directory is not there: %v", err)
	}
	// A gang restart keeps the directory and its checkpoint.
	h.rt.exit("default", "ckpt-worker-0-0", 1, "")
	h.waitFor("attempt 1", func() bool { return h.rt.startCount("default", "ckpt-worker-0-1") == 1 })
	select {
	case got := <-metrics.flushed:
		if got != "default/ckpt-worker-0-0" {
			t.Errorf("flushed %s, want the exited replica", got)
		}
	default:
		t.Error("the exited replica's log was not flushed before its exit was recorded")
	}
	if env := h.env("ckpt-worker-0-1"); !strings.Contains(env, "SKIFF_CHECKPOINT_DIR="+dir) {
		t.Errorf("attempt 1 env: %s", env)
	}
	if _, err := os.Stat(filepath.Join(dir, "model.ckpt")); err != nil {
		t.Errorf("checkpoint lost across a restart: %v", err)
	}
	// Suspend stops with the job's own grace period.
	h.waitPhase("ckpt", v1alpha1.JobRunning)
	h.update("ckpt", func(j *v1alpha1.Job) { s := true; j.Spec.RunPolicy.Suspend = &s })
	h.waitPhase("ckpt", v1alpha1.JobSuspended)
	h.rt.mu.Lock()
	grace := h.rt.graces["default/ckpt-worker-0-1"]
	h.rt.mu.Unlock()
	if grace != 42*time.Second {
		t.Errorf("stopped with grace %v, want 42s", grace)
	}
	// Deleting the job removes its own checkpoints and metrics.
	k, _ := v1alpha1.LookupKind("Job")
	if err := h.store.Delete(h.ctx, k, "default", "ckpt", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-metrics.deleted:
		if got != "default/ckpt" {
			t.Errorf("deleted the metrics of %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the job's metrics were not deleted")
	}
	h.waitFor("checkpoints removed", func() bool { _, err := os.Stat(dir); return os.IsNotExist(err) })
}
