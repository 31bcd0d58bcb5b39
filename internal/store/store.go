package store

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
)

// Store keeps skiff.dev/v1alpha1 objects with Kubernetes semantics:
//
//   - Create assigns metadata.uid, metadata.creationTimestamp (from the
//     clock), metadata.generation=1 and metadata.resourceVersion, and fails
//     with an AlreadyExists StatusError when the name is taken. GenerateName
//     is honoured when Name is empty.
//   - resourceVersion is a decimal string of one store-wide, strictly
//     increasing revision. Update fails with a Conflict StatusError when
//     obj's resourceVersion is not the stored one (an empty resourceVersion
//     means "unconditional"). Update keeps uid and creationTimestamp and
//     bumps generation when the "spec" field changed.
//   - Delete of an object with finalizers only sets deletionTimestamp; the
//     object goes when an Update leaves it without finalizers. When an
//     object goes, its dependents (objects of any kind in the same namespace,
//     or any namespace for a cluster-scoped owner, whose ownerReferences name
//     its uid) are deleted in turn (background cascading deletion).
//   - List returns a typed list (e.g. *v1alpha1.JobList) with
//     metadata.resourceVersion set to the store revision it reflects.
//   - Watch streams ADDED/MODIFIED/DELETED events after a resourceVersion;
//     an ERROR event carrying a 410 Expired Status is sent when that version
//     is too old to replay, after which the client relists.
//
// Errors are *apierrors.StatusError from k8s.io/apimachinery/pkg/api/errors,
// so apierrors.IsNotFound, IsConflict, IsAlreadyExists and the HTTP layer
// understand them directly. The kind is derived from the object's Go type
// (v1alpha1.KindOf); cluster-scoped kinds use an empty namespace.
//
// Every method is safe for concurrent use. An acknowledged write is durable
// in durable backends (SQLite commits with fsync before returning).
type Store interface {
	Create(ctx context.Context, obj v1alpha1.Object) error
	Get(ctx context.Context, namespace, name string, into v1alpha1.Object) error
	Update(ctx context.Context, obj v1alpha1.Object) error
	// Delete removes an object or, when it has finalizers, marks it deleted.
	// Preconditions.ResourceVersion, when set, must match.
	Delete(ctx context.Context, kind v1alpha1.Kind, namespace, name string, opts DeleteOptions) error
	// List fills into (a *v1alpha1.XList). Namespace "" lists all namespaces.
	List(ctx context.Context, into v1alpha1.ObjectList, opts ListOptions) error
	// ListRaw calls fn with each matching object's stored JSON, in
	// namespace/name order, without decoding it (for large list responses),
	// and returns the revision the listing reflects.
	ListRaw(ctx context.Context, kind v1alpha1.Kind, opts ListOptions, fn func(raw []byte) error) (revision int64, err error)
	Watch(ctx context.Context, kind v1alpha1.Kind, opts ListOptions) (watch.Interface, error)
	// Revision is the newest committed revision.
	Revision() int64
	// CollectGarbage deletes objects whose owners are gone (e.g. after a
	// crash in the middle of a cascade). The server calls it at start.
	CollectGarbage(ctx context.Context) error
	Close() error
}

// ListOptions narrow a List, ListRaw or Watch.
type ListOptions struct {
	// Namespace "" means all namespaces (and is required for cluster kinds).
	Namespace string
	// LabelSelector filters by metadata.labels; nil matches everything.
	LabelSelector labels.Selector
	// FieldName, when set, matches only the object with that metadata.name.
	FieldName string
	// ResourceVersion is where a Watch starts: events after it are sent.
	// Empty starts at the current revision (no replay).
	ResourceVersion string
	// Raw asks Watch for events whose Object is a *runtime.Unknown holding
	// the object's JSON as stored (apiVersion, kind and resourceVersion
	// included) instead of a decoded object, for callers that only pass it
	// on. A backend that cannot may send decoded objects: callers accept
	// both. The bytes are shared: read them, never change them.
	Raw bool
}

// DeleteOptions carry delete preconditions.
type DeleteOptions struct {
	// ResourceVersion, when set, must equal the stored one.
	ResourceVersion string
}

// Clock is the store's source of time for timestamps it assigns.
type Clock func() time.Time
