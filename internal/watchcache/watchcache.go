package watchcache

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

// Handler receives the state of a kind: Replace with every object after
// each (re)list, Apply with each watch event after it.
type Handler interface {
	Replace(objs []v1alpha1.Object)
	Apply(typ watch.EventType, obj v1alpha1.Object)
}

// Start lists kind into h synchronously, so the view is complete when it
// returns, then keeps it current in a goroutine until ctx ends.
func Start(ctx context.Context, st store.Store, kind v1alpha1.Kind, h Handler) error {
	rev, err := relist(ctx, st, kind, h)
	if err != nil {
		return err
	}
	go follow(ctx, st, kind, h, rev)
	return nil
}

func relist(ctx context.Context, st store.Store, kind v1alpha1.Kind, h Handler) (string, error) {
	list := kind.NewList().(v1alpha1.ObjectList)
	if err := st.List(ctx, list, store.ListOptions{}); err != nil {
		return "", fmt.Errorf("listing %s: %w", kind.Plural, err)
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return "", fmt.Errorf("reading the %s list: %w", kind.Plural, err)
	}
	objs := make([]v1alpha1.Object, 0, len(items))
	for _, it := range items {
		if o, ok := it.(v1alpha1.Object); ok {
			objs = append(objs, o)
		}
	}
	h.Replace(objs)
	return list.GetResourceVersion(), nil
}

// follow watches from rev; any end of the watch other than ctx leads to a
// relist after a short pause, so an expired watch never leaves the view
// stale for long.
func follow(ctx context.Context, st store.Store, kind v1alpha1.Kind, h Handler, rev string) {
	for ctx.Err() == nil {
		rev = watchOnce(ctx, st, kind, h, rev)
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		if r, err := relist(ctx, st, kind, h); err == nil {
			rev = r
		}
	}
}

func watchOnce(ctx context.Context, st store.Store, kind v1alpha1.Kind, h Handler, rev string) string {
	w, err := st.Watch(ctx, kind, store.ListOptions{ResourceVersion: rev})
	if err != nil {
		return rev
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return rev
		case ev, ok := <-w.ResultChan():
			if !ok || ev.Type == watch.Error {
				return rev
			}
			obj, isObj := ev.Object.(v1alpha1.Object)
			if !isObj {
				continue
			}
			h.Apply(ev.Type, obj)
			if r := obj.GetResourceVersion(); r != "" {
				if _, err := strconv.ParseInt(r, 10, 64); err == nil {
					rev = r
				}
			}
		}
	}
}
