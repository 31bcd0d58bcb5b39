package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff.dev/skiff/api/v1alpha1"
)

// cascade deletes the dependents of an object that has just gone
// (background cascading deletion, done inline so callers and tests see a
// settled state when Delete returns). It is best effort by design: the owner
// is already gone and reporting an error would make the caller believe the
// delete failed. Whatever a crash or an error leaves behind, CollectGarbage
// removes at the next start.
func (s *store) cascade(ctx context.Context, owner v1alpha1.Kind, namespace string, uid types.UID) {
	if uid == "" {
		return
	}
	// The cascade goes on when the caller has gone: the owner already has.
	ctx = context.WithoutCancel(ctx)
	// Recorded before the dependents are looked for: a dependent created
	// after that look finds its owner here (see collectIfOrphaned).
	ownerNS := ""
	if owner.Namespaced {
		ownerNS = namespace
	}
	s.gone.add(uid, ownerNS)
	deps, err := s.kv.dependents(ctx, string(uid))
	if err != nil {
		return
	}
	for _, d := range deps {
		// A namespaced owner can only own objects in its own namespace;
		// a reference from elsewhere is invalid and ignored, as in Kubernetes.
		if owner.Namespaced && d.namespace != namespace {
			continue
		}
		_ = s.collect(ctx, d)
	}
}

// collectIfOrphaned collects a just-written object (created, or updated
// to name new owners) whose owner references name an object this store
// removed lately. Its write may have committed after the owner's cascade
// looked for dependents, which then missed it; found here, it goes at once
// (as the Kubernetes garbage collector deletes dependents of absent owners)
// instead of at the next start. An owner removed before this store opened,
// or too long ago to be remembered, is left to CollectGarbage. As in
// cascade, a namespaced owner counts only for objects of its namespace.
func (s *store) collectIfOrphaned(ctx context.Context, k key, refs []metav1.OwnerReference) {
	if len(refs) == 0 || !s.gone.anyOf(k.namespace, refs) {
		return
	}
	// Best effort, as cascade: the write itself succeeded, and the caller
	// going away does not make the object less orphaned.
	_ = s.collect(context.WithoutCancel(ctx), k)
}

// goneOwners remembers the uids of the objects this store removed last
// (up to goneRemembered of them), each with its namespace ("" for a
// cluster-scoped object).
type goneOwners struct {
	mu   sync.Mutex
	ring []types.UID
	next int
	set  map[types.UID]string
}

// goneRemembered bounds the removed uids kept: a dependent's create races
// with its owner's cascade for milliseconds, and a controller acting on a
// stale cache for seconds, not for thousands of removals.
const goneRemembered = 16384

func (g *goneOwners) add(uid types.UID, namespace string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.set == nil {
		g.set = make(map[types.UID]string)
		g.ring = make([]types.UID, goneRemembered)
	}
	if old := g.ring[g.next]; old != "" {
		delete(g.set, old)
	}
	g.ring[g.next] = uid
	g.next = (g.next + 1) % len(g.ring)
	g.set[uid] = namespace
}

// anyOf reports whether one of refs, on an object in namespace, names a
// remembered uid of that namespace or of a cluster-scoped object.
func (g *goneOwners) anyOf(namespace string, refs []metav1.OwnerReference) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, r := range refs {
		if ns, ok := g.set[r.UID]; ok && r.UID != "" && (ns == "" || ns == namespace) {
			return true
		}
	}
	return false
}

// collect deletes the object at k when none of its owners exists any more.
// An object with one live owner left is kept: it still has a parent.
func (s *store) collect(ctx context.Context, k key) error {
	kind, ok := v1alpha1.LookupKind(k.kind)
	if !ok {
		return fmt.Errorf("collect %s: unknown kind", k)
	}
	for attempt := 0; attempt < 8; attempt++ {
		raw, rev, err := s.kv.get(ctx, k)
		if errors.Is(err, errKeyNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("collect %s: %w", k, err)
		}
		env, err := decodeEnvelope(raw)
		if err != nil {
			return fmt.Errorf("collect %s: %w", k, err)
		}
		orphan, err := s.orphaned(ctx, k.namespace, env.Metadata.OwnerReferences)
		if err != nil || !orphan {
			return err
		}
		// The precondition makes sure we delete what we judged: an update
		// in between (e.g. a new owner reference) makes us look again.
		err = s.Delete(ctx, kind, k.namespace, k.name, DeleteOptions{ResourceVersion: formatRV(rev)})
		switch {
		case apierrors.IsConflict(err):
			continue
		case apierrors.IsNotFound(err):
			return nil
		default:
			return err
		}
	}
	return fmt.Errorf("collect %s: kept changing", k)
}

// orphaned reports whether an object with these owner references has lost
// all of its owners. Objects without owners are never orphans. References
// to kinds this store does not serve are assumed alive: deleting on a guess
// would destroy data.
func (s *store) orphaned(ctx context.Context, namespace string, refs []metav1.OwnerReference) (bool, error) {
	if len(refs) == 0 {
		return false, nil
	}
	for _, ref := range refs {
		alive, err := s.ownerAlive(ctx, namespace, ref)
		if err != nil || alive {
			return false, err
		}
	}
	return true, nil
}

func (s *store) ownerAlive(ctx context.Context, namespace string, ref metav1.OwnerReference) (bool, error) {
	kind, ok := v1alpha1.LookupKind(ref.Kind)
	if !ok || kind.Kind != ref.Kind || (ref.APIVersion != "" && ref.APIVersion != v1alpha1.APIVersion) {
		return true, nil
	}
	raw, _, err := s.kv.get(ctx, objectKey(kind, namespace, ref.Name))
	if errors.Is(err, errKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up owner %s %s: %w", ref.Kind, ref.Name, err)
	}
	env, err := decodeEnvelope(raw)
	if err != nil {
		return false, err
	}
	// Same name, different uid: the owner was deleted and recreated, and the
	// new object does not own this one.
	return ref.UID == "" || env.Metadata.UID == ref.UID, nil
}

// CollectGarbage scans every kind for objects whose owners are all gone and
// deletes them. Only keys are kept in memory during the scan.
func (s *store) CollectGarbage(ctx context.Context) error {
	var candidates []key
	for _, kind := range v1alpha1.Kinds() {
		_, err := s.kv.list(ctx, listFilter{kind: kind.Kind}, func(raw []byte) error {
			env, err := decodeEnvelope(raw)
			if err != nil {
				return err
			}
			if len(env.Metadata.OwnerReferences) > 0 {
				candidates = append(candidates, objectKey(kind, env.Metadata.Namespace, env.Metadata.Name))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("collect garbage: list %s: %w", kind.Plural, err)
		}
	}
	var errs []error
	for _, k := range candidates {
		if err := s.collect(ctx, k); err != nil {
			errs = append(errs, err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("collect garbage: %w", err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("collect garbage: %w", err)
	}
	return nil
}
