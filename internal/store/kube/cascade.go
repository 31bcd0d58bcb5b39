package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

// ref is what cascading needs of an object: where it is and who owns it.
type ref struct {
	kind v1alpha1.Kind
	meta metav1.ObjectMeta
}

// listMeta lists the metadata of every object of kind in namespace ns (""
// for all).
func (s *Store) listMeta(ctx context.Context, kind v1alpha1.Kind, ns string) ([]ref, error) {
	var out []ref
	_, err := s.ListRaw(ctx, kind, store.ListOptions{Namespace: ns}, func(raw []byte) error {
		var o struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			return err
		}
		out = append(out, ref{kind: kind, meta: o.Metadata})
		return nil
	})
	return out, err
}

// cascade deletes the skiff objects owned by uid, an object of kind owner
// that has just gone, unless another owner of theirs still lives. It is
// best effort, like the embedded stores' cascade: the owner is gone, and
// CollectGarbage (and, on a cluster, the garbage collector) removes what an
// error leaves behind.
func (s *Store) cascade(ctx context.Context, owner v1alpha1.Kind, ns, uid string) {
	if uid == "" {
		return
	}
	for _, k := range v1alpha1.Kinds() {
		if owner.Namespaced && !k.Namespaced {
			continue // a namespaced owner cannot own cluster objects
		}
		listNS := ""
		if owner.Namespaced {
			listNS = ns
		}
		objs, err := s.listMeta(ctx, k, listNS)
		if err != nil {
			continue
		}
		for _, d := range objs {
			if !ownedBy(d.meta.OwnerReferences, uid) {
				continue
			}
			if orphan, err := s.orphaned(ctx, d.meta.Namespace, d.meta.OwnerReferences, nil); err != nil || !orphan {
				continue
			}
			_ = s.Delete(ctx, k, d.meta.Namespace, d.meta.Name, store.DeleteOptions{})
		}
	}
}

func ownedBy(refs []metav1.OwnerReference, uid string) bool {
	for _, r := range refs {
		if string(r.UID) == uid {
			return true
		}
	}
	return false
}

// orphaned says whether every owner of an object in namespace ns is a
// skiff object that no longer exists. An owner of another API group may
// live (Skiff cannot tell), so it keeps the object. live, when not nil,
// answers from a listing instead of reading each owner.
func (s *Store) orphaned(ctx context.Context, ns string, refs []metav1.OwnerReference, live map[string]bool) (bool, error) {
	if len(refs) == 0 {
		return false, nil
	}
	for _, r := range refs {
		gv, err := schema.ParseGroupVersion(r.APIVersion)
		if err != nil || gv.Group != v1alpha1.Group {
			return false, nil
		}
		k, ok := v1alpha1.LookupKind(r.Kind)
		if !ok {
			return false, nil
		}
		if live != nil {
			if live[string(r.UID)] {
				return false, nil
			}
			continue
		}
		o := k.New()
		err = s.Get(ctx, ns, r.Name, o)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return false, err
		case o.GetUID() == r.UID:
			return false, nil
		}
	}
	return true, nil
}

// CollectGarbage deletes skiff objects whose skiff owners are all gone,
// e.g. left behind by a process that stopped between a delete and its
// cascade.
func (s *Store) CollectGarbage(ctx context.Context) error {
	live := map[string]bool{}
	var all []ref
	for _, k := range v1alpha1.Kinds() {
		objs, err := s.listMeta(ctx, k, "")
		if err != nil {
			return fmt.Errorf("collecting garbage: listing %s: %w", k.Plural, err)
		}
		for _, o := range objs {
			live[string(o.meta.UID)] = true
		}
		all = append(all, objs...)
	}
	var errs []error
	for _, o := range all {
		orphan, err := s.orphaned(ctx, o.meta.Namespace, o.meta.OwnerReferences, live)
		if err != nil || !orphan {
			continue
		}
		if err := s.Delete(ctx, o.kind, o.meta.Namespace, o.meta.Name, store.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("collecting garbage: %w", err)
	}
	return nil
}
