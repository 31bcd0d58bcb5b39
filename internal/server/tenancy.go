package server

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/audit"
	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/policy"
	"skiff.dev/skiff/internal/store"
	"skiff.dev/skiff/internal/watchcache"
)

// Audit log rotation: 10 files of at most 16 MiB.
const (
	auditMaxBytes = 16 << 20
	auditKeep     = 10
)

// tenancy holds the multi-tenancy parts of the server: the token cache
// (authentication), the policy engine and namespace cache (admission) and
// the audit log, each kept current from the store.
type tenancy struct {
	store      store.Store
	tokens     *auth.TokenCache
	policies   *policy.Engine
	namespaces *namespaceCache
	audit      *audit.Log
	cancel     context.CancelFunc
}

func startTenancy(ctx context.Context, st store.Store, dataDir, adminToken string, now func() time.Time) (*tenancy, error) {
	engine, err := policy.NewEngine()
	if err != nil {
		return nil, err
	}
	log, err := audit.Open(filepath.Join(dataDir, "audit"), auditMaxBytes, auditKeep)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	t := &tenancy{store: st, tokens: auth.NewTokenCache(adminToken, now), policies: engine,
		namespaces: &namespaceCache{byName: map[string]*v1alpha1.Namespace{}}, audit: log, cancel: cancel}
	for kind, h := range map[string]watchcache.Handler{"Token": t.tokens, "Policy": t.policies, "Namespace": t.namespaces} {
		if err := watchcache.Start(ctx, st, mustKind(kind), h); err != nil {
			t.close()
			return nil, fmt.Errorf("loading %s: %w", kind, err)
		}
	}
	return t, nil
}

func (t *tenancy) close() {
	t.cancel()
	_ = t.audit.Close()
}

// afterWrite applies the API server's own writes to the caches at once:
// a revoked token is refused and a new policy enforced on the very next
// request, without waiting for the watch.
func (t *tenancy) afterWrite(op apiserver.Operation, obj v1alpha1.Object) {
	typ := watch.Modified
	if op == apiserver.Delete {
		typ = watch.Deleted
	}
	t.tokens.Apply(typ, obj)
	t.policies.Apply(typ, obj)
	t.namespaces.Apply(typ, obj)
}

// admit wraps next (the job and queue admission): policies default and
// validate first, then next runs on the defaulted object, then namespace
// limits are checked.
func (t *tenancy) admit(next apiserver.AdmitFunc) apiserver.AdmitFunc {
	return func(ctx context.Context, op apiserver.Operation, obj, old v1alpha1.Object) error {
		if op == apiserver.Delete {
			return next(ctx, op, obj, old)
		}
		if p, ok := obj.(*v1alpha1.Policy); ok {
			if _, errs := t.policies.Compile(p); len(errs) > 0 {
				return v1alpha1.NewValidationError("Policy", p.Name, errs)
			}
		}
		id, _ := auth.IdentityFrom(ctx)
		kind, err := v1alpha1.KindOf(obj)
		if err != nil {
			return err
		}
		req := policy.Request{User: id.Name, Namespace: obj.GetNamespace(), Operation: string(op), Kind: kind.Kind,
			NamespaceLabels: t.namespaces.labels(obj.GetNamespace())}
		if kind.Kind == "Namespace" {
			req.Namespace, req.NamespaceLabels = obj.GetName(), obj.GetLabels()
		}
		warnings, err := t.policies.Admit(req, obj, old)
		for _, w := range warnings {
			apiserver.AddWarning(ctx, w)
		}
		var denied *policy.DeniedError
		if errors.As(err, &denied) {
			return fmt.Errorf("denied by %w", err)
		}
		if err != nil {
			return err
		}
		// A policy's defaults may have set fields: the object must still be
		// one validation accepts (a few microseconds).
		if err := v1alpha1.Validate(obj); err != nil {
			return fmt.Errorf("after policy defaults: %w", err)
		}
		if err := next(ctx, op, obj, old); err != nil {
			return err
		}
		if job, ok := obj.(*v1alpha1.Job); ok && op == apiserver.Create {
			return t.checkLimits(ctx, job)
		}
		if svc, ok := obj.(*v1alpha1.InferenceService); ok && op == apiserver.Create {
			return t.checkServices(ctx, svc)
		}
		return nil
	}
}

// checkServices rejects an InferenceService that would take its namespace
// past spec.limits.services. Two creates at the same instant may both
// pass (the count is read, not reserved); the limit is a budget, not a lock.
func (t *tenancy) checkServices(ctx context.Context, svc *v1alpha1.InferenceService) error {
	ns := t.namespaces.get(svc.Namespace)
	if ns == nil || ns.Spec.Limits.Services == nil {
		return nil
	}
	var list v1alpha1.InferenceServiceList
	if err := t.store.List(ctx, &list, store.ListOptions{Namespace: svc.Namespace}); err != nil {
		return fmt.Errorf("counting the namespace's inference services: %w", err)
	}
	if limit := *ns.Spec.Limits.Services; int32(len(list.Items)) >= limit {
		return apierrors.NewForbidden(mustKind("InferenceService").GroupResource(), svc.Name,
			field.Forbidden(field.NewPath("metadata", "namespace"), fmt.Sprintf(
				"namespace %s already has %d inference services, its limit (spec.limits.services of the Namespace): delete one or ask a cluster-admin to raise the limit",
				ns.Name, len(list.Items))))
	}
	return nil
}

// jobGPUs is what a job asks for in total: replicas times GPUs per replica.
func jobGPUs(j *v1alpha1.Job) resource.Quantity {
	var sum resource.Quantity
	for _, g := range j.Spec.ReplicaGroups {
		if g.Template.Resources.GPU == nil {
			continue
		}
		for i := int32(0); i < g.Replicas; i++ {
			sum.Add(*g.Template.Resources.GPU)
		}
	}
	return sum
}

// checkLimits rejects at creation a job that alone asks for more GPUs than
// its namespace may ever use. Jobs that merely have to wait for the
// namespace's other jobs are admitted to the API and held Pending by the
// scheduling loop, which enforces the limits on top of queue quota.
func (t *tenancy) checkLimits(_ context.Context, job *v1alpha1.Job) error {
	ns := t.namespaces.get(job.Namespace)
	if ns == nil || ns.Spec.Limits.GPUs == nil {
		return nil
	}
	lim := ns.Spec.Limits
	want := jobGPUs(job)
	if lim.GPUs != nil && want.Cmp(*lim.GPUs) > 0 {
		return limitError(job, "spec.replicaGroups", fmt.Sprintf("the job asks for %s GPUs but namespace %s may use at most %s (spec.limits.gpus of the Namespace): ask for fewer or ask a cluster-admin to raise the limit", want.String(), ns.Name, lim.GPUs.String()))
	}
	return nil
}

func limitError(job *v1alpha1.Job, path, msg string) error {
	return apierrors.NewForbidden(mustKind("Job").GroupResource(), job.Name,
		field.Forbidden(field.NewPath(path), msg))
}

// namespaceCache keeps Namespace objects for limits and namespaceSelector.
type namespaceCache struct {
	mu     sync.RWMutex
	byName map[string]*v1alpha1.Namespace
}

func (c *namespaceCache) Replace(objs []v1alpha1.Object) {
	m := map[string]*v1alpha1.Namespace{}
	for _, o := range objs {
		if ns, ok := o.(*v1alpha1.Namespace); ok {
			m[ns.Name] = ns
		}
	}
	c.mu.Lock()
	c.byName = m
	c.mu.Unlock()
}

func (c *namespaceCache) Apply(typ watch.EventType, obj v1alpha1.Object) {
	ns, ok := obj.(*v1alpha1.Namespace)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if typ == watch.Deleted {
		delete(c.byName, ns.Name)
		return
	}
	if cur := c.byName[ns.Name]; cur != nil && v1alpha1.Revision(cur.ResourceVersion) > v1alpha1.Revision(ns.ResourceVersion) {
		return // a late event older than what the cache holds
	}
	c.byName[ns.Name] = ns
}

func (c *namespaceCache) get(name string) *v1alpha1.Namespace {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byName[name]
}

func (c *namespaceCache) labels(name string) map[string]string {
	if ns := c.get(name); ns != nil {
		return ns.Labels
	}
	return nil
}
