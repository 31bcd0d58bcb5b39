package store

import (
	"crypto/sha256"
	"sync"

	"github.com/tidwall/gjson"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// storedMeta is what Update needs of the stored object it replaces: the
// metadata the server owns (kept whatever the caller sends) and a digest
// of the spec (a changed spec bumps metadata.generation).
type storedMeta struct {
	meta metav1.ObjectMeta // server-owned fields and finalizers only
	spec [sha256.Size]byte
}

// storedMetaOf keeps what Update needs of m and the spec's JSON.
func storedMetaOf(m metav1.Object, spec []byte) storedMeta {
	out := storedMeta{meta: metav1.ObjectMeta{
		Name:              m.GetName(),
		Namespace:         m.GetNamespace(),
		UID:               m.GetUID(),
		CreationTimestamp: m.GetCreationTimestamp(),
		Generation:        m.GetGeneration(),
		GenerateName:      m.GetGenerateName(),
		Finalizers:        append([]string(nil), m.GetFinalizers()...),
	}, spec: sha256.Sum256(spec)}
	if t := m.GetDeletionTimestamp(); t != nil {
		t := *t
		out.meta.DeletionTimestamp = &t
	}
	if g := m.GetDeletionGracePeriodSeconds(); g != nil {
		g := *g
		out.meta.DeletionGracePeriodSeconds = &g
	}
	return out
}

// specJSON returns the bytes of the top-level "spec" value of an encoded
// object (nil when it has none), the same bytes json.RawMessage would hold.
func specJSON(raw []byte) []byte {
	r := gjson.GetBytes(raw, "spec")
	if !r.Exists() {
		return nil
	}
	if r.Index > 0 && r.Index+len(r.Raw) <= len(raw) {
		return raw[r.Index : r.Index+len(r.Raw)]
	}
	return []byte(r.Raw)
}

// writtenMeta remembers the storedMeta of objects at the revision this
// store last wrote them. The usual write follows a read of the object this
// process wrote last (a controller updating what its informer shows), and
// the entry saves that write reading and decoding the stored object again.
// An entry is only a guess: the backend's compare-and-swap still checks
// the revision, and a write that finds another one retries from a read, so
// a stale entry costs a retry, never a wrong write.
//
// Entries live in two generations: lookups move an entry to the current
// one, and when it is full the older is dropped, so what was not used for
// a generation goes first and memory stays bounded.
type writtenMeta struct {
	mu       sync.Mutex
	cur, old map[key]writtenEntry
	perGen   int
}

type writtenEntry struct {
	rev    int64
	stored storedMeta
}

// writtenMetaPerGen bounds each generation: two of them hold at most
// 2×16,384 entries of a few hundred bytes each.
const writtenMetaPerGen = 16384

func newWrittenMeta(perGen int) *writtenMeta {
	return &writtenMeta{cur: map[key]writtenEntry{}, perGen: perGen}
}

// lookup returns the entry of k, if any.
func (w *writtenMeta) lookup(k key) (writtenEntry, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.cur[k]; ok {
		return e, true
	}
	e, ok := w.old[k]
	if ok {
		delete(w.old, k)
		w.put(k, e)
	}
	return e, ok
}

// remember records that k was written at rev; an older entry never
// replaces a newer one (two writers may finish in either order).
func (w *writtenMeta) remember(k key, rev int64, stored storedMeta) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.cur[k]; ok && e.rev >= rev {
		return
	}
	if e, ok := w.old[k]; ok {
		delete(w.old, k)
		if e.rev >= rev {
			w.put(k, e)
			return
		}
	}
	w.put(k, writtenEntry{rev: rev, stored: stored})
}

func (w *writtenMeta) put(k key, e writtenEntry) {
	if len(w.cur) >= w.perGen {
		w.old, w.cur = w.cur, make(map[key]writtenEntry, w.perGen)
	}
	w.cur[k] = e
}

// forget drops k (it was deleted).
func (w *writtenMeta) forget(k key) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.cur, k)
	delete(w.old, k)
}
