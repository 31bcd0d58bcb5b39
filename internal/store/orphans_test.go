package store_test

import (
	"path/filepath"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
	"skiff.dev/skiff/internal/store/storetest"
)

// A create, or an update adding an owner, that commits after the owner's
// cascade has looked for dependents (a controller acting on a cache that
// still holds the owner) leaves an object whose owner is gone. The embedded stores collect it at
// once, as the Kubernetes garbage collector deletes dependents of absent
// owners, instead of keeping it until the next start.
func TestDependentOfARemovedOwnerIsCollectedWhenWritten(t *testing.T) {
	stores := map[string]func(t *testing.T) store.Store{
		"memory": func(t *testing.T) store.Store {
			s := store.NewMemory(storetest.FixedClock)
			t.Cleanup(func() { s.Close() })
			return s
		},
		"sqlite": func(t *testing.T) store.Store {
			return openSQLite(t, filepath.Join(t.TempDir(), "skiff.db"))
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := t.Context()
			jobKind, _ := v1alpha1.LookupKind("Job")
			owner := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "owner"}}
			live := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "live"}}
			for _, j := range []*v1alpha1.Job{owner, live} {
				if err := s.Create(ctx, j); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Delete(ctx, jobKind, "team-a", "owner", store.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			ref := func(j *v1alpha1.Job) metav1.OwnerReference {
				return metav1.OwnerReference{APIVersion: v1alpha1.APIVersion, Kind: "Job", Name: j.Name, UID: j.UID}
			}
			eventIn := func(namespace, name string, owners ...*v1alpha1.Job) *v1alpha1.Event {
				e := &v1alpha1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
					InvolvedObject: v1alpha1.ObjectReference{Kind: "Job", Namespace: "team-a", Name: owners[0].Name},
					Reason:         "Started", Message: "started", Type: v1alpha1.EventNormal}
				for _, o := range owners {
					e.OwnerReferences = append(e.OwnerReferences, ref(o))
				}
				return e
			}
			event := func(name string, owners ...*v1alpha1.Job) *v1alpha1.Event {
				return eventIn("team-a", name, owners...)
			}
			for _, tc := range []struct {
				ev   *v1alpha1.Event
				kept bool
			}{
				{event("late", owner), false},
				{event("late-with-a-live-owner", owner, live), true},
				{event("of-the-live-job", live), true},
				// A namespaced owner owns nothing in another namespace; the
				// cascade leaves such an object alone, and so does this.
				{eventIn("team-b", "elsewhere", owner), true},
			} {
				if err := s.Create(ctx, tc.ev); err != nil {
					t.Fatalf("creating %s: %v", tc.ev.Name, err)
				}
				err := s.Get(ctx, tc.ev.Namespace, tc.ev.Name, &v1alpha1.Event{})
				switch {
				case tc.kept && err != nil:
					t.Errorf("%s: %v, want it kept", tc.ev.Name, err)
				case !tc.kept && !apierrors.IsNotFound(err):
					t.Errorf("%s: Get after create = %v, want NotFound (collected: its only owner is gone)", tc.ev.Name, err)
				}
			}

			// An update that names the removed owner (an adoption from a
			// stale cache) leaves the object as orphaned as a create would.
			adopted := event("adopted", live)
			if err := s.Create(ctx, adopted); err != nil {
				t.Fatal(err)
			}
			adopted.OwnerReferences = []metav1.OwnerReference{ref(owner)}
			if err := s.Update(ctx, adopted); err != nil {
				t.Fatal(err)
			}
			if err := s.Get(ctx, "team-a", "adopted", &v1alpha1.Event{}); !apierrors.IsNotFound(err) {
				t.Errorf("adopted: Get after update = %v, want NotFound (collected: its only owner is gone)", err)
			}
		})
	}
}
