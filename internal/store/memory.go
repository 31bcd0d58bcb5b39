package store

import (
	"context"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/watch"
)

// NewMemory returns a Store that keeps everything in memory. It is meant for
// tests and the simulator: nothing survives the process.
func NewMemory(clock Clock) Store {
	return NewMemoryWithOptions(clock, Options{})
}

// NewMemoryWithOptions is NewMemory with tunables (e.g. a short watch
// history so tests can provoke 410 Expired cheaply).
func NewMemoryWithOptions(clock Clock, opts Options) Store {
	h := newHub(0, opts.watchHistory())
	return newStore(newMemoryKV(h.publish), h, clock)
}

type memEntry struct {
	raw    []byte
	rev    int64
	owners []string
}

// memoryKV is the in-memory backend. One mutex serialises writes, which also
// makes publish calls happen in revision order.
type memoryKV struct {
	publish func([]change)

	mu     sync.RWMutex
	rev    int64
	closed bool
	data   map[key]memEntry
	owned  map[string]map[key]struct{} // owner uid -> dependents
}

func newMemoryKV(publish func([]change)) *memoryKV {
	return &memoryKV{
		publish: publish,
		data:    map[key]memEntry{},
		owned:   map[string]map[key]struct{}{},
	}
}

func (m *memoryKV) get(ctx context.Context, k key) ([]byte, int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, 0, errClosed
	}
	e, ok := m.data[k]
	if !ok {
		return nil, 0, errKeyNotFound
	}
	return e.raw, e.rev, nil
}

func (m *memoryKV) list(ctx context.Context, f listFilter, fn func(raw []byte) error) (int64, error) {
	// Collect under the lock (values are immutable once stored), call fn
	// outside it so a slow consumer does not block writers.
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return 0, errClosed
	}
	rev := m.rev
	var keys []key
	for k := range m.data {
		if k.kind == f.kind && (f.namespace == "" || k.namespace == f.namespace) && (f.name == "" || k.name == f.name) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := strings.Compare(a.namespace, b.namespace); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	raws := make([][]byte, len(keys))
	for i, k := range keys {
		raws[i] = m.data[k].raw
	}
	m.mu.RUnlock()

	for _, raw := range raws {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err := fn(raw); err != nil {
			return 0, err
		}
	}
	return rev, nil
}

func (m *memoryKV) dependents(ctx context.Context, ownerUID string) ([]key, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, errClosed
	}
	var out []key
	for k := range m.owned[ownerUID] {
		out = append(out, k)
	}
	return out, nil
}

func (m *memoryKV) apply(ctx context.Context, o op) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, errClosed
	}
	cur, exists := m.data[o.key]
	if cur.rev != o.expect {
		return 0, &casMismatchError{key: o.key, current: cur.rev}
	}
	rev := m.rev + 1
	raw, err := o.encode(rev)
	if err != nil {
		return 0, err
	}
	m.unindex(o.key, cur.owners)
	ch := change{key: o.key, rev: rev, raw: raw, prev: cur.raw}
	switch {
	case o.del:
		delete(m.data, o.key)
		ch.typ = watch.Deleted
	default:
		m.data[o.key] = memEntry{raw: raw, rev: rev, owners: o.owners}
		m.index(o.key, o.owners)
		ch.typ = watch.Modified
		if !exists {
			ch.typ = watch.Added
		}
	}
	m.rev = rev
	m.publish([]change{ch})
	return rev, nil
}

func (m *memoryKV) index(k key, owners []string) {
	for _, uid := range owners {
		deps := m.owned[uid]
		if deps == nil {
			deps = map[key]struct{}{}
			m.owned[uid] = deps
		}
		deps[k] = struct{}{}
	}
}

func (m *memoryKV) unindex(k key, owners []string) {
	for _, uid := range owners {
		delete(m.owned[uid], k)
		if len(m.owned[uid]) == 0 {
			delete(m.owned, uid)
		}
	}
}

func (m *memoryKV) revision() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.rev
}

func (m *memoryKV) close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
