package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

// Watch streams changes of kind after opts.ResourceVersion; an empty one
// starts at the current revision (the API server would otherwise replay
// every existing object as ADDED).
func (s *Store) Watch(ctx context.Context, kind v1alpha1.Kind, opts store.ListOptions) (watch.Interface, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rv := opts.ResourceVersion
	if _, err := strconv.ParseUint(rv, 10, 64); rv != "" && err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("resourceVersion %q is not a revision: use the metadata.resourceVersion of a list or object", rv))
	}
	if rv == "" {
		cur, err := s.currentRevision(ctx, kind)
		if err != nil {
			return nil, err
		}
		rv = cur
	}
	lo := metav1.ListOptions{Watch: true, ResourceVersion: rv}
	if opts.LabelSelector != nil && !opts.LabelSelector.Empty() {
		lo.LabelSelector = opts.LabelSelector.String()
	}
	if opts.FieldName != "" {
		lo.FieldSelector = "metadata.name=" + opts.FieldName
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &watcher{out: make(chan watch.Event), cancel: cancel, done: make(chan struct{})}
	inner, err := s.request("GET", kind, opts.Namespace).VersionedParams(&lo, metav1.ParameterCodec).Watch(wctx)
	if err != nil {
		var se *apierrors.StatusError
		if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) || !errors.As(err, &se) {
			cancel()
			return nil, fmt.Errorf("watching %s: %w", kind.Plural, err)
		}
		// Too old to resume: the same answer the embedded stores give, as
		// an ERROR event, after which the client relists.
		inner = expired(se.ErrStatus)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		inner.Stop()
		return nil, errClosed
	}
	s.watches[w] = struct{}{}
	s.mu.Unlock()
	go w.run(s, inner)
	return w, nil
}

// currentRevision is the API server's newest revision, from a one-item
// list (a quorum read).
func (s *Store) currentRevision(ctx context.Context, kind v1alpha1.Kind) (string, error) {
	lo := metav1.ListOptions{Limit: 1}
	var list metav1.PartialObjectMetadataList
	raw, err := s.request("GET", kind, "").VersionedParams(&lo, metav1.ParameterCodec).Do(ctx).Raw()
	if err != nil {
		return "", fmt.Errorf("reading the current revision: %w", err)
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return "", fmt.Errorf("reading the current revision: %w", err)
	}
	s.observe(list.ResourceVersion)
	return list.ResourceVersion, nil
}

// expired is a watch that sends one 410 ERROR event and ends.
func expired(status metav1.Status) watch.Interface {
	fw := watch.NewFakeWithChanSize(1, false)
	st := status
	fw.Error(&st)
	fw.Stop()
	return fw
}

// watcher forwards the API server's events, typed and with apiVersion and
// kind set, and tracks the revision they carry.
type watcher struct {
	out    chan watch.Event
	cancel context.CancelFunc
	once   sync.Once
	done   chan struct{}
}

func (w *watcher) ResultChan() <-chan watch.Event { return w.out }

func (w *watcher) Stop() {
	w.once.Do(func() {
		w.cancel()
		close(w.done)
	})
}

func (w *watcher) run(s *Store, inner watch.Interface) {
	defer func() {
		inner.Stop()
		close(w.out)
		s.mu.Lock()
		delete(s.watches, w)
		s.mu.Unlock()
	}()
	in := inner.ResultChan()
	for {
		select {
		case <-w.done:
			return
		case ev, ok := <-in:
			if !ok {
				return
			}
			if obj, isObj := ev.Object.(v1alpha1.Object); isObj {
				v1alpha1.Default(obj)
				s.observe(obj.GetResourceVersion())
			}
			select {
			case w.out <- ev:
			case <-w.done:
				return
			}
		}
	}
}
