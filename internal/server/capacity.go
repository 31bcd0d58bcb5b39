package server

import (
	"context"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/scheduler"
	"skiff.dev/skiff/internal/store"
	"skiff.dev/skiff/internal/watchcache"
)

// capacityCache keeps the nodes, flavors and queues that admission checks
// read, so that creating a job does not list them from the store each time.
// It may trail the store by a watch event; admission re-reads the store
// before it rejects anything on its account.
type capacityCache struct {
	mu    sync.RWMutex
	kinds map[string]map[string]v1alpha1.Object // kind -> name -> object
}

func startCapacityCache(ctx context.Context, st store.Store) (*capacityCache, error) {
	c := &capacityCache{kinds: map[string]map[string]v1alpha1.Object{}}
	for _, kind := range []string{"Node", "Flavor", "Queue"} {
		if err := watchcache.Start(ctx, st, mustKind(kind), kindHandler{c, kind}); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// kindHandler feeds one kind's watch into the cache.
type kindHandler struct {
	c    *capacityCache
	kind string
}

func (h kindHandler) Replace(objs []v1alpha1.Object) {
	m := make(map[string]v1alpha1.Object, len(objs))
	for _, o := range objs {
		m[o.GetName()] = o
	}
	h.c.mu.Lock()
	h.c.kinds[h.kind] = m
	h.c.mu.Unlock()
}

func (h kindHandler) Apply(typ watch.EventType, obj v1alpha1.Object) {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	m := h.c.kinds[h.kind]
	if m == nil {
		m = map[string]v1alpha1.Object{}
		h.c.kinds[h.kind] = m
	}
	if typ == watch.Deleted {
		delete(m, obj.GetName())
	} else {
		m[obj.GetName()] = obj
	}
}

// snapshot returns the cached capacity; the objects are shared, read-only.
func (c *capacityCache) snapshot() scheduler.Snapshot {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var snap scheduler.Snapshot
	for _, name := range sortedNames(c.kinds["Node"]) {
		snap.Nodes = append(snap.Nodes, c.kinds["Node"][name].(*v1alpha1.Node))
	}
	for _, name := range sortedNames(c.kinds["Flavor"]) {
		snap.Flavors = append(snap.Flavors, c.kinds["Flavor"][name].(*v1alpha1.Flavor))
	}
	for _, name := range sortedNames(c.kinds["Queue"]) {
		snap.Queues = append(snap.Queues, c.kinds["Queue"][name].(*v1alpha1.Queue))
	}
	return snap
}

func sortedNames(m map[string]v1alpha1.Object) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
