package watchcache

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

// ResyncPeriod is how often informers hand every cached object to their
// handlers again, bounding how long a missed notification can matter.
const ResyncPeriod = 30 * time.Second

// NewInformer returns a client-go informer over one kind of the store: the
// reflector lists, watches from the list's revision and relists when the
// watch expires or breaks. Run it with RunWithContext.
func NewInformer(ctx context.Context, s store.Store, k v1alpha1.Kind) cache.SharedIndexInformer {
	return cache.NewSharedIndexInformer(&listWatch{ctx: ctx, store: s, kind: k}, k.New(), ResyncPeriod, cache.Indexers{})
}

// listWatch lets client-go's reflector list and watch a kind of the store.
type listWatch struct {
	ctx   context.Context
	store store.Store
	kind  v1alpha1.Kind
}

func (lw *listWatch) List(metav1.ListOptions) (k8sruntime.Object, error) {
	list := lw.kind.NewList().(v1alpha1.ObjectList)
	if err := lw.store.List(lw.ctx, list, store.ListOptions{}); err != nil {
		return nil, err
	}
	return list, nil
}

func (lw *listWatch) Watch(opts metav1.ListOptions) (watch.Interface, error) {
	return lw.store.Watch(lw.ctx, lw.kind, store.ListOptions{ResourceVersion: opts.ResourceVersion})
}

// IsWatchListSemanticsUnSupported tells the reflector to list then watch:
// the store has no streaming-list (sendInitialEvents) mode.
func (lw *listWatch) IsWatchListSemanticsUnSupported() bool { return true }

// Handler receives the state of a kind: Replace with every object once the
// first list is in, Apply with each change after it (including the
// deletions a relist discovers).
type Handler interface {
	Replace(objs []v1alpha1.Object)
	Apply(typ watch.EventType, obj v1alpha1.Object)
}

// Start fills h from an informer synchronously, so the view is complete
// when it returns, then keeps it current until ctx ends.
func Start(ctx context.Context, st store.Store, kind v1alpha1.Kind, h Handler) error {
	inf := NewInformer(ctx, st, kind)
	var live atomic.Bool // changes before the first Replace are in it already
	apply := func(typ watch.EventType, obj any) {
		if !live.Load() {
			return
		}
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if o, ok := obj.(v1alpha1.Object); ok {
			h.Apply(typ, o)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { apply(watch.Added, obj) },
		UpdateFunc: func(_, obj any) { apply(watch.Modified, obj) },
		DeleteFunc: func(obj any) { apply(watch.Deleted, obj) },
	}); err != nil {
		return fmt.Errorf("watching %s: %w", kind.Plural, err)
	}
	go inf.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return fmt.Errorf("listing %s: %w", kind.Plural, ctx.Err())
	}
	// Go live before the snapshot: a change that lands in between is both
	// applied and in the snapshot, and the handlers are idempotent.
	live.Store(true)
	items := inf.GetStore().List()
	objs := make([]v1alpha1.Object, 0, len(items))
	for _, it := range items {
		if o, ok := it.(v1alpha1.Object); ok {
			objs = append(objs, o)
		}
	}
	h.Replace(objs)
	return nil
}
