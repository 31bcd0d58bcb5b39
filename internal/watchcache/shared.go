package watchcache

import (
	"context"
	"sync"

	"k8s.io/client-go/tools/cache"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

// Shared hands out one running informer per kind of a store, so that the
// controllers of one process decode each stored change once, not once per
// controller (client-go's shared informer factory, for the Store).
type Shared struct {
	ctx   context.Context
	store store.Store
	mu    sync.Mutex
	infs  map[string]cache.SharedIndexInformer
}

// NewShared returns a set whose informers run until ctx ends.
func NewShared(ctx context.Context, st store.Store) *Shared {
	return &Shared{ctx: ctx, store: st, infs: map[string]cache.SharedIndexInformer{}}
}

// Informer returns the kind's informer, started on first use. Callers add
// handlers and wait for HasSynced; they never run it themselves.
func (s *Shared) Informer(k v1alpha1.Kind) cache.SharedIndexInformer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inf, ok := s.infs[k.Kind]; ok {
		return inf
	}
	inf := NewInformer(s.ctx, s.store, k)
	s.infs[k.Kind] = inf
	go inf.RunWithContext(s.ctx)
	return inf
}

// For returns the kind's informer from shared when it is set, with a
// no-op run; otherwise a new informer of its own and the func that runs it
// until ctx ends.
func For(ctx context.Context, shared *Shared, st store.Store, k v1alpha1.Kind) (cache.SharedIndexInformer, func()) {
	if shared != nil {
		return shared.Informer(k), func() {}
	}
	inf := NewInformer(ctx, st, k)
	return inf, func() { inf.RunWithContext(ctx) }
}
