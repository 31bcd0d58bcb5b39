package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
)

// watchEvent is one line of a watch stream.
type watchEvent struct {
	Type   watch.EventType `json:"type"`
	Object runtime.Object  `json:"object"`
}

// watch streams newline-delimited events until the client goes away, the
// store ends the watch, or timeoutSeconds pass. Each event is flushed at
// once so that `get -w` and `wait` see changes as they happen.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, t target) {
	opts, filter, err := listOptions(r, t)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	if ts := r.URL.Query().Get("timeoutSeconds"); ts != "" {
		n, err := strconv.Atoi(ts)
		if err != nil || n < 0 {
			writeError(w, apierrors.NewBadRequest(fmt.Sprintf("timeoutSeconds %q: use a whole number of seconds", ts)))
			return
		}
		if n > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(n)*time.Second)
			defer cancel()
		}
	}
	// The events carry the stored JSON where the store can (it is what the
	// client is sent, so decoding and encoding it again would be waste).
	opts.Raw = true
	wi, err := s.cfg.Store.Watch(ctx, t.kind, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	defer wi.Stop()

	rc := http.NewResponseController(w)
	// Watches outlive any server-wide write timeout.
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/json;stream=watch")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	// Flushing the header tells the client the watch is established, so it
	// can make changes knowing it will see them.
	if err := rc.Flush(); err != nil {
		return
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	// Events are flushed as soon as no further one is ready, so that `get
	// -w` and `wait` see each change as it happens while a burst of changes
	// goes out in a few writes rather than one per event.
	unflushed := false
	for {
		var ev watch.Event
		var ok bool
		if unflushed {
			select {
			case ev, ok = <-wi.ResultChan():
			default:
				if bw.Flush() != nil || rc.Flush() != nil {
					return
				}
				unflushed = false
				continue
			}
		} else {
			select {
			case <-ctx.Done():
				return
			case ev, ok = <-wi.ResultChan():
			}
		}
		if !ok {
			if unflushed {
				_ = bw.Flush()
				_ = rc.Flush()
			}
			return
		}
		if err := writeWatchEvent(bw, enc, ev, filter); err != nil {
			return
		}
		unflushed = true
	}
}

// writeWatchEvent writes one line of a watch stream, unless the filter
// leaves the event's object out (or cannot read it): stored JSON as it is,
// a decoded object encoded.
func writeWatchEvent(bw *bufio.Writer, enc *json.Encoder, ev watch.Event, filter fieldFilter) error {
	if u, isRaw := ev.Object.(*runtime.Unknown); isRaw {
		if len(filter) > 0 {
			if ok, err := filter.matchJSON(u.Raw); err != nil || !ok {
				return nil
			}
		}
		bw.WriteString(`{"type":"`)
		bw.WriteString(string(ev.Type))
		bw.WriteString(`","object":`)
		bw.Write(u.Raw)
		_, err := bw.WriteString("}\n")
		return err
	}
	if obj, isObj := ev.Object.(v1alpha1.Object); isObj {
		v1alpha1.SetTypeMeta(obj)
		if len(filter) > 0 {
			raw, err := json.Marshal(obj)
			if err != nil {
				return err
			}
			if ok, err := filter.matchJSON(raw); err != nil || !ok {
				return nil
			}
		}
	}
	return enc.Encode(watchEvent{Type: ev.Type, Object: ev.Object})
}
