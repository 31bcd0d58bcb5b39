package controller

import (
	"context"
	"sync"

	"k8s.io/client-go/tools/cache"

	"skiff.dev/skiff/api/v1alpha1"
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

// merge returns the newer of the cached and the assumed version of each
// job, dropping assumptions the cache has caught up with.
func (a *assumeCache) merge(cached []*v1alpha1.Job) []*v1alpha1.Job {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*v1alpha1.Job, 0, len(cached))
	seen := map[string]bool{}
	for _, j := range cached {
		key := keyOf(j)
		seen[key] = true
		if as, ok := a.objects[key]; ok {
			if v1alpha1.Revision(as.ResourceVersion) > v1alpha1.Revision(j.ResourceVersion) {
				out = append(out, as)
				continue
			}
			delete(a.objects, key)
		}
		out = append(out, j)
	}
	for key := range a.objects {
		if !seen[key] {
			// Deleted, or not yet seen at all; the cache decides.
			delete(a.objects, key)
		}
	}
	return out
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
