package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

var ownerCases = []testCase{
	{"finalizers delay deletion until removed", func(t *testing.T, s store.Store) {
		j := newJob("team-a", "train", withFinalizers("skiff.dev/replicas"))
		mustCreate(t, s, j)
		if err := s.Delete(t.Context(), jobKind, "team-a", "train", store.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		got := &v1alpha1.Job{}
		if !exists(t, s, "team-a", "train", got) {
			t.Fatal("an object with finalizers went at Delete")
		}
		if got.DeletionTimestamp == nil {
			t.Fatal("deletionTimestamp not set")
		}
		clockTime(t, s, "deletionTimestamp", got.DeletionTimestamp.Time)
		if got.Generation != 2 {
			t.Errorf("generation = %d, want 2 (bumped when deletion starts)", got.Generation)
		}
		// Deleting again changes nothing.
		rev := s.Revision()
		if err := s.Delete(t.Context(), jobKind, "team-a", "train", store.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if s.Revision() != rev {
			t.Error("a repeated Delete wrote")
		}
		// An update cannot clear the deletion mark or add finalizers.
		got.DeletionTimestamp = nil
		got.Finalizers = append(got.Finalizers, "skiff.dev/other")
		if err := s.Update(t.Context(), got); !apierrors.IsInvalid(err) {
			t.Fatalf("adding a finalizer during deletion = %v, want Invalid", err)
		}
		got.Finalizers = []string{"skiff.dev/replicas"}
		got.Status.Phase = v1alpha1.JobFailed
		if err := s.Update(t.Context(), got); err != nil {
			t.Fatal(err)
		}
		if got.DeletionTimestamp == nil {
			t.Error("Update cleared deletionTimestamp")
		}
		// Removing the last finalizer lets it go.
		got.Finalizers = nil
		if err := s.Update(t.Context(), got); err != nil {
			t.Fatal(err)
		}
		if exists(t, s, "team-a", "train", &v1alpha1.Job{}) {
			t.Error("object still there after its last finalizer was removed")
		}
	}},
	{"delete cascades to dependents", func(t *testing.T, s store.Store) {
		owner := newJob("team-a", "owner")
		mustCreate(t, s, owner)
		child := newJob("team-a", "child", ownedBy(owner))
		mustCreate(t, s, child)
		grandchild := newEvent("team-a", "grandchild", ownedBy(child))
		ev := newEvent("team-a", "event", ownedBy(owner))
		finalized := newJob("team-a", "finalized", ownedBy(owner), withFinalizers("skiff.dev/cleanup"))
		other := newJob("team-a", "other")
		mustCreate(t, s, grandchild, ev, finalized, other)
		twoOwners := newEvent("team-a", "two-owners", ownedBy(owner), ownedBy(other))
		// A namespaced owner cannot own objects in another namespace.
		elsewhere := newEvent("team-b", "elsewhere", ownedBy(owner))
		unrelated := newJob("team-a", "unrelated")
		mustCreate(t, s, twoOwners, elsewhere, unrelated)

		if err := s.Delete(t.Context(), jobKind, "team-a", "owner", store.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			obj  v1alpha1.Object
			want bool
		}{
			{&v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "owner"}}, false},
			{&v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "child"}}, false},
			{&v1alpha1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "grandchild"}}, false},
			{&v1alpha1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "event"}}, false},
			{&v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "finalized"}}, true},
			{&v1alpha1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "two-owners"}}, true},
			{&v1alpha1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "elsewhere"}}, true},
			{&v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "unrelated"}}, true},
		} {
			got := exists(t, s, tc.obj.GetNamespace(), tc.obj.GetName(), tc.obj)
			if got != tc.want {
				t.Errorf("%T %s/%s exists = %v, want %v", tc.obj, tc.obj.GetNamespace(), tc.obj.GetName(), got, tc.want)
			}
		}
		f := &v1alpha1.Job{}
		exists(t, s, "team-a", "finalized", f)
		if f.DeletionTimestamp == nil {
			t.Error("a dependent with finalizers was not marked for deletion")
		}
	}},
	{"cluster-scoped owner cascades across namespaces", func(t *testing.T, s store.Store) {
		q := newQueue("gpu")
		mustCreate(t, s, q)
		mustCreate(t, s, newJob("team-a", "a", ownedBy(q)), newJob("team-b", "b", ownedBy(q)), newJob("team-b", "keep"))
		if err := s.Delete(t.Context(), queueKind, "", "gpu", store.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		list := &v1alpha1.JobList{}
		if err := s.List(t.Context(), list, store.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]string{"team-b/keep"}, names(list.Items)); d != "" {
			t.Errorf("jobs left (-want +got):\n%s", d)
		}
	}},
	{"the last finalizer's removal cascades", func(t *testing.T, s store.Store) {
		owner := newJob("team-a", "owner", withFinalizers("skiff.dev/x"))
		mustCreate(t, s, owner)
		mustCreate(t, s, newEvent("team-a", "dep", ownedBy(owner)))
		if err := s.Delete(t.Context(), jobKind, "team-a", "owner", store.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if !exists(t, s, "team-a", "dep", &v1alpha1.Event{}) {
			t.Fatal("dependent deleted while its owner still has finalizers")
		}
		if err := s.Get(t.Context(), "team-a", "owner", owner); err != nil {
			t.Fatal(err)
		}
		owner.Finalizers = nil
		if err := s.Update(t.Context(), owner); err != nil {
			t.Fatal(err)
		}
		if exists(t, s, "team-a", "dep", &v1alpha1.Event{}) {
			t.Error("dependent kept after its owner went")
		}
	}},
	{"collect garbage deletes orphans only", func(t *testing.T, s store.Store) {
		live := newJob("team-a", "live")
		mustCreate(t, s, live)
		recreated := newJob("team-a", "recreated")
		mustCreate(t, s, recreated)
		ghost := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "ghost", UID: types.UID("00000000-dead-4000-8000-000000000000")}}
		ghostQueue := &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "ghost-queue", UID: types.UID("00000000-dead-4000-8000-000000000001")}}
		foreign := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "00000000-dead-4000-8000-000000000002"}
		mustCreate(t, s,
			newEvent("team-a", "of-live", ownedBy(live)),
			newEvent("team-a", "of-ghost", ownedBy(ghost)),
			newJob("team-b", "of-ghost-queue", ownedBy(ghostQueue)),
			newEvent("team-a", "of-recreated", ownedBy(recreated)),
			newEvent("team-a", "of-foreign", func(o v1alpha1.Object) { o.SetOwnerReferences([]metav1.OwnerReference{foreign}) }),
			newEvent("team-a", "of-live-and-ghost", ownedBy(live), ownedBy(ghost)),
		)
		// Recreate "recreated" under a new uid, bypassing cascade the way a
		// crash between the delete and the cascade would.
		if err := s.Delete(t.Context(), jobKind, "team-a", "recreated", store.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, newEvent("team-a", "of-recreated", ownedBy(recreated)))
		mustCreate(t, s, newJob("team-a", "recreated"))

		if err := s.CollectGarbage(t.Context()); err != nil {
			t.Fatal(err)
		}
		events := &v1alpha1.EventList{}
		if err := s.List(t.Context(), events, store.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]string{"team-a/of-foreign", "team-a/of-live", "team-a/of-live-and-ghost"}, names(events.Items)); d != "" {
			t.Errorf("events left after GC (-want +got):\n%s", d)
		}
		if exists(t, s, "team-b", "of-ghost-queue", &v1alpha1.Job{}) {
			t.Error("orphan of a cluster-scoped owner kept")
		}
		if !exists(t, s, "team-a", "recreated", &v1alpha1.Job{}) {
			t.Error("GC deleted an owner")
		}
	}},
}

// names lists namespace/name of typed list items, in list order.
func names[T any, P interface {
	*T
	v1alpha1.Object
}](items []T) []string {
	out := []string{}
	for i := range items {
		o := P(&items[i])
		if o.GetNamespace() == "" {
			out = append(out, o.GetName())
		} else {
			out = append(out, o.GetNamespace()+"/"+o.GetName())
		}
	}
	return out
}
