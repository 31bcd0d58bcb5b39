package controller

import (
	"context"
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

var (
	kindJob    = mustKind("Job")
	kindQueue  = mustKind("Queue")
	kindFlavor = mustKind("Flavor")
	kindNode   = mustKind("Node")
	// kindNamespace holds per-tenant limits the scheduling loop enforces.
	kindNamespace = mustKind("Namespace")
)

func mustKind(name string) v1alpha1.Kind {
	k, ok := v1alpha1.LookupKind(name)
	if !ok {
		panic("unknown kind " + name)
	}
	return k
}

func keyOf(obj v1alpha1.Object) string { return obj.GetNamespace() + "/" + obj.GetName() }

// resyncPeriod bounds how long a missed notification can delay a reconcile.
const resyncPeriod = 30 * time.Second

// watchKind calls fn for every object of a kind at start, for every change
// after it, and for every object again each resyncPeriod (level-triggered:
// fn only needs a key). It relists whenever the watch breaks or expires.
func watchKind(ctx context.Context, s store.Store, k v1alpha1.Kind, log *slog.Logger, fn func(v1alpha1.Object)) {
	for ctx.Err() == nil {
		rv, err := listAll(ctx, s, k, fn)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("listing for watch", "kind", k.Kind, "err", err)
			}
			sleep(ctx, time.Second)
			continue
		}
		w, err := s.Watch(ctx, k, store.ListOptions{ResourceVersion: rv})
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		consume(ctx, w, fn)
		w.Stop()
	}
}

func consume(ctx context.Context, w watch.Interface, fn func(v1alpha1.Object)) {
	resync := time.NewTimer(resyncPeriod)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-resync.C:
			return // relist: the caller lists everything again
		case ev, ok := <-w.ResultChan():
			if !ok {
				return
			}
			if ev.Type == watch.Error {
				return // typically 410 Expired: relist
			}
			if obj, ok := ev.Object.(v1alpha1.Object); ok {
				fn(obj)
			}
		}
	}
}

func listAll(ctx context.Context, s store.Store, k v1alpha1.Kind, fn func(v1alpha1.Object)) (string, error) {
	list := k.NewList().(v1alpha1.ObjectList)
	if err := s.List(ctx, list, store.ListOptions{}); err != nil {
		return "", err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return "", err
	}
	for _, it := range items {
		if obj, ok := it.(v1alpha1.Object); ok {
			fn(obj)
		}
	}
	return list.GetResourceVersion(), nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
