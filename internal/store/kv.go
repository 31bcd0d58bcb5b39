package store

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/watch"
)

// This file is the seam between the Kubernetes semantics (objects.go,
// cascade.go, watch.go), which live once, and the backends (memory.go,
// sqlite.go), which only know a revisioned key/value map. Keeping the seam
// this small is what lets every backend behave identically: a backend cannot
// get uid, generation, finalizers or cascading wrong because it never sees
// them.

// key addresses one object. Cluster-scoped kinds use an empty namespace.
type key struct {
	kind      string // v1alpha1.Kind.Kind, e.g. "Job"
	namespace string
	name      string
}

func (k key) String() string {
	if k.namespace == "" {
		return k.kind + " " + k.name
	}
	return k.kind + " " + k.namespace + "/" + k.name
}

// op is one single-key compare-and-swap. It succeeds only when the key's
// current modification revision equals expect (0: the key must be absent).
// The backend assigns the next store revision and only then calls encode, so
// the stored bytes already carry metadata.resourceVersion and readers can
// stream them unchanged.
type op struct {
	key    key
	expect int64
	// del removes the key; encode then produces the final state that DELETED
	// watch events carry (it is not stored).
	del    bool
	encode func(rev int64) ([]byte, error)
	// owners are the uids in the new value's ownerReferences; the backend
	// indexes them so that a cascade finds dependents without a full scan.
	owners []string
}

// change is one committed write, reported to the watch hub in revision order.
type change struct {
	typ  watch.EventType // Added, Modified or Deleted
	key  key
	rev  int64
	raw  []byte // the new value, or the final state for Deleted
	prev []byte // the value before, nil for Added
}

// casMismatchError reports that an op's expected revision was not the
// current one. current is 0 when the key does not exist.
type casMismatchError struct {
	key     key
	current int64
}

func (e *casMismatchError) Error() string {
	return fmt.Sprintf("%s: expected another revision (current %d)", e.key, e.current)
}

// errKeyNotFound is what backend.get returns for an absent key.
var errKeyNotFound = errors.New("key not found")

// errClosed is returned by operations on a closed store.
var errClosed = errors.New("store is closed")

// listFilter narrows a backend listing; empty fields match everything.
type listFilter struct {
	kind      string
	namespace string
	name      string
}

// backend is a revisioned key/value map with one store-wide, strictly
// increasing revision counter. Implementations must call the publish
// function they were built with for every committed change, in revision
// order, before apply returns to any writer of that commit.
type backend interface {
	// get returns the value and modification revision of k, or
	// errKeyNotFound. The returned bytes must not be modified.
	get(ctx context.Context, k key) ([]byte, int64, error)
	// list calls fn for each value matching f in namespace/name order from
	// one consistent snapshot and returns the revision of that snapshot. raw
	// is valid only during the call and must not be modified.
	list(ctx context.Context, f listFilter, fn func(raw []byte) error) (int64, error)
	// dependents returns the keys whose values name ownerUID in their
	// ownerReferences.
	dependents(ctx context.Context, ownerUID string) ([]key, error)
	// apply runs one compare-and-swap and returns the revision it committed
	// at, or a *casMismatchError.
	apply(ctx context.Context, o op) (int64, error)
	// revision is the newest committed revision.
	revision() int64
	close() error
}
