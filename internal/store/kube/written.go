package kube

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"sync"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
)

// maxWritten bounds the written cache; past it the cache starts over
// (forgetting costs one extra request per object, nothing else).
const maxWritten = 200_000

// maxFlightWait bounds how long an update waits for this client's write of
// the same object that is under way (see written.check).
const maxFlightWait = 2 * time.Second

// written remembers, for objects this client wrote, a digest of metadata
// and spec as the API server answered at each object's latest revision.
// An Update at that revision whose metadata and spec have the same digest
// changes the status alone, so it needs only the status subresource's PUT:
// one request instead of two for most controller writes (phases,
// conditions, admissions), each of which is a full write on the API server
// (decoding, schema validation, managed fields) even when it changes
// nothing.
//
// Writes under way are tracked too: a controller that reads an object from
// its informer can hold a revision this client wrote before the write's
// answer reached the cache (the watch event overtaking the response), and
// waiting those few milliseconds is cheaper than the full write the
// unknown revision would cost.
type written struct {
	mu       sync.Mutex
	entries  map[string]writtenEntry
	inflight map[string]*flight
}

// flight counts this client's writes of one object that are under way;
// done closes when the last of them ends.
type flight struct {
	n    int
	done chan struct{}
}

type writtenEntry struct {
	rv     string
	digest uint64
}

func writtenKey(k v1alpha1.Kind, ns, name string) string {
	return k.Plural + "/" + ns + "/" + name
}

// remember records obj as the API server answered a write of it.
func (w *written) remember(k v1alpha1.Kind, obj v1alpha1.Object) {
	d, ok := metaSpecDigest(obj)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.entries == nil || len(w.entries) >= maxWritten {
		w.entries = map[string]writtenEntry{}
	}
	w.entries[writtenKey(k, obj.GetNamespace(), obj.GetName())] = writtenEntry{rv: obj.GetResourceVersion(), digest: d}
}

// forget drops what is remembered of an object (deleted, or a write
// failed).
func (w *written) forget(k v1alpha1.Kind, ns, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.entries, writtenKey(k, ns, name))
}

// begin notes that a write of an object is under way; end must follow,
// after the write's answer is remembered (or the object forgotten).
func (w *written) begin(k v1alpha1.Kind, ns, name string) {
	key := writtenKey(k, ns, name)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inflight == nil {
		w.inflight = map[string]*flight{}
	}
	f := w.inflight[key]
	if f == nil {
		f = &flight{done: make(chan struct{})}
		w.inflight[key] = f
	}
	f.n++
}

func (w *written) end(k v1alpha1.Kind, ns, name string) {
	key := writtenKey(k, ns, name)
	w.mu.Lock()
	defer w.mu.Unlock()
	if f := w.inflight[key]; f != nil {
		if f.n--; f.n == 0 {
			close(f.done)
			delete(w.inflight, key)
		}
	}
}

// check says what an update of obj needs. statusOnly: obj differs from
// the object stored at its resourceVersion in status alone (its metadata
// and spec are what this client last wrote at that revision). stale: this
// client has written the object at a later revision than obj's, so a
// write of obj could only be refused as a conflict. A revision this
// client does not know waits (up to maxFlightWait, or ctx) for this
// client's writes of the object that are under way, since the revision
// may be one of theirs.
func (w *written) check(ctx context.Context, k v1alpha1.Kind, obj v1alpha1.Object) (statusOnly, stale bool) {
	rv := obj.GetResourceVersion()
	if rv == "" {
		return false, false
	}
	key := writtenKey(k, obj.GetNamespace(), obj.GetName())
	var deadline <-chan time.Time
	for {
		w.mu.Lock()
		e, ok := w.entries[key]
		f := w.inflight[key]
		w.mu.Unlock()
		switch {
		case ok && e.rv == rv:
			d, ok := metaSpecDigest(obj)
			return ok && d == e.digest, false
		case ok && v1alpha1.Revision(e.rv) > v1alpha1.Revision(rv) && v1alpha1.Revision(rv) > 0:
			return false, true
		case f == nil:
			return false, false
		}
		if deadline == nil {
			t := time.NewTimer(maxFlightWait)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-f.done:
		case <-deadline:
			return false, false
		case <-ctx.Done():
			return false, false
		}
	}
}

// metaSpecDigest hashes obj's JSON without its status and resourceVersion.
func metaSpecDigest(obj v1alpha1.Object) (uint64, bool) {
	c, ok := obj.DeepCopyObject().(v1alpha1.Object)
	if !ok {
		return 0, false
	}
	st := statusField(c)
	if !st.IsValid() {
		return 0, false
	}
	st.SetZero()
	c.SetResourceVersion("")
	v1alpha1.SetTypeMeta(c)
	raw, err := json.Marshal(c)
	if err != nil {
		return 0, false
	}
	h := fnv.New64a()
	_, _ = h.Write(raw)
	return h.Sum64(), true
}
