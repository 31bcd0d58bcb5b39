package store

import (
	"context"
	"fmt"
	"sort"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
)

// hub keeps the most recent committed changes of all kinds in memory and
// lets watchers read them. Watchers pull from the shared history instead of
// each owning a buffer: a slow watcher costs nothing until it falls behind
// the history, and then it gets 410 Expired and relists, as with the
// Kubernetes watch cache.
type hub struct {
	size int

	mu sync.Mutex
	// events are the retained changes, oldest first. The slice is only ever
	// appended to or replaced by a fresh copy, never rewritten in place, so
	// a watcher may keep reading a sub-slice it took under the lock.
	events []change
	// base is the revision just before the oldest retained change: a watch
	// from a revision < base cannot be served.
	base   int64
	rev    int64
	notify chan struct{} // closed and replaced on every publish
	closed bool
	done   chan struct{} // closed by close: ends every watcher
}

func newHub(rev int64, size int) *hub {
	return &hub{size: size, base: rev, rev: rev, notify: make(chan struct{}), done: make(chan struct{})}
}

// publish records committed changes. Backends call it in revision order.
func (h *hub) publish(chs []change) {
	if len(chs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, chs...)
	h.rev = chs[len(chs)-1].rev
	// Trim in amortised O(1): only when twice the size, into a new array.
	if len(h.events) > 2*h.size {
		drop := len(h.events) - h.size
		h.base = h.events[drop-1].rev
		h.events = append([]change(nil), h.events[drop:]...)
	}
	close(h.notify)
	h.notify = make(chan struct{})
}

func (h *hub) revision() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rev
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

// since returns the retained changes after rev, whether rev is too old to
// serve, and a channel closed at the next publish.
func (h *hub) since(rev int64) (chs []change, expired bool, notify <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rev < h.base {
		return nil, true, nil
	}
	i := sort.Search(len(h.events), func(i int) bool { return h.events[i].rev > rev })
	return h.events[i:len(h.events):len(h.events)], false, h.notify
}

// watcher implements watch.Interface over the hub for one kind and filter.
type watcher struct {
	h      *hub
	kind   v1alpha1.Kind
	opts   ListOptions
	result chan watch.Event
	stop   chan struct{}
	once   sync.Once
}

func (w *watcher) ResultChan() <-chan watch.Event { return w.result }

func (w *watcher) Stop() { w.once.Do(func() { close(w.stop) }) }

// run delivers events after rev until the watcher is stopped, ctx ends, the
// store closes, or the watcher falls behind the history.
func (w *watcher) run(ctx context.Context, rev int64) {
	defer close(w.result)
	for {
		chs, expired, notify := w.h.since(rev)
		if expired {
			status := apierrors.NewResourceExpired(fmt.Sprintf(
				"too old resource version: %d (oldest retained: %d)", rev, w.h.oldest())).ErrStatus
			w.send(ctx, watch.Event{Type: watch.Error, Object: &status})
			return
		}
		for _, ch := range chs {
			rev = ch.rev
			ev, ok, err := w.translate(ch)
			if err != nil {
				status := apierrors.NewInternalError(err).ErrStatus
				w.send(ctx, watch.Event{Type: watch.Error, Object: &status})
				return
			}
			if ok && !w.send(ctx, ev) {
				return
			}
		}
		if len(chs) > 0 {
			continue
		}
		select {
		case <-notify:
		case <-w.stop:
			return
		case <-w.h.done:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (h *hub) oldest() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.base + 1
}

func (w *watcher) send(ctx context.Context, ev watch.Event) bool {
	select {
	case w.result <- ev:
		return true
	case <-w.stop:
	case <-w.h.done:
	case <-ctx.Done():
	}
	return false
}

// translate turns a change into the event this watcher should see, if any.
// With a label selector, an object that starts matching is ADDED and one
// that stops matching is DELETED, as the Kubernetes watch cache does, so a
// client's filtered view stays consistent.
func (w *watcher) translate(ch change) (watch.Event, bool, error) {
	if ch.key.kind != w.kind.Kind ||
		(w.opts.Namespace != "" && w.kind.Namespaced && ch.key.namespace != w.opts.Namespace) ||
		(w.opts.FieldName != "" && ch.key.name != w.opts.FieldName) {
		return watch.Event{}, false, nil
	}
	typ := ch.typ
	if sel := w.opts.LabelSelector; sel != nil && !sel.Empty() {
		now, err := matchesLabels(sel, ch.raw)
		if err != nil {
			return watch.Event{}, false, err
		}
		before := false
		if ch.prev != nil {
			if before, err = matchesLabels(sel, ch.prev); err != nil {
				return watch.Event{}, false, err
			}
		}
		switch {
		case typ == watch.Deleted && !before && !now:
			return watch.Event{}, false, nil
		case typ == watch.Modified && before && !now:
			typ = watch.Deleted
		case typ == watch.Modified && !before && now:
			typ = watch.Added
		case typ != watch.Deleted && !now:
			return watch.Event{}, false, nil
		}
	}
	if w.opts.Raw {
		return watch.Event{Type: typ, Object: &runtime.Unknown{Raw: ch.raw, ContentType: runtime.ContentTypeJSON}}, true, nil
	}
	obj := w.kind.New()
	if err := decodeInto(ch.raw, obj); err != nil {
		return watch.Event{}, false, err
	}
	return watch.Event{Type: typ, Object: obj}, true, nil
}
