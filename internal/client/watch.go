package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
)

// Watch streams changes of kind after opts.ResourceVersion (empty: from
// now). Objects are typed (*v1alpha1.Job ...); an ERROR event carries a
// *metav1.Status (410 Expired means: list again and watch from the list's
// resourceVersion). The result channel closes when the server ends the
// stream, ctx is done or Stop is called.
func (c *Client) Watch(ctx context.Context, kind v1alpha1.Kind, opts ListOptions) (watch.Interface, error) {
	q := opts.query()
	q.Set("watch", "true")
	ctx, cancel := context.WithCancel(ctx)
	resp, err := c.do(ctx, http.MethodGet, collectionPath(kind, opts.Namespace), q, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	w := &streamWatcher{result: make(chan watch.Event), cancel: cancel}
	go w.run(ctx, kind, resp.Body)
	return w, nil
}

type streamWatcher struct {
	result chan watch.Event
	cancel context.CancelFunc
	once   sync.Once
}

func (w *streamWatcher) Stop() { w.once.Do(w.cancel) }

func (w *streamWatcher) ResultChan() <-chan watch.Event { return w.result }

func (w *streamWatcher) run(ctx context.Context, kind v1alpha1.Kind, body io.ReadCloser) {
	defer close(w.result)
	defer body.Close()
	defer w.Stop()
	dec := json.NewDecoder(body)
	for {
		var line struct {
			Type   watch.EventType `json:"type"`
			Object json.RawMessage `json:"object"`
		}
		if err := dec.Decode(&line); err != nil {
			if ctx.Err() == nil && !errors.Is(err, io.EOF) {
				w.send(ctx, watch.Event{Type: watch.Error, Object: &apierrors.NewInternalError(
					fmt.Errorf("reading the watch stream: %w", err)).ErrStatus})
			}
			return
		}
		var ev watch.Event
		ev.Type = line.Type
		if line.Type == watch.Error {
			st := &metav1.Status{}
			if err := json.Unmarshal(line.Object, st); err != nil {
				st = &apierrors.NewInternalError(err).ErrStatus
			}
			ev.Object = st
		} else {
			obj := kind.New()
			if err := json.Unmarshal(line.Object, obj); err != nil {
				w.send(ctx, watch.Event{Type: watch.Error, Object: &apierrors.NewInternalError(
					fmt.Errorf("decoding a %s watch event: %w", kind.Kind, err)).ErrStatus})
				return
			}
			v1alpha1.SetTypeMeta(obj)
			ev.Object = obj
		}
		if !w.send(ctx, ev) {
			return
		}
	}
}

func (w *streamWatcher) send(ctx context.Context, ev watch.Event) bool {
	select {
	case w.result <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}
