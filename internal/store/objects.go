package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
)

// DefaultWatchHistory is how many recent changes (of all kinds together) a
// store keeps for watch replay when Options.WatchHistory is zero.
const DefaultWatchHistory = 10000

// Options tune a store. The zero value is the default.
type Options struct {
	// WatchHistory is how many recent changes are kept in memory for
	// watches that start at an older resourceVersion. A watch from before
	// the history gets 410 Expired.
	WatchHistory int
}

func (o Options) watchHistory() int {
	if o.WatchHistory <= 0 {
		return DefaultWatchHistory
	}
	return o.WatchHistory
}

// generateNameAttempts bounds retries when a generated name is taken.
const generateNameAttempts = 8

// store implements Store's Kubernetes semantics once, over any backend.
type store struct {
	kv      backend
	hub     *hub
	clock   Clock
	written *writtenMeta
	// gone holds the uids of objects removed lately, for dependents
	// written after their owner's cascade (cascade.go).
	gone goneOwners

	closeOnce sync.Once
	closeErr  error
}

func newStore(kv backend, h *hub, clock Clock) *store {
	if clock == nil {
		panic("store: nil Clock")
	}
	return &store{kv: kv, hub: h, clock: clock, written: newWrittenMeta(writtenMetaPerGen)}
}

// now is the store's notion of time, truncated to what metav1.Time keeps in
// JSON, so a returned object equals what a later Get decodes.
func (s *store) now() metav1.Time {
	return metav1.NewTime(s.clock().Truncate(time.Second).Local())
}

func conflict(kind v1alpha1.Kind, name, why string) error {
	return apierrors.NewConflict(kind.GroupResource(), name, errors.New(why))
}

const modifiedMsg = "the object has been modified; please apply your changes to the latest version and try again"

// objectKey derives the key of obj, normalising the namespace of
// cluster-scoped kinds to "".
func objectKey(kind v1alpha1.Kind, namespace, name string) key {
	if !kind.Namespaced {
		namespace = ""
	}
	return key{kind: kind.Kind, namespace: namespace, name: name}
}

func (s *store) Create(ctx context.Context, obj v1alpha1.Object) error {
	kind, err := v1alpha1.KindOf(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	gk := v1alpha1.GroupVersion.WithKind(kind.Kind).GroupKind()
	var errs field.ErrorList
	if obj.GetName() == "" && obj.GetGenerateName() == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), "set metadata.name or metadata.generateName"))
	}
	if kind.Namespaced && obj.GetNamespace() == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "namespace"), kind.Plural+" are namespaced: set metadata.namespace"))
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(gk, obj.GetName(), errs)
	}

	// Work on a copy so that obj changes only when the create succeeds.
	c := obj.DeepCopyObject().(v1alpha1.Object)
	if !kind.Namespaced {
		c.SetNamespace("")
	}
	c.SetUID(types.UID(newUID()))
	c.SetCreationTimestamp(s.now())
	c.SetGeneration(1)
	c.SetDeletionTimestamp(nil)
	c.SetDeletionGracePeriodSeconds(nil)
	c.SetResourceVersion("")

	generated := c.GetName() == ""
	for attempt := 0; ; attempt++ {
		if generated {
			c.SetName(c.GetGenerateName() + generateNameSuffix())
		}
		raw, err := encodeWithoutRV(c)
		if err != nil {
			return err
		}
		k := objectKey(kind, c.GetNamespace(), c.GetName())
		rev, err := s.kv.apply(ctx, op{
			key: k, expect: 0, owners: ownerUIDs(c.GetOwnerReferences()),
			encode: func(rev int64) ([]byte, error) { return spliceRV(raw, rev) },
		})
		var mismatch *casMismatchError
		if errors.As(err, &mismatch) {
			if generated && attempt+1 < generateNameAttempts {
				continue
			}
			return apierrors.NewAlreadyExists(kind.GroupResource(), c.GetName())
		}
		if err != nil {
			return fmt.Errorf("create %s: %w", k, err)
		}
		s.written.remember(k, rev, storedMetaOf(c, specJSON(raw)))
		if err := adopt(obj, c, rev); err != nil {
			return err
		}
		s.collectIfOrphaned(ctx, k, c.GetOwnerReferences())
		return nil
	}
}

// adopt makes the caller's obj the object just stored at rev. written is
// the store's own copy (what was encoded), so handing it over is safe and
// saves decoding the stored bytes again, which is a quarter of a create's
// CPU time.
func adopt(obj, written v1alpha1.Object, rev int64) error {
	written.SetResourceVersion(formatRV(rev))
	reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(written).Elem())
	return nil
}

func (s *store) Get(ctx context.Context, namespace, name string, into v1alpha1.Object) error {
	kind, err := v1alpha1.KindOf(into)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	k := objectKey(kind, namespace, name)
	raw, _, err := s.kv.get(ctx, k)
	if errors.Is(err, errKeyNotFound) {
		return apierrors.NewNotFound(kind.GroupResource(), name)
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", k, err)
	}
	return decodeInto(raw, into)
}

func (s *store) Update(ctx context.Context, obj v1alpha1.Object) error {
	kind, err := v1alpha1.KindOf(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	k := objectKey(kind, obj.GetNamespace(), obj.GetName())
	var want int64
	if rv := obj.GetResourceVersion(); rv != "" {
		if want, err = strconv.ParseInt(rv, 10, 64); err != nil || want <= 0 {
			return apierrors.NewBadRequest(fmt.Sprintf("metadata.resourceVersion %q is not a revision: use the value from the last read", rv))
		}
	}
	// The first try may start from what this store itself last wrote
	// (written); a retry reads the stored object.
	remembered := true
	for {
		cur, curRev, err := s.current(ctx, k, want, remembered)
		remembered = false
		if errors.Is(err, errKeyNotFound) {
			return apierrors.NewNotFound(kind.GroupResource(), k.name)
		}
		if err != nil {
			return fmt.Errorf("update %s: %w", k, err)
		}
		if want != 0 && want != curRev {
			return conflict(kind, k.name, modifiedMsg)
		}
		if uid := obj.GetUID(); uid != "" && uid != cur.meta.UID {
			return conflict(kind, k.name, fmt.Sprintf("metadata.uid %s does not match the stored object's %s: it was deleted and recreated", uid, cur.meta.UID))
		}
		next, raw, spec, err := s.prepareUpdate(kind, obj, &cur)
		if err != nil {
			return err
		}
		// An object being deleted goes once its last finalizer is removed.
		remove := cur.meta.DeletionTimestamp != nil && len(next.GetFinalizers()) == 0
		rev, err := s.kv.apply(ctx, op{
			key: k, expect: curRev, del: remove, owners: ownerUIDs(next.GetOwnerReferences()),
			encode: func(rev int64) ([]byte, error) { return spliceRV(raw, rev) },
		})
		var mismatch *casMismatchError
		if errors.As(err, &mismatch) {
			if mismatch.current == 0 {
				return apierrors.NewNotFound(kind.GroupResource(), k.name)
			}
			if want != 0 {
				return conflict(kind, k.name, modifiedMsg)
			}
			continue // unconditional update: retry on the newer version
		}
		if err != nil {
			return fmt.Errorf("update %s: %w", k, err)
		}
		if remove {
			s.written.forget(k)
			s.cascade(ctx, kind, k.namespace, cur.meta.UID)
		} else {
			s.written.remember(k, rev, storedMetaOf(next, spec))
		}
		if err := adopt(obj, next, rev); err != nil {
			return err
		}
		if !remove {
			s.collectIfOrphaned(ctx, k, next.GetOwnerReferences())
		}
		return nil
	}
}

// current returns what Update needs of the stored object at k and its
// revision. With remembered, an object this store wrote last at the
// revision the caller read (any revision, for an unconditional update)
// is taken from memory instead of being read and decoded.
func (s *store) current(ctx context.Context, k key, want int64, remembered bool) (storedMeta, int64, error) {
	if remembered {
		if e, ok := s.written.lookup(k); ok && (want == 0 || want == e.rev) {
			return e.stored, e.rev, nil
		}
	}
	raw, rev, err := s.kv.get(ctx, k)
	if err != nil {
		return storedMeta{}, 0, err
	}
	env, err := decodeEnvelope(raw)
	if err != nil {
		return storedMeta{}, 0, err
	}
	return storedMetaOf(&env.Metadata, env.Spec), rev, nil
}

// prepareUpdate builds the object to store from the caller's obj and the
// stored metadata: fields the server owns are kept, and generation is bumped
// when the spec changed. It returns the new object, its encoding (without
// resourceVersion) and its spec's JSON.
func (s *store) prepareUpdate(kind v1alpha1.Kind, obj v1alpha1.Object, cur *storedMeta) (v1alpha1.Object, []byte, []byte, error) {
	next := obj.DeepCopyObject().(v1alpha1.Object)
	m := &cur.meta
	next.SetNamespace(m.Namespace)
	next.SetUID(m.UID)
	next.SetCreationTimestamp(m.CreationTimestamp)
	// Copies: m may be remembered (written) and next goes to the caller.
	next.SetDeletionTimestamp(m.DeletionTimestamp.DeepCopy())
	var grace *int64
	if m.DeletionGracePeriodSeconds != nil {
		g := *m.DeletionGracePeriodSeconds
		grace = &g
	}
	next.SetDeletionGracePeriodSeconds(grace)
	next.SetGeneration(m.Generation)
	next.SetGenerateName(m.GenerateName)
	if m.DeletionTimestamp != nil {
		for _, f := range next.GetFinalizers() {
			if !slices.Contains(m.Finalizers, f) {
				gk := v1alpha1.GroupVersion.WithKind(kind.Kind).GroupKind()
				return nil, nil, nil, apierrors.NewInvalid(gk, m.Name, field.ErrorList{field.Forbidden(
					field.NewPath("metadata", "finalizers"),
					fmt.Sprintf("no new finalizers can be added while the object is being deleted (got %q)", f))})
			}
		}
	}
	raw, err := encodeWithoutRV(next)
	if err != nil {
		return nil, nil, nil, err
	}
	spec := specJSON(raw)
	if sha256.Sum256(spec) != cur.spec {
		next.SetGeneration(m.Generation + 1)
		if raw, err = encodeWithoutRV(next); err != nil {
			return nil, nil, nil, err
		}
		spec = specJSON(raw)
	}
	return next, raw, spec, nil
}

func (s *store) Delete(ctx context.Context, kind v1alpha1.Kind, namespace, name string, opts DeleteOptions) error {
	if kind.New == nil {
		return apierrors.NewBadRequest("delete: kind is not set")
	}
	k := objectKey(kind, namespace, name)
	var want int64
	if rv := opts.ResourceVersion; rv != "" {
		var err error
		if want, err = strconv.ParseInt(rv, 10, 64); err != nil || want <= 0 {
			return apierrors.NewBadRequest(fmt.Sprintf("preconditions.resourceVersion %q is not a revision", rv))
		}
	}
	for {
		curRaw, curRev, err := s.kv.get(ctx, k)
		if errors.Is(err, errKeyNotFound) {
			return apierrors.NewNotFound(kind.GroupResource(), name)
		}
		if err != nil {
			return fmt.Errorf("delete %s: %w", k, err)
		}
		if want != 0 && want != curRev {
			return conflict(kind, name, "precondition failed: "+modifiedMsg)
		}
		obj := kind.New()
		if err := decodeInto(curRaw, obj); err != nil {
			return fmt.Errorf("delete %s: %w", k, err)
		}
		o := op{key: k, expect: curRev}
		if len(obj.GetFinalizers()) > 0 {
			if obj.GetDeletionTimestamp() != nil {
				return nil // already being deleted; finalizers decide when it goes
			}
			// Kubernetes bumps generation when deletion starts so that
			// controllers watching observedGeneration notice.
			now := s.now()
			zero := int64(0)
			obj.SetDeletionTimestamp(&now)
			obj.SetDeletionGracePeriodSeconds(&zero)
			obj.SetGeneration(obj.GetGeneration() + 1)
			o.owners = ownerUIDs(obj.GetOwnerReferences())
		} else {
			o.del = true
		}
		raw, err := encodeWithoutRV(obj)
		if err != nil {
			return err
		}
		o.encode = func(rev int64) ([]byte, error) { return spliceRV(raw, rev) }
		_, err = s.kv.apply(ctx, o)
		var mismatch *casMismatchError
		if errors.As(err, &mismatch) {
			if mismatch.current == 0 {
				return apierrors.NewNotFound(kind.GroupResource(), name)
			}
			if want != 0 {
				return conflict(kind, name, "precondition failed: "+modifiedMsg)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("delete %s: %w", k, err)
		}
		if o.del {
			s.written.forget(k)
			s.cascade(ctx, kind, k.namespace, obj.GetUID())
		}
		return nil
	}
}

func (s *store) List(ctx context.Context, into v1alpha1.ObjectList, opts ListOptions) error {
	kind, err := kindOfList(into)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	lv := reflect.ValueOf(into)
	if lv.Kind() != reflect.Pointer || lv.IsNil() {
		return apierrors.NewBadRequest(fmt.Sprintf("list into %T: need a non-nil pointer", into))
	}
	items := lv.Elem().FieldByName("Items")
	elem := items.Type().Elem()
	out := reflect.MakeSlice(items.Type(), 0, 0)
	rev, err := s.ListRaw(ctx, kind, opts, func(raw []byte) error {
		item := reflect.New(elem)
		if err := decodeInto(raw, item.Interface().(v1alpha1.Object)); err != nil {
			return err
		}
		out = reflect.Append(out, item.Elem())
		return nil
	})
	if err != nil {
		return err
	}
	lv.Elem().SetZero()
	into.GetObjectKind().SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(kind.Kind + "List"))
	into.SetResourceVersion(formatRV(rev))
	items.Set(out)
	return nil
}

func (s *store) ListRaw(ctx context.Context, kind v1alpha1.Kind, opts ListOptions, fn func(raw []byte) error) (int64, error) {
	if kind.New == nil {
		return 0, apierrors.NewBadRequest("list: kind is not set")
	}
	f := listFilter{kind: kind.Kind, name: opts.FieldName}
	if kind.Namespaced {
		f.namespace = opts.Namespace
	}
	rev, err := s.kv.list(ctx, f, func(raw []byte) error {
		ok, err := matchesLabels(opts.LabelSelector, raw)
		if err != nil || !ok {
			return err
		}
		return fn(raw)
	})
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", kind.Plural, err)
	}
	return rev, nil
}

func (s *store) Watch(ctx context.Context, kind v1alpha1.Kind, opts ListOptions) (watch.Interface, error) {
	if kind.New == nil {
		return nil, apierrors.NewBadRequest("watch: kind is not set")
	}
	rev := s.hub.revision()
	if rv := opts.ResourceVersion; rv != "" {
		var err error
		if rev, err = strconv.ParseInt(rv, 10, 64); err != nil || rev < 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("resourceVersion %q is not a revision: use the one from a list", rv))
		}
	}
	w := &watcher{h: s.hub, kind: kind, opts: opts, result: make(chan watch.Event), stop: make(chan struct{})}
	go w.run(ctx, rev)
	return w, nil
}

func (s *store) Revision() int64 { return s.hub.revision() }

func (s *store) Close() error {
	s.closeOnce.Do(func() {
		s.hub.close()
		s.closeErr = s.kv.close()
	})
	return s.closeErr
}
