package server

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/controller"
	"skiff.dev/skiff/internal/scheduler"
	"skiff.dev/skiff/internal/store"
)

// admitter is the API server's admission hook for the embedded server.
type admitter struct{ store store.Store }

// Admit rejects jobs that could never run and adds the replica finalizer to
// new jobs, so the first write already carries it.
func (a *admitter) Admit(ctx context.Context, op apiserver.Operation, obj, old v1alpha1.Object) error {
	job, ok := obj.(*v1alpha1.Job)
	if !ok || op == apiserver.Delete {
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
	if op == apiserver.Update {
		if oldJob, ok := old.(*v1alpha1.Job); ok && oldJob.Status.Admission != nil && specShapeChanged(oldJob, job) {
			return fieldError(job, field.NewPath("spec"), "replica groups and queue of an admitted job cannot change: delete the job and create it again, or suspend it first")
		}
	}
	snap, err := controller.LoadCapacity(ctx, a.store)
	if err != nil {
		return fmt.Errorf("reading queues for admission: %w", err)
	}
	if err := scheduler.CheckFeasible(job, snap); err != nil {
		return fieldError(job, nil, err.Error())
	}
	return nil
}

func specShapeChanged(old, cur *v1alpha1.Job) bool {
	if old.Spec.Queue != cur.Spec.Queue || len(old.Spec.ReplicaGroups) != len(cur.Spec.ReplicaGroups) {
		return true
	}
	for i := range old.Spec.ReplicaGroups {
		o, c := old.Spec.ReplicaGroups[i], cur.Spec.ReplicaGroups[i]
		if o.Name != c.Name || o.Replicas != c.Replicas {
			return true
		}
	}
	return false
}

func fieldError(job *v1alpha1.Job, path *field.Path, msg string) error {
	errs := field.ErrorList{{Type: field.ErrorTypeInvalid, Field: path.String(), Detail: msg}}
	if path == nil {
		errs[0].Field = ""
	}
	return apierrors.NewInvalid(mustKind("Job").GroupVersionKind().GroupKind(), job.Name, errs)
}
