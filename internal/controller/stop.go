package controller

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/runtime"
	"skiff.dev/skiff/internal/scheduler"
)

// This file stops jobs: preemption, suspend, the end of an attempt and
// deletion.

// evict carries out a preemption the scheduler recorded: the current
// attempt stops (SIGTERM, then SIGKILL after the grace period), the
// admission is released and the job is requeued, not failed.
func (c *JobController) evict(ctx context.Context, s *reconcileState) error {
	job := s.job
	st := &job.Status
	// An attempt that ended on its own before the notice landed is not
	// undone: a job whose replicas all succeeded (a stopped replica never
	// counts as succeeded) succeeds, and the room it held is free for the
	// preemptor all the same.
	for i := range st.Replicas {
		if _, err := c.observe(ctx, s, &st.Replicas[i]); err != nil {
			return err
		}
	}
	if ok, msg := succeeded(job); ok {
		st.Preemption = nil
		c.succeed(s, msg)
		return nil
	}
	if done, err := c.endAttempt(ctx, s); !done || err != nil {
		return err
	}
	p := st.Preemption
	st.Preemption = nil
	st.Phase = v1alpha1.JobPending
	if p.Reason == v1alpha1.PreemptionResize {
		setCondition(job, v1alpha1.JobConditionRunning, false, "Resizing", p.Message, s.now)
		setCondition(job, v1alpha1.JobConditionAdmitted, false, "Resizing", p.Message+"; waiting to be admitted at the larger size", s.now)
		s.event(v1alpha1.EventNormal, "Resized", "%s", p.Message)
		return nil
	}
	st.Preemptions++
	msg := fmt.Sprintf("preempted (%s) for %s", p.Reason, p.By)
	if p.Message != "" {
		msg += ": " + p.Message
	}
	setCondition(job, v1alpha1.JobConditionRunning, false, "Preempted", msg, s.now)
	setCondition(job, v1alpha1.JobConditionAdmitted, false, "Preempted", msg+"; requeued", s.now)
	s.event(v1alpha1.EventWarning, "Preempted", "%s; requeued", msg)
	return nil
}

// endAttempt stops the current attempt's replicas and, once none runs,
// releases the admission and moves to a new attempt number so that the
// next admission starts fresh replica names. It reports whether the
// attempt has ended; until then the job is requeued.
func (c *JobController) endAttempt(ctx context.Context, s *reconcileState) (bool, error) {
	st := &s.job.Status
	if mayHaveStarted(s) {
		// A pass may have started the replicas and lost the status write
		// that listed them (a conflict with the scheduler's preemption
		// notice, say): the names are derived from the admission, so ask
		// the runtime about every one of them.
		st.Replicas = derivedReplicas(s.job)
	}
	running := false
	for i := range st.Replicas {
		if _, err := c.observe(ctx, s, &st.Replicas[i]); err != nil {
			return false, err
		}
		if st.Replicas[i].State == v1alpha1.ReplicaRunning {
			running = true
		}
	}
	if running {
		s.requeue(200 * time.Millisecond)
		return false, c.stopReplicas(ctx, s.job, st.Replicas)
	}
	if len(st.Replicas) > 0 {
		st.Attempt++
	}
	// What this admission received stays with the job: a queue with
	// leastAttainedService orders it by its service across admissions.
	st.AttainedGPUSeconds += int64(math.Round(scheduler.HeldGPUSeconds(s.job, s.now)))
	st.Replicas = nil
	st.Admission = nil
	st.NextAttemptTime = nil
	st.CoordinatorPort = 0
	return true, nil
}

// mayHaveStarted reports whether the current attempt's replicas may run
// although the stored status lists none: the attempt is admitted and its
// backoff, if any, is over, so some pass may have started them and lost
// the status write that recorded it.
func mayHaveStarted(s *reconcileState) bool {
	st := &s.job.Status
	if st.Admission == nil || len(st.Replicas) > 0 {
		return false
	}
	return st.NextAttemptTime == nil || !s.now.Before(st.NextAttemptTime.Time)
}

// derivedReplicas lists the replicas the current attempt's admission
// implies, all Pending until observed.
func derivedReplicas(job *v1alpha1.Job) []v1alpha1.ReplicaStatus {
	st := &job.Status
	out := make([]v1alpha1.ReplicaStatus, 0, len(st.Admission.Placements))
	for _, p := range st.Admission.Placements {
		out = append(out, v1alpha1.ReplicaStatus{
			Name: ReplicaName(job.Name, p.Group, p.Index, st.Attempt), Group: p.Group, Index: p.Index,
			Attempt: st.Attempt, State: v1alpha1.ReplicaPending,
		})
	}
	return out
}

// suspend stops the current attempt and releases the admission.
func (c *JobController) suspend(ctx context.Context, s *reconcileState) error {
	job := s.job
	st := &job.Status
	if st.Phase == v1alpha1.JobSuspended {
		return nil
	}
	if done, err := c.endAttempt(ctx, s); !done || err != nil {
		return err
	}
	st.Phase = v1alpha1.JobSuspended
	setCondition(job, v1alpha1.JobConditionRunning, false, "Suspended", "runPolicy.suspend is true", s.now)
	setCondition(job, v1alpha1.JobConditionAdmitted, false, "Suspended", "runPolicy.suspend is true; set it to false to resume", s.now)
	s.event(v1alpha1.EventNormal, "Suspended", "job suspended; its resources are released")
	return nil
}

func (c *JobController) stopReplicas(ctx context.Context, job *v1alpha1.Job, replicas []v1alpha1.ReplicaStatus) error {
	for _, rs := range replicas {
		if rs.State == v1alpha1.ReplicaRunning || rs.State == v1alpha1.ReplicaPending {
			if err := c.Runtime.Stop(ctx, job.Namespace, rs.Name, c.grace(job)); err != nil {
				return fmt.Errorf("stopping replica %s: %w", rs.Name, err)
			}
		}
	}
	return nil
}

// finalize stops and removes every replica the job ever had, then lets the
// store delete the job.
func (c *JobController) finalize(ctx context.Context, job *v1alpha1.Job) (time.Duration, error) {
	if !hasString(job.Finalizers, ReplicasFinalizer) {
		return 0, nil
	}
	waiting := false
	for attempt := int32(0); attempt <= job.Status.Attempt; attempt++ {
		for _, g := range job.Spec.ReplicaGroups {
			for i := int32(0); i < g.Replicas; i++ {
				name := ReplicaName(job.Name, g.Name, i, attempt)
				st, err := c.Runtime.Status(ctx, job.Namespace, name)
				if errors.Is(err, runtime.ErrNotFound) {
					continue
				}
				if err != nil {
					return 0, err
				}
				if st.State == runtime.Running {
					waiting = true
					if err := c.Runtime.Stop(ctx, job.Namespace, name, c.grace(job)); err != nil {
						return 0, err
					}
					continue
				}
				if err := c.Runtime.Remove(ctx, job.Namespace, name); err != nil && !errors.Is(err, runtime.ErrNotFound) {
					return 0, err
				}
			}
		}
	}
	if waiting {
		return 200 * time.Millisecond, nil
	}
	if c.Recorder != nil && c.Recorder.unwrittenAbout(string(job.UID)) {
		// Events about it (this controller's or the scheduler's) are still
		// being written; once they are stored, the cascade takes them with
		// the job.
		return 10 * time.Millisecond, nil
	}
	if c.WorkDir != "" {
		if err := os.RemoveAll(c.jobDir(job)); err != nil {
			return 0, fmt.Errorf("removing the job's files: %w", err)
		}
	}
	if err := c.removeOwnCheckpoints(job); err != nil {
		return 0, err
	}
	if c.Metrics != nil {
		if err := c.Metrics.DeleteJob(ctx, job.Namespace, job.Name); err != nil {
			return 0, fmt.Errorf("forgetting the job's metrics: %w", err)
		}
	}
	job.Finalizers = removeString(job.Finalizers, ReplicasFinalizer)
	return 0, c.Store.Update(ctx, job)
}
