package storetest

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }

var crudCases = []testCase{
	{"create assigns server fields", func(t *testing.T, s store.Store) {
		j := newJob("team-a", "train", withLabels("app", "llm"))
		j.ResourceVersion = "999" // ignored on create
		mustCreate(t, s, j)
		if j.UID == "" {
			t.Error("uid not set")
		}
		if j.Generation != 1 {
			t.Errorf("generation = %d, want 1", j.Generation)
		}
		clockTime(t, s, "creationTimestamp", j.CreationTimestamp.Time)
		if rvOf(t, j) != s.Revision() {
			t.Errorf("resourceVersion = %s, want the store revision %d", j.ResourceVersion, s.Revision())
		}
		if j.APIVersion != v1alpha1.APIVersion || j.Kind != "Job" {
			t.Errorf("typeMeta = %s %s", j.APIVersion, j.Kind)
		}
		got := &v1alpha1.Job{}
		if err := s.Get(t.Context(), "team-a", "train", got); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(j, got); d != "" {
			t.Errorf("Get differs from the created object (-created +got):\n%s", d)
		}
	}},
	{"create honours generateName", func(t *testing.T, s store.Store) {
		seen := map[string]bool{}
		for range 5 {
			j := newJob("team-a", "")
			j.GenerateName = "sweep-"
			mustCreate(t, s, j)
			if !strings.HasPrefix(j.Name, "sweep-") || len(j.Name) <= len("sweep-") {
				t.Errorf("generated name %q", j.Name)
			}
			if seen[j.Name] {
				t.Errorf("name %q generated twice", j.Name)
			}
			seen[j.Name] = true
		}
	}},
	{"create of a taken name is AlreadyExists", func(t *testing.T, s store.Store) {
		mustCreate(t, s, newJob("team-a", "train"))
		rev := s.Revision()
		err := s.Create(t.Context(), newJob("team-a", "train"))
		if !apierrors.IsAlreadyExists(err) {
			t.Fatalf("second Create: %v, want AlreadyExists", err)
		}
		if s.Revision() != rev {
			t.Errorf("a failed create moved the revision from %d to %d", rev, s.Revision())
		}
		// The same name in another namespace is another object.
		mustCreate(t, s, newJob("team-b", "train"))
	}},
	{"create validates name and namespace", func(t *testing.T, s store.Store) {
		for _, tc := range []struct {
			name string
			obj  v1alpha1.Object
			path string
		}{
			{"no name", newJob("team-a", ""), "metadata.name"},
			{"no namespace", newJob("", "train"), "metadata.namespace"},
		} {
			err := s.Create(t.Context(), tc.obj)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("%s: Create = %v, want Invalid naming %s", tc.name, err, tc.path)
			}
		}
		if s.Revision() != 0 {
			t.Errorf("invalid creates stored something: revision %d", s.Revision())
		}
	}},
	{"cluster-scoped kinds have no namespace", func(t *testing.T, s store.Store) {
		q := newQueue("gpu")
		q.Namespace = "ignored"
		mustCreate(t, s, q)
		if q.Namespace != "" {
			t.Errorf("namespace = %q, want empty for a cluster kind", q.Namespace)
		}
		got := &v1alpha1.Queue{}
		if err := s.Get(t.Context(), "", "gpu", got); err != nil {
			t.Fatal(err)
		}
		if err := s.Get(t.Context(), "whatever", "gpu", got); err != nil {
			t.Errorf("Get with a namespace on a cluster kind: %v", err)
		}
	}},
	{"get of a missing object is NotFound", func(t *testing.T, s store.Store) {
		err := s.Get(t.Context(), "team-a", "nope", &v1alpha1.Job{})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("Get = %v, want NotFound", err)
		}
		var se *apierrors.StatusError
		if !asStatus(err, &se) || se.ErrStatus.Details.Kind != "jobs" {
			t.Errorf("NotFound should name the resource: %#v", err)
		}
	}},
	{"update keeps server fields and bumps generation only on spec change", func(t *testing.T, s store.Store) {
		j := newJob("team-a", "train")
		mustCreate(t, s, j)
		uid, created := j.UID, j.CreationTimestamp

		// A status change keeps the generation.
		j.Status.Phase = v1alpha1.JobRunning
		if err := s.Update(t.Context(), j); err != nil {
			t.Fatal(err)
		}
		if j.Generation != 1 {
			t.Errorf("generation after status update = %d, want 1", j.Generation)
		}
		// A label change keeps it too.
		withLabels("x", "y")(j)
		if err := s.Update(t.Context(), j); err != nil {
			t.Fatal(err)
		}
		if j.Generation != 1 {
			t.Errorf("generation after label update = %d, want 1", j.Generation)
		}
		// A spec change bumps it; server-owned fields the caller dropped
		// are restored.
		j.Spec.Priority = 7
		j.UID = ""
		j.CreationTimestamp = metav1.Time{}
		j.Generation = 42
		before := rvOf(t, j)
		if err := s.Update(t.Context(), j); err != nil {
			t.Fatal(err)
		}
		if j.Generation != 2 {
			t.Errorf("generation after spec update = %d, want 2", j.Generation)
		}
		if j.UID != uid || !j.CreationTimestamp.Equal(&created) {
			t.Errorf("uid/creationTimestamp changed: %s %v", j.UID, j.CreationTimestamp)
		}
		if rvOf(t, j) <= before {
			t.Errorf("resourceVersion %s did not increase from %d", j.ResourceVersion, before)
		}
		got := &v1alpha1.Job{}
		if err := s.Get(t.Context(), "team-a", "train", got); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(j, got); d != "" {
			t.Errorf("Get differs from the updated object (-updated +got):\n%s", d)
		}
	}},
	{"update with a stale resourceVersion is Conflict", func(t *testing.T, s store.Store) {
		j := newJob("team-a", "train")
		mustCreate(t, s, j)
		stale := j.DeepCopy()
		j.Spec.Priority = 1
		if err := s.Update(t.Context(), j); err != nil {
			t.Fatal(err)
		}
		stale.Spec.Priority = 2
		if err := s.Update(t.Context(), stale); !apierrors.IsConflict(err) {
			t.Fatalf("stale Update = %v, want Conflict", err)
		}
		got := &v1alpha1.Job{}
		if err := s.Get(t.Context(), "team-a", "train", got); err != nil {
			t.Fatal(err)
		}
		if got.Spec.Priority != 1 {
			t.Errorf("priority = %d: the conflicting update was applied", got.Spec.Priority)
		}
	}},
	{"update without resourceVersion is unconditional", func(t *testing.T, s store.Store) {
		j := newJob("team-a", "train")
		mustCreate(t, s, j)
		j2 := j.DeepCopy()
		j.Spec.Priority = 1
		if err := s.Update(t.Context(), j); err != nil {
			t.Fatal(err)
		}
		j2.ResourceVersion = ""
		j2.Spec.Priority = 2
		if err := s.Update(t.Context(), j2); err != nil {
			t.Fatalf("unconditional Update: %v", err)
		}
		if j2.Generation != 3 {
			t.Errorf("generation = %d, want 3", j2.Generation)
		}
	}},
	{"update of a missing object is NotFound", func(t *testing.T, s store.Store) {
		if err := s.Update(t.Context(), newJob("team-a", "nope")); !apierrors.IsNotFound(err) {
			t.Fatalf("Update = %v, want NotFound", err)
		}
	}},
	{"update naming another uid is Conflict", func(t *testing.T, s store.Store) {
		j := newJob("team-a", "train")
		mustCreate(t, s, j)
		old := j.DeepCopy()
		if err := s.Delete(t.Context(), jobKind, "team-a", "train", store.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, newJob("team-a", "train"))
		old.ResourceVersion = ""
		if err := s.Update(t.Context(), old); !apierrors.IsConflict(err) {
			t.Fatalf("Update of a recreated object = %v, want Conflict", err)
		}
	}},
	{"revisions increase strictly across kinds", func(t *testing.T, s store.Store) {
		var last int64
		check := func(o v1alpha1.Object) {
			t.Helper()
			rv := rvOf(t, o)
			if rv <= last {
				t.Errorf("resourceVersion %d after %d", rv, last)
			}
			if rv != s.Revision() {
				t.Errorf("Revision() = %d after a write at %d", s.Revision(), rv)
			}
			last = rv
		}
		j, q, e := newJob("a", "j"), newQueue("q"), newEvent("a", "e")
		for _, o := range []v1alpha1.Object{j, q, e} {
			mustCreate(t, s, o)
			check(o)
		}
		j.Spec.Priority = 3
		if err := s.Update(t.Context(), j); err != nil {
			t.Fatal(err)
		}
		check(j)
	}},
	{"delete removes the object and checks preconditions", func(t *testing.T, s store.Store) {
		j := newJob("team-a", "train")
		mustCreate(t, s, j)
		err := s.Delete(t.Context(), jobKind, "team-a", "train", store.DeleteOptions{ResourceVersion: strconv.FormatInt(rvOf(t, j)+100, 10)})
		if !apierrors.IsConflict(err) {
			t.Fatalf("Delete with a wrong precondition = %v, want Conflict", err)
		}
		if err := s.Delete(t.Context(), jobKind, "team-a", "train", store.DeleteOptions{ResourceVersion: j.ResourceVersion}); err != nil {
			t.Fatal(err)
		}
		if exists(t, s, "team-a", "train", &v1alpha1.Job{}) {
			t.Error("object still there after Delete")
		}
		if err := s.Delete(t.Context(), jobKind, "team-a", "train", store.DeleteOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("second Delete = %v, want NotFound", err)
		}
		if s.Revision() <= rvOf(t, j) {
			t.Error("Delete did not advance the revision")
		}
		// The name is free again, and the new object is a new object.
		j2 := newJob("team-a", "train")
		mustCreate(t, s, j2)
		if j2.UID == j.UID {
			t.Error("recreated object kept the old uid")
		}
	}},
}

func asStatus(err error, target **apierrors.StatusError) bool {
	se, ok := err.(*apierrors.StatusError)
	if ok {
		*target = se
	}
	return ok && se.ErrStatus.Details != nil
}
