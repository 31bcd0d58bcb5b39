package kube

import (
	"encoding/json"
	"hash/fnv"
	"sync"

	"skiff.dev/skiff/api/v1alpha1"
)

// maxWritten bounds the written cache; past it the cache starts over
// (forgetting costs one extra request per object, nothing else).
const maxWritten = 200_000

// written remembers, for objects this client wrote, a digest of metadata
// and spec as the API server answered at each object's latest revision.
// An Update at that revision whose metadata and spec have the same digest
// changes the status alone, so it needs only the status subresource's PUT:
// one request instead of two for most controller writes (phases,
// conditions, admissions), each of which is a full write on the API server
// (decoding, schema validation, managed fields) even when it changes
// nothing.
type written struct {
	mu      sync.Mutex
	entries map[string]writtenEntry
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

// statusOnly says whether obj differs from the object stored at its
// resourceVersion in status alone: its metadata and spec are what this
// client last wrote at that revision.
func (w *written) statusOnly(k v1alpha1.Kind, obj v1alpha1.Object) bool {
	rv := obj.GetResourceVersion()
	if rv == "" {
		return false
	}
	w.mu.Lock()
	e, ok := w.entries[writtenKey(k, obj.GetNamespace(), obj.GetName())]
	w.mu.Unlock()
	if !ok || e.rv != rv {
		return false
	}
	d, ok := metaSpecDigest(obj)
	return ok && d == e.digest
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
