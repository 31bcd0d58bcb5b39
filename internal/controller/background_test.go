package controller_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

// stuckReasons holds every write of a job's waiting reason (a job update
// without an admission) until release is closed.
type stuckReasons struct {
	store.Store
	release chan struct{}
	held    atomic.Int32
}

func (s *stuckReasons) Update(ctx context.Context, obj v1alpha1.Object) error {
	if j, ok := obj.(*v1alpha1.Job); ok && j.Status.Admission == nil {
		s.held.Add(1)
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.Store.Update(ctx, obj)
}

// Waiting reasons are written beside the cycles, not by them: while the
// store takes its time over a waiting job's reason, the scheduler goes on
// admitting the jobs that fit.
func TestASlowReasonWriteDoesNotHoldBackAdmissions(t *testing.T) {
	stuck := &stuckReasons{release: make(chan struct{})}
	h := newHarnessFull(t, 10*time.Millisecond, nil, func(s store.Store) store.Store { stuck.Store = s; return stuck })
	defer close(stuck.release)
	h.create("holder", 1, 0, "4")
	h.waitPhase("holder", v1alpha1.JobRunning)
	h.create("waiter", 1, 0, "4") // cannot fit: gets a waiting reason
	h.waitFor("the waiter's reason write to be under way", func() bool { return stuck.held.Load() > 0 })
	h.create("cpu-only", 1, 0, "0")
	h.waitPhase("cpu-only", v1alpha1.JobRunning)
}
