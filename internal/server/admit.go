package server

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/controller"
	"skiff.dev/skiff/internal/scheduler"
	"skiff.dev/skiff/internal/serving"
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
		if f, ok := old.(*v1alpha1.Flavor); ok {
			return a.admitFlavorDelete(ctx, f)
		}
		return nil
	}
	switch o := obj.(type) {
	case *v1alpha1.Queue:
		return a.admitQueue(ctx, o)
	case *v1alpha1.InferenceService:
		prev, _ := old.(*v1alpha1.InferenceService)
		return a.admitInferenceService(ctx, o, prev)
	case *v1alpha1.Experiment:
		return a.admitExperiment(ctx, o)
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
	path, detail, err := a.infeasible(ctx, job)
	if err != nil || path == "" {
		return err
	}
	return fieldError(job, path, detail)
}

// infeasible says why no state of the cluster could ever run job: the
// field path of the job to change (empty when it could run) and what to do.
func (a *admitter) infeasible(ctx context.Context, job *v1alpha1.Job) (path, detail string, err error) {
	if a.capacity != nil && scheduler.CheckFeasible(job, a.capacity.snapshot()) == nil {
		return "", "", nil
	}
	// Rejections are decided on the store itself: the cache may not have
	// seen a queue created a moment ago.
	snap, err := controller.LoadCapacity(ctx, a.store)
	if err != nil {
		return "", "", fmt.Errorf("reading queues for admission: %w", err)
	}
	ferr := scheduler.CheckFeasible(job, snap)
	if ferr == nil {
		return "", "", nil
	}
	// CheckFeasible's messages read "field.path: what to do".
	path, detail, ok := strings.Cut(ferr.Error(), ": ")
	if !ok || !strings.HasPrefix(path, "spec.") {
		path, detail = "spec", ferr.Error()
	}
	return path, detail, nil
}

// admitInferenceService rejects a service whose replicas could never run
// (the check a job gets, on the job each replica would be) and a model
// name another service of the namespace already serves. On an update
// (old set) only model names the update adds are checked, so services
// that already share one can still be changed.
func (a *admitter) admitInferenceService(ctx context.Context, svc, old *v1alpha1.InferenceService) error {
	var errs field.ErrorList
	var others v1alpha1.InferenceServiceList
	if err := a.store.List(ctx, &others, store.ListOptions{Namespace: svc.Namespace}); err != nil {
		return fmt.Errorf("reading inference services for admission: %w", err)
	}
	servedBy := map[string]string{}
	for _, o := range others.Items {
		if o.Name != svc.Name {
			for _, m := range o.Spec.Models {
				servedBy[m] = o.Name
			}
		}
	}
	for i, m := range svc.Spec.Models {
		if old != nil && slices.Contains(old.Spec.Models, m) {
			continue
		}
		if other, ok := servedBy[m]; ok {
			errs = append(errs, &field.Error{Type: field.ErrorTypeInvalid, Field: field.NewPath("spec", "models").Index(i).String(),
				Detail: fmt.Sprintf("model %q is already served by inference service %q in namespace %q: use another model name, or change %s's template (a canary rollout) instead of adding a service", m, other, svc.Namespace, other)})
		}
	}
	replica := &v1alpha1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name},
		Spec: v1alpha1.JobSpec{Queue: svc.Spec.Queue,
			ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: serving.ServerGroup, Replicas: 1, Template: *svc.Spec.Template.DeepCopy()}}},
	}
	v1alpha1.Default(replica)
	path, detail, err := a.infeasible(ctx, replica)
	if err != nil {
		return err
	}
	switch {
	case path == "":
	case path == "spec.queue":
		errs = append(errs, &field.Error{Type: field.ErrorTypeInvalid, Field: path, Detail: detail})
	default: // the replica's resources, alone or in total
		errs = append(errs, &field.Error{Type: field.ErrorTypeInvalid, Field: "spec.template.resources",
			Detail: "each replica runs as a job of one replica of this template, and that job could never run: " + detail})
	}
	if len(errs) == 0 {
		return nil
	}
	return v1alpha1.NewValidationError("InferenceService", svc.Name, errs)
}

// admitExperiment rejects an experiment whose trial jobs could never run.
func (a *admitter) admitExperiment(ctx context.Context, exp *v1alpha1.Experiment) error {
	trial := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: exp.Namespace, Name: exp.Name},
		Spec: *exp.Spec.TrialTemplate.DeepCopy()}
	v1alpha1.Default(trial)
	path, detail, err := a.infeasible(ctx, trial)
	if err != nil || path == "" {
		return err
	}
	return v1alpha1.NewValidationError("Experiment", exp.Name, field.ErrorList{{Type: field.ErrorTypeInvalid,
		Field: "spec.trialTemplate" + strings.TrimPrefix(path, "spec"), Detail: detail}})
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

// admitFlavorDelete refuses to delete a flavor a queue still gives quota
// in: the queue could no longer admit anything there, and its running
// jobs' quota would be in a flavor that does not exist.
func (a *admitter) admitFlavorDelete(ctx context.Context, f *v1alpha1.Flavor) error {
	var queues v1alpha1.QueueList
	if err := a.store.List(ctx, &queues, store.ListOptions{}); err != nil {
		return fmt.Errorf("reading queues for admission: %w", err)
	}
	var users []string
	for _, q := range queues.Items {
		for _, fq := range q.Spec.Flavors {
			if fq.Name == f.Name {
				users = append(users, q.Name)
				break
			}
		}
	}
	if len(users) == 0 {
		return nil
	}
	kind, _ := v1alpha1.LookupKind("Flavor")
	return apierrors.NewConflict(kind.GroupResource(), f.Name, fmt.Errorf("queues %s still give quota in this flavor: remove it from their spec.flavors first, then delete it",
		strings.Join(users, ", ")))
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
