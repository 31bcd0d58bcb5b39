package controller

import (
	"context"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

// storeListWatch lets client-go's reflector and informers list and watch a
// kind of the skiff store, so controllers read an in-memory cache instead of
// listing the store on every pass.
type storeListWatch struct {
	ctx   context.Context
	store store.Store
	kind  v1alpha1.Kind
}

func (lw *storeListWatch) List(metav1.ListOptions) (k8sruntime.Object, error) {
	list := lw.kind.NewList().(v1alpha1.ObjectList)
	if err := lw.store.List(lw.ctx, list, store.ListOptions{}); err != nil {
		return nil, err
	}
	return list, nil
}

func (lw *storeListWatch) Watch(opts metav1.ListOptions) (watch.Interface, error) {
	return lw.store.Watch(lw.ctx, lw.kind, store.ListOptions{ResourceVersion: opts.ResourceVersion})
}

// IsWatchListSemanticsUnSupported tells the reflector to list then watch:
// the store has no streaming-list (sendInitialEvents) mode.
func (lw *storeListWatch) IsWatchListSemanticsUnSupported() bool { return true }

// newInformer returns an informer over one kind of the store.
func newInformer(ctx context.Context, s store.Store, k v1alpha1.Kind) cache.SharedIndexInformer {
	return cache.NewSharedIndexInformer(&storeListWatch{ctx: ctx, store: s, kind: k}, k.New(), resyncPeriod, cache.Indexers{})
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
