package server

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/controller"
	"skiff.dev/skiff/internal/scheduler"
	"skiff.dev/skiff/internal/store"
)

// admitter is the API server's admission hook for the embedded server.
type admitter struct {
	store store.Store
	// capacity, when set, answers the common case without store reads.
	capacity *capacityCache
	// dataDir, when set, is where checkpoint directories must lie.
	dataDir string
}

// Admit rejects jobs that could never run and adds the replica finalizer to
// new jobs, so the first write already carries it.
func (a *admitter) Admit(ctx context.Context, op apiserver.Operation, obj, old v1alpha1.Object) error {
	if op == apiserver.Delete {
		return nil
	}
	if q, ok := obj.(*v1alpha1.Queue); ok {
		return a.admitQueue(ctx, q)
	}
	job, ok := obj.(*v1alpha1.Job)
	if !ok {
		return nil
	}
	if op == apiserver.Create {
		found := false
		for _, f := range job.Finalizers {
			found = found || f == controller.ReplicasFinalizer
		}
		if !found {
			job.Finalizers = append(job.Finalizers, controller.ReplicasFinalizer)
		}
	}
	if a.dataDir != "" {
		if _, ferr := v1alpha1.CheckpointPath(a.dataDir, job); ferr != nil {
			return v1alpha1.NewValidationError("Job", job.Name, field.ErrorList{ferr})
		}
	}
	if op == apiserver.Update {
		if oldJob, ok := old.(*v1alpha1.Job); ok && oldJob.Status.Admission != nil && specShapeChanged(oldJob, job) {
			return fieldError(job, "spec", "replica groups, queue, topology and placement policy of an admitted job cannot change: suspend it first (runPolicy.suspend: true), or delete and create it again")
		}
	}
	if a.capacity != nil && scheduler.CheckFeasible(job, a.capacity.snapshot()) == nil {
		return nil
	}
	// Rejections are decided on the store itself: the cache may not have
	// seen a queue created a moment ago.
	snap, err := controller.LoadCapacity(ctx, a.store)
	if err != nil {
		return fmt.Errorf("reading queues for admission: %w", err)
	}
	if err := scheduler.CheckFeasible(job, snap); err != nil {
		// CheckFeasible's messages read "field.path: what to do".
		path, detail, ok := strings.Cut(err.Error(), ": ")
		if !ok || !strings.HasPrefix(path, "spec.") {
			path, detail = "spec", err.Error()
		}
		return fieldError(job, path, detail)
	}
	return nil
}

// specShapeChanged reports a change to what an admission was computed
// from: quota use and placements would no longer match the running replicas.
func specShapeChanged(old, cur *v1alpha1.Job) bool {
	return old.Spec.Queue != cur.Spec.Queue ||
		old.Spec.PlacementPolicy != cur.Spec.PlacementPolicy ||
		!equality.Semantic.DeepEqual(old.Spec.Topology, cur.Spec.Topology) ||
		!equality.Semantic.DeepEqual(old.Spec.ReplicaGroups, cur.Spec.ReplicaGroups)
}

func fieldError(job *v1alpha1.Job, path, detail string) error {
	return v1alpha1.NewValidationError("Job", job.Name, field.ErrorList{{Type: field.ErrorTypeInvalid, Field: path, Detail: detail}})
}

// admitQueue rejects quota in flavors that do not exist: such a queue could
// never admit anything in them.
func (a *admitter) admitQueue(ctx context.Context, q *v1alpha1.Queue) error {
	var flavors v1alpha1.FlavorList
	if err := a.store.List(ctx, &flavors, store.ListOptions{}); err != nil {
		return fmt.Errorf("reading flavors for admission: %w", err)
	}
	known := map[string]bool{}
	for _, f := range flavors.Items {
		known[f.Name] = true
	}
	var errs field.ErrorList
	for i, fq := range q.Spec.Flavors {
		if !known[fq.Name] {
			errs = append(errs, &field.Error{Type: field.ErrorTypeInvalid, Field: field.NewPath("spec", "flavors").Index(i).Child("name").String(),
				Detail: fmt.Sprintf("flavor %q does not exist: create it first (kind: Flavor) or use an existing one (skiff get flavors)", fq.Name)})
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return v1alpha1.NewValidationError("Queue", q.Name, errs)
}
