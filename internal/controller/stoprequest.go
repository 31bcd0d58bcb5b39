package controller

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
)

// stopRequested carries out a stop that the job's owner asked for with
// v1alpha1.AnnotationStopReason: the replicas are stopped and, once none
// runs, the job ends as Failed with the owner's reason. Unlike a
// preemption it is not requeued.
func (c *JobController) stopRequested(ctx context.Context, s *reconcileState, reason, msg string) error {
	job := s.job
	st := &job.Status
	if mayHaveStarted(s) {
		// As in endAttempt: a pass may have started replicas and lost the
		// status write that listed them.
		st.Replicas = derivedReplicas(job)
	}
	running := false
	for i := range st.Replicas {
		if _, err := c.observe(ctx, s, &st.Replicas[i]); err != nil {
			return err
		}
		if st.Replicas[i].State == v1alpha1.ReplicaRunning {
			running = true
		}
	}
	if running {
		s.requeue(200 * time.Millisecond)
		return c.stopReplicas(ctx, job, st.Replicas)
	}
	settleUnstarted(st.Replicas)
	if msg == "" {
		msg = "stopped at the request of its owner"
	}
	st.Phase = v1alpha1.JobFailed
	now := metav1.NewTime(s.now)
	st.CompletionTime = &now
	st.NextAttemptTime = nil
	setCondition(job, v1alpha1.JobConditionRunning, false, reason, msg, s.now)
	setCondition(job, v1alpha1.JobConditionFailed, true, reason, msg, s.now)
	s.event(v1alpha1.EventNormal, "Stopped", "%s: %s", reason, msg)
	if ttl := job.Spec.RunPolicy.TTLSecondsAfterFinished; ttl != nil {
		s.requeue(time.Duration(*ttl) * time.Second)
	}
	return nil
}
