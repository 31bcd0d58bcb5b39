package store

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
)

func fixedClock() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

// storesUnderTest are the backends Update's remembered metadata is tested on.
func storesUnderTest(t *testing.T) map[string]*store {
	sq, err := OpenSQLite(filepath.Join(t.TempDir(), "s.db"), fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	return map[string]*store{"memory": NewMemory(fixedClock).(*store), "sqlite": sq.(*store)}
}

func testJob(name string) *v1alpha1.Job {
	return &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec: v1alpha1.JobSpec{Queue: "q", ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "w", Replicas: 1}}}}
}

// writeBehind changes the stored job without this store's Update, as a
// write that the remembered metadata does not know about.
func writeBehind(t *testing.T, s *store, j *v1alpha1.Job) int64 {
	t.Helper()
	k := objectKey(mustKind(t, j), j.Namespace, j.Name)
	_, rev, err := s.kv.get(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := encodeWithoutRV(j)
	if err != nil {
		t.Fatal(err)
	}
	next, err := s.kv.apply(context.Background(), op{key: k, expect: rev,
		encode: func(rev int64) ([]byte, error) { return spliceRV(raw, rev) }})
	if err != nil {
		t.Fatal(err)
	}
	return next
}

// TestUpdateFromRememberedMetadata: writes that start from what the store
// wrote last behave exactly as writes that read the stored object: the
// generation moves with the spec only, server-owned fields stay, stale
// versions conflict, and a change the store did not make is never
// overwritten by mistake.
func TestUpdateFromRememberedMetadata(t *testing.T) {
	for name, s := range storesUnderTest(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			j := testJob("a")
			if err := s.Create(ctx, j); err != nil {
				t.Fatal(err)
			}
			uid, created := j.UID, j.CreationTimestamp

			// Status only: generation stays at 1.
			j.Status.Phase = v1alpha1.JobAdmitted
			if err := s.Update(ctx, j); err != nil {
				t.Fatal(err)
			}
			if j.Generation != 1 {
				t.Fatalf("a status-only update moved generation to %d", j.Generation)
			}
			// The spec changes: generation 2; server-owned fields are kept
			// whatever the caller sends.
			j.Spec.Priority = 5
			j.UID, j.CreationTimestamp, j.Generation = "", metav1.Time{}, 40
			if err := s.Update(ctx, j); err != nil {
				t.Fatal(err)
			}
			got := &v1alpha1.Job{}
			if err := s.Get(ctx, "ns", "a", got); err != nil {
				t.Fatal(err)
			}
			if got.Generation != 2 || got.UID != uid || !got.CreationTimestamp.Equal(&created) {
				t.Fatalf("after a spec change: generation %d uid %s created %v, want 2 %s %v", got.Generation, got.UID, got.CreationTimestamp, uid, created)
			}
			// The same spec again: generation stays.
			j.Status.Phase = v1alpha1.JobRunning
			if err := s.Update(ctx, j); err != nil {
				t.Fatal(err)
			}
			if j.Generation != 2 {
				t.Fatalf("an unchanged spec moved generation to %d", j.Generation)
			}
			// A stale version conflicts.
			stale := j.DeepCopy()
			j.Status.Phase = v1alpha1.JobSucceeded
			if err := s.Update(ctx, j); err != nil {
				t.Fatal(err)
			}
			stale.Status.Phase = v1alpha1.JobFailed
			if err := s.Update(ctx, stale); !apierrors.IsConflict(err) {
				t.Fatalf("stale update: %v, want a conflict", err)
			}

			// A write the store did not make (the remembered entry is now
			// behind): a conditional update from before it conflicts, and
			// an unconditional one keeps the generation that write stored.
			behind := j.DeepCopy()
			behind.Generation = 7
			writeBehind(t, s, behind)
			j.Status.Phase = v1alpha1.JobPending
			if err := s.Update(ctx, j); !apierrors.IsConflict(err) {
				t.Fatalf("update over an unseen write: %v, want a conflict", err)
			}
			j.ResourceVersion = ""
			if err := s.Update(ctx, j); err != nil {
				t.Fatal(err)
			}
			if j.Generation != 7 {
				t.Fatalf("unconditional update after an unseen write: generation %d, want the stored 7", j.Generation)
			}
		})
	}
}

// TestRememberedMetadataOfARecreatedObject: a job deleted and created again
// under its name is a new object to the store's memory too.
func TestRememberedMetadataOfARecreatedObject(t *testing.T) {
	for name, s := range storesUnderTest(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			old := testJob("b")
			if err := s.Create(ctx, old); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, mustKind(t, old), "ns", "b", DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			fresh := testJob("b")
			if err := s.Create(ctx, fresh); err != nil {
				t.Fatal(err)
			}
			old.ResourceVersion = ""
			if err := s.Update(ctx, old); !apierrors.IsConflict(err) {
				t.Fatalf("update of the deleted object's copy: %v, want a uid conflict", err)
			}
			fresh.Status.Phase = v1alpha1.JobAdmitted
			if err := s.Update(ctx, fresh); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRememberedMetadataOfAnObjectBeingDeleted: finalizers cannot be added
// once deletion started, and removing the last one deletes the object.
func TestRememberedMetadataOfAnObjectBeingDeleted(t *testing.T) {
	for name, s := range storesUnderTest(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			j := testJob("c")
			j.Finalizers = []string{"skiff.dev/x"}
			if err := s.Create(ctx, j); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, mustKind(t, j), "ns", "c", DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := s.Get(ctx, "ns", "c", j); err != nil {
				t.Fatal(err)
			}
			j.Finalizers = append(j.Finalizers, "skiff.dev/y")
			if err := s.Update(ctx, j); !apierrors.IsInvalid(err) {
				t.Fatalf("adding a finalizer while deleting: %v, want invalid", err)
			}
			j.Finalizers = nil
			if err := s.Update(ctx, j); err != nil {
				t.Fatal(err)
			}
			if err := s.Get(ctx, "ns", "c", &v1alpha1.Job{}); !apierrors.IsNotFound(err) {
				t.Fatalf("after its last finalizer went: %v, want not found", err)
			}
		})
	}
}

// TestWrittenMetaIsBounded: entries not used for a generation are dropped.
func TestWrittenMetaIsBounded(t *testing.T) {
	w := newWrittenMeta(4)
	k := func(i int) key { return key{kind: "Job", namespace: "ns", name: string(rune('a' + i))} }
	for i := range 4 {
		w.remember(k(i), int64(i+1), storedMeta{})
	}
	if _, ok := w.lookup(k(0)); !ok { // k(0) used: kept into the next generation
		t.Fatal("entry 0 missing")
	}
	for i := 4; i < 12; i++ {
		w.remember(k(i), int64(i+1), storedMeta{})
	}
	if n := len(w.cur) + len(w.old); n > 8 {
		t.Fatalf("%d entries kept, want at most 8", n)
	}
	if _, ok := w.lookup(k(1)); ok {
		t.Fatal("entry 1, never used, survived two generations")
	}
	// An older write finishing late does not replace a newer entry.
	w.remember(k(11), 3, storedMeta{})
	if e, _ := w.lookup(k(11)); e.rev != 12 {
		t.Fatalf("rev %d, want 12", e.rev)
	}
}

func mustKind(t *testing.T, obj v1alpha1.Object) v1alpha1.Kind {
	t.Helper()
	k, err := v1alpha1.KindOf(obj)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestRawWatchCarriesStoredJSON: a Raw watch delivers each change as the
// JSON a Get decodes from (resourceVersion, apiVersion and kind included),
// deletions and label-selector transitions too, so that the API can pass it
// on without decoding and encoding it again.
func TestRawWatchCarriesStoredJSON(t *testing.T) {
	for name, s := range storesUnderTest(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			kind := mustKind(t, testJob("x"))
			sel, err := labels.Parse("team=a")
			if err != nil {
				t.Fatal(err)
			}
			all, err := s.Watch(ctx, kind, ListOptions{Raw: true, ResourceVersion: strconv.FormatInt(s.Revision(), 10)})
			if err != nil {
				t.Fatal(err)
			}
			defer all.Stop()
			teamA, err := s.Watch(ctx, kind, ListOptions{Raw: true, LabelSelector: sel, ResourceVersion: strconv.FormatInt(s.Revision(), 10)})
			if err != nil {
				t.Fatal(err)
			}
			defer teamA.Stop()
			j := testJob("raw")
			j.Labels = map[string]string{"team": "a"}
			if err := s.Create(ctx, j); err != nil {
				t.Fatal(err)
			}
			j.Labels["team"] = "b"
			j.Status.Phase = v1alpha1.JobRunning
			if err := s.Update(ctx, j); err != nil {
				t.Fatal(err)
			}
			var stored v1alpha1.Job
			if err := s.Get(ctx, "ns", "raw", &stored); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, kind, "ns", "raw", DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			next := func(w watch.Interface) (watch.EventType, *v1alpha1.Job) {
				t.Helper()
				select {
				case ev := <-w.ResultChan():
					u, ok := ev.Object.(*runtime.Unknown)
					if !ok {
						t.Fatalf("%s event carries %T, want *runtime.Unknown", ev.Type, ev.Object)
					}
					var got v1alpha1.Job
					if err := json.Unmarshal(u.Raw, &got); err != nil {
						t.Fatalf("%s event: %v", ev.Type, err)
					}
					if got.APIVersion != v1alpha1.APIVersion || got.Kind != "Job" {
						t.Errorf("%s event: apiVersion %q kind %q", ev.Type, got.APIVersion, got.Kind)
					}
					return ev.Type, &got
				case <-time.After(5 * time.Second):
					t.Fatal("no event")
				}
				return "", nil
			}
			if typ, got := next(all); typ != watch.Added || got.Labels["team"] != "a" {
				t.Errorf("first event %s %v, want ADDED of the created job", typ, got.Labels)
			}
			typ, got := next(all)
			if typ != watch.Modified || !equality.Semantic.DeepEqual(got, &stored) {
				t.Errorf("second event %s:\n%+v\nwant MODIFIED with what Get returns:\n%+v", typ, got, &stored)
			}
			if typ, got := next(all); typ != watch.Deleted || got.ResourceVersion == stored.ResourceVersion {
				t.Errorf("third event %s at %s, want DELETED at a later revision than %s", typ, got.ResourceVersion, stored.ResourceVersion)
			}
			// The selector's view: the job came, then left it when relabelled.
			if typ, _ := next(teamA); typ != watch.Added {
				t.Errorf("selector watch: first event %s, want ADDED", typ)
			}
			if typ, got := next(teamA); typ != watch.Deleted || got.Labels["team"] != "b" {
				t.Errorf("selector watch: second event %s %v, want DELETED with the new labels", typ, got.Labels)
			}
		})
	}
}
