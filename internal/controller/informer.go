package controller

import (
	"context"
	"sync"

	"k8s.io/client-go/tools/cache"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/scheduler"
	"skiff.dev/skiff/internal/store"
	"skiff.dev/skiff/internal/watchcache"
)

// newInformer returns an informer over one kind of the store.
func newInformer(ctx context.Context, s store.Store, k v1alpha1.Kind) cache.SharedIndexInformer {
	return watchcache.NewInformer(ctx, s, k)
}

// assumeCache remembers objects this process just wrote, until the informer
// has caught up with them. Without it, a cycle that runs before the watch
// delivers the previous cycle's admissions would see their capacity as free
// and admit other jobs into it (kube-scheduler's "assume" step).
type assumeCache struct {
	mu      sync.Mutex
	objects map[string]*v1alpha1.Job
}

func (a *assumeCache) assume(j *v1alpha1.Job) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.objects == nil {
		a.objects = map[string]*v1alpha1.Job{}
	}
	a.objects[keyOf(j)] = j
}

// newer returns the assumed version of key's job when it is newer than
// cur, else cur (dropping the assumption the informer caught up with).
func (a *assumeCache) newer(key string, cur *v1alpha1.Job) *v1alpha1.Job {
	a.mu.Lock()
	defer a.mu.Unlock()
	as, ok := a.objects[key]
	if !ok {
		return cur
	}
	if v1alpha1.Revision(cur.ResourceVersion) >= v1alpha1.Revision(as.ResourceVersion) || cur.UID != as.UID {
		delete(a.objects, key)
		return cur
	}
	return as
}

// caughtUp drops the assumption about cur's job once the informer holds
// that version or a later one.
func (a *assumeCache) caughtUp(cur *v1alpha1.Job) {
	key := keyOf(cur)
	a.mu.Lock()
	defer a.mu.Unlock()
	if as, ok := a.objects[key]; ok && v1alpha1.Revision(cur.ResourceVersion) >= v1alpha1.Revision(as.ResourceVersion) {
		delete(a.objects, key)
	}
}

func (a *assumeCache) forget(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.objects, key)
}

// overlay returns the jobs a cycle works on: the active jobs, each
// replaced by the version this process wrote when that is newer than the
// one the informer holds. Assumptions the informer has caught up with (or
// whose job it no longer has) are dropped. cached looks a key up in the
// informer's store.
//
// The index is fed by the informer's event handler, which runs after the
// informer's store has changed, so it may still hold a job at a version
// older than the one this process wrote after the store has caught up.
// Until the index catches up too, the informer's version, at least as new
// as the assumed one, takes its place, or the cycle would plan a job it
// admitted as pending again and see its resources as free.
//
// It changes active in place and returns the keys it added (jobs the
// index does not hold yet).
func (a *assumeCache) overlay(active map[string]*v1alpha1.Job, cached func(key string) (*v1alpha1.Job, bool)) (added []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for key, as := range a.objects {
		cur, ok := cached(key)
		if !ok {
			delete(a.objects, key)
			continue
		}
		use := as
		if v1alpha1.Revision(cur.ResourceVersion) >= v1alpha1.Revision(as.ResourceVersion) {
			idx, indexed := active[key]
			if indexed && v1alpha1.Revision(idx.ResourceVersion) >= v1alpha1.Revision(as.ResourceVersion) ||
				!indexed && !isActive(cur) {
				delete(a.objects, key) // the index has caught up too
				continue
			}
			use = cur
		}
		if isActive(use) {
			if _, ok := active[key]; !ok {
				added = append(added, key)
			}
			active[key] = use
		} else {
			delete(active, key)
		}
	}
	return added
}

// activeJobs indexes, from the job informer's events, the jobs a
// scheduling cycle looks at: those waiting for admission and those holding
// resources. Finished jobs, which pile up over a cluster's life, are not
// in it, so a cycle costs what the live jobs cost. It keeps the jobs in
// the order they became active, which is nearly the order the scheduler
// sorts pending jobs in, so its sort has little to do.
type activeJobs struct {
	mu    sync.Mutex
	at    map[string]int // key → index in order
	order []activeEntry  // a removed job leaves a hole (nil job) until compact
	live  int
}

type activeEntry struct {
	key string
	job *v1alpha1.Job
}

func isActive(j *v1alpha1.Job) bool { return scheduler.HoldsResources(j) || isSchedulable(j) }

// handler keeps the index and calls then (when set) after each change.
func (a *activeJobs) handler(then func()) cache.ResourceEventHandlerFuncs {
	if then == nil {
		then = func() {}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.set(obj); then() },
		UpdateFunc: func(_, obj any) { a.set(obj); then() },
		DeleteFunc: func(obj any) { a.remove(obj); then() },
	}
}

func (a *activeJobs) set(obj any) {
	j, ok := obj.(*v1alpha1.Job)
	if !ok {
		return
	}
	key := keyOf(j)
	a.mu.Lock()
	defer a.mu.Unlock()
	if !isActive(j) {
		a.removeLocked(key)
		return
	}
	if i, ok := a.at[key]; ok {
		a.order[i].job = j
		return
	}
	if a.at == nil {
		a.at = map[string]int{}
	}
	a.at[key] = len(a.order)
	a.order = append(a.order, activeEntry{key, j})
	a.live++
}

func (a *activeJobs) remove(obj any) {
	var key string
	switch o := obj.(type) {
	case cache.DeletedFinalStateUnknown:
		key = o.Key
	case *v1alpha1.Job:
		key = keyOf(o)
	default:
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.removeLocked(key)
}

func (a *activeJobs) removeLocked(key string) {
	i, ok := a.at[key]
	if !ok {
		return
	}
	a.order[i] = activeEntry{}
	delete(a.at, key)
	a.live--
	// Holes are dropped once they are half the index, keeping the order.
	if len(a.order) >= 64 && a.live < len(a.order)/2 {
		n := 0
		for _, e := range a.order {
			if e.job != nil {
				a.order[n] = e
				a.at[e.key] = n
				n++
			}
		}
		clear(a.order[n:])
		a.order = a.order[:n]
	}
}

// snapshot returns the active jobs by key and their keys in the index's
// order; the jobs are shared with the informer's cache.
func (a *activeJobs) snapshot() (map[string]*v1alpha1.Job, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	byKey := make(map[string]*v1alpha1.Job, a.live)
	keys := make([]string, 0, a.live)
	for _, e := range a.order {
		if e.job != nil {
			byKey[e.key] = e.job
			keys = append(keys, e.key)
		}
	}
	return byKey, keys
}

// listOf returns an informer's objects of type T. They are shared with the
// informer's cache: read them, and DeepCopy before changing one.
func listOf[T any](inf cache.SharedIndexInformer) []*T {
	items := inf.GetStore().List()
	out := make([]*T, 0, len(items))
	for _, it := range items {
		if obj, ok := it.(*T); ok {
			out = append(out, obj)
		}
	}
	return out
}
