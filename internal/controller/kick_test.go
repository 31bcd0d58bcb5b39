package controller_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/controller"
	"skiff.dev/skiff/internal/store"
	"skiff.dev/skiff/internal/watchcache"
)

// TestNewJobIsAdmittedWithoutWaitingForATick: with the periodic cycle an
// hour away, each new job is admitted by the cycle its own creation wakes,
// on an otherwise idle server (no other change to wake another cycle).
func TestNewJobIsAdmittedWithoutWaitingForATick(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	clk := clock.RealClock{}
	st := store.NewMemory(clk.Now)
	seedCapacity(t, ctx, st)
	// As in the server: controllers share one informer per kind, so a
	// job's events reach several handlers.
	informers := watchcache.NewShared(ctx, st)
	rec := &controller.Recorder{Store: st, Clock: clk, Source: "test"}
	loop := &controller.SchedulingLoop{Store: st, Clock: clk, Recorder: rec, Interval: time.Hour, Informers: informers}
	jobs := &controller.JobController{Store: st, Runtime: newFakeRuntime(), Clock: clk, Recorder: rec, Informers: informers}
	go func() { _ = jobs.Run(ctx) }()
	go func() { _ = loop.Run(ctx) }()
	// Let the loop start and run out of work: nothing is pending.
	time.Sleep(300 * time.Millisecond)

	for i := range 5 {
		name := fmt.Sprintf("j%d", i)
		job := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: v1alpha1.JobSpec{
			ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: 1, Template: v1alpha1.ReplicaTemplate{
				Command: []string{"train"}, Resources: v1alpha1.Resources{CPU: resource.NewMilliQuantity(100, resource.DecimalSI)}}}}}}
		// As the API creates it: with the replicas finalizer.
		job.Finalizers = []string{controller.ReplicasFinalizer}
		v1alpha1.Default(job)
		if err := st.Create(ctx, job); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := &v1alpha1.Job{}
			if err := st.Get(ctx, "default", name, got); err != nil {
				t.Fatal(err)
			}
			if got.Status.Admission != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %s not admitted 5 s after its creation (phase %q): its creation did not wake a cycle that saw it", name, got.Status.Phase)
			}
			time.Sleep(5 * time.Millisecond)
		}
		// The queue's status write that follows the admission wakes one
		// more cycle; let it pass, so the next job's creation is the only
		// change left to wake one.
		time.Sleep(200 * time.Millisecond)
	}
}
