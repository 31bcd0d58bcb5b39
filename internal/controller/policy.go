package controller

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
)

// JobTokenIssuer makes the token a job's replicas use to reach the API
// ($SKIFF_JOB_TOKEN). *auth.JobTokens implements it.
type JobTokenIssuer interface {
	Issue(namespace, job, uid string) string
}

// LogFlusher stores what an exited replica's log holds that was not read
// yet (metric lines). *metrics.Collector implements it.
type LogFlusher interface {
	Flush(ctx context.Context, namespace, replica string) error
}

// grace is how long the job's replicas get between SIGTERM and SIGKILL.
func (c *JobController) grace(job *v1alpha1.Job) time.Duration {
	if g := job.Spec.RunPolicy.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return c.StopGrace
}

// backoff is the delay before restart number n+1 (n restarts so far):
// the base doubles per restart, up to the maximum.
func (c *JobController) backoff(job *v1alpha1.Job, n int32) time.Duration {
	base, limit := c.BackoffBase, c.BackoffMax
	if fp := job.Spec.FailurePolicy; fp != nil {
		if fp.BackoffSeconds != nil {
			base = time.Duration(*fp.BackoffSeconds) * time.Second
		}
		if fp.MaxBackoffSeconds != nil {
			limit = time.Duration(*fp.MaxBackoffSeconds) * time.Second
		}
	}
	if base <= 0 {
		return 0
	}
	if n > 30 {
		return limit
	}
	d := base << n
	if d > limit || d <= 0 {
		d = limit
	}
	return d
}

// succeeded reports whether the attempt's replicas meet the success
// policy: every replica exited 0, or every replica of successPolicy.group.
func succeeded(job *v1alpha1.Job) (bool, string) {
	group := ""
	if sp := job.Spec.SuccessPolicy; sp != nil {
		group = sp.Group
	}
	n := 0
	for _, rs := range job.Status.Replicas {
		if group != "" && rs.Group != group {
			continue
		}
		if rs.State != v1alpha1.ReplicaSucceeded {
			return false, ""
		}
		n++
	}
	if n == 0 {
		return false, ""
	}
	if group != "" {
		return true, fmt.Sprintf("all %d replicas of group %s exited with code 0", n, group)
	}
	return true, fmt.Sprintf("all %d replicas exited with code 0", n)
}

// permanentFailures lists the failed replicas the failure policy does not
// retry (restartPolicy ExitCode or Never).
func permanentFailures(job *v1alpha1.Job) []string {
	var out []string
	for i := range job.Status.Replicas {
		rs := &job.Status.Replicas[i]
		if isFailure(rs) && !job.Spec.Retryable(rs.ExitCode) {
			out = append(out, describeExit(rs))
		}
	}
	return out
}

// isFailure reports whether a replica failed on its own, rather than being
// stopped by the controller or by a server shutdown.
func isFailure(rs *v1alpha1.ReplicaStatus) bool {
	return rs.State == v1alpha1.ReplicaFailed && rs.Reason != "Shutdown" && rs.Reason != "Stopped"
}

// restartReplicas replaces each failed replica of the attempt by a new one
// (failurePolicy.restartScope: Replica) and leaves the others running. A
// restarted replica takes a new attempt number, so its name is new and
// the runtime starts it; it starts after its backoff. It reports false,
// having failed the job, when a replica has no restarts left.
func (c *JobController) restartReplicas(s *reconcileState) bool {
	job := s.job
	st := &job.Status
	limit := job.Spec.MaxRestarts()
	var restarted []string
	for i := range st.Replicas {
		rs := &st.Replicas[i]
		if !isFailure(rs) {
			continue
		}
		if rs.Restarts >= limit {
			c.fail(s, "BackoffLimitExceeded", fmt.Sprintf("%s; maxRestarts %d reached for this replica", describeExit(rs), limit))
			return false
		}
		restarted = append(restarted, describeExit(rs))
		st.Attempt++
		delay := c.backoff(job, rs.Restarts)
		next := v1alpha1.ReplicaStatus{
			Name: ReplicaName(job.Name, rs.Group, rs.Index, st.Attempt), Group: rs.Group, Index: rs.Index,
			Attempt: st.Attempt, State: v1alpha1.ReplicaPending, Restarts: rs.Restarts + 1,
		}
		if delay > 0 {
			t := metav1.NewTime(s.now.Add(delay))
			next.NotBefore = &t
			s.requeue(delay)
		}
		*rs = next
		st.Restarts++
	}
	if len(restarted) > 0 {
		s.event(v1alpha1.EventWarning, "Restarted", "%s; restarting only the failed replica (restartScope Replica)", strings.Join(restarted, ", "))
	}
	return true
}

// checkpointDir resolves the job's checkpoint directory, creates it and
// records it in the status; "" when the controller has no data directory.
func (c *JobController) checkpointDir(job *v1alpha1.Job) (string, error) {
	if c.DataDir == "" {
		return "", nil
	}
	dir, ferr := v1alpha1.CheckpointPath(c.DataDir, job)
	if ferr != nil {
		return "", fmt.Errorf("%s: %s", ferr.Field, ferr.Detail)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating the checkpoint directory: %w", err)
	}
	job.Status.CheckpointDir = dir
	return dir, nil
}

// removeOwnCheckpoints deletes the checkpoint directory a job got because
// it set no checkpointDir; a directory the user named is kept.
func (c *JobController) removeOwnCheckpoints(job *v1alpha1.Job) error {
	if c.DataDir == "" || job.Spec.CheckpointDir != "" {
		return nil
	}
	dir, ferr := v1alpha1.CheckpointPath(c.DataDir, job)
	if ferr != nil {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing the job's checkpoints: %w", err)
	}
	return nil
}
