package storetest

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

const writers = 16

var concurrencyCases = []testCase{
	{"concurrent updates of one version: exactly one wins", func(t *testing.T, s store.Store) {
		j := newJob("team-a", "train")
		mustCreate(t, s, j)
		var wins, conflicts atomic.Int32
		var wg sync.WaitGroup
		for i := range writers {
			c := j.DeepCopy()
			c.Spec.Priority = int32(i + 1)
			wg.Go(func() {
				err := s.Update(t.Context(), c)
				switch {
				case err == nil:
					wins.Add(1)
				case apierrors.IsConflict(err):
					conflicts.Add(1)
				default:
					t.Errorf("Update: %v", err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 || conflicts.Load() != writers-1 {
			t.Errorf("%d wins and %d conflicts, want 1 and %d", wins.Load(), conflicts.Load(), writers-1)
		}
		got := &v1alpha1.Job{}
		if err := s.Get(t.Context(), "team-a", "train", got); err != nil {
			t.Fatal(err)
		}
		if got.Generation != 2 {
			t.Errorf("generation = %d, want 2", got.Generation)
		}
	}},
	{"read-modify-write loops lose no update", func(t *testing.T, s store.Store) {
		mustCreate(t, s, newJob("team-a", "counter"))
		const each = 5
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for range each {
					for {
						j := &v1alpha1.Job{}
						if err := s.Get(t.Context(), "team-a", "counter", j); err != nil {
							t.Error(err)
							return
						}
						j.Spec.Priority++
						err := s.Update(t.Context(), j)
						if err == nil {
							break
						}
						if !apierrors.IsConflict(err) {
							t.Error(err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
		got := &v1alpha1.Job{}
		if err := s.Get(t.Context(), "team-a", "counter", got); err != nil {
			t.Fatal(err)
		}
		if got.Spec.Priority != writers*each {
			t.Errorf("counter = %d, want %d", got.Spec.Priority, writers*each)
		}
	}},
	{"concurrent creates and unconditional updates all apply", func(t *testing.T, s store.Store) {
		mustCreate(t, s, newJob("team-a", "shared"))
		var mu sync.Mutex
		revs := map[string]bool{}
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				j := newJob("team-a", "job-"+strconv.Itoa(i))
				if err := s.Create(t.Context(), j); err != nil {
					t.Error(err)
					return
				}
				u := newJob("team-a", "shared", withLabels("writer-"+strconv.Itoa(i), "x"))
				if err := s.Update(t.Context(), u); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				for _, rv := range []string{j.ResourceVersion, u.ResourceVersion} {
					if revs[rv] {
						t.Errorf("resourceVersion %s assigned twice", rv)
					}
					revs[rv] = true
				}
			})
		}
		wg.Wait()
		list := &v1alpha1.JobList{}
		if err := s.List(t.Context(), list, store.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != writers+1 {
			t.Errorf("%d jobs, want %d", len(list.Items), writers+1)
		}
		if !optionsOf(s).SharedRevisions && s.Revision() != int64(2*writers+1) {
			t.Errorf("revision %d after %d writes", s.Revision(), 2*writers+1)
		}
	}},
	{"a failing write does not fail the writes committed with it", func(t *testing.T, s store.Store) {
		// Racing creates of one name land in the same group commit on
		// batching backends: one wins, the rest fail alone.
		var created, exist atomic.Int32
		var wg sync.WaitGroup
		for i := range 2 * writers {
			name := "same"
			if i%2 == 1 {
				name = "unique-" + strconv.Itoa(i)
			}
			wg.Go(func() {
				err := s.Create(t.Context(), newJob("team-a", name))
				switch {
				case err == nil:
					created.Add(1)
				case apierrors.IsAlreadyExists(err):
					exist.Add(1)
				default:
					t.Errorf("Create %s: %v", name, err)
				}
			})
		}
		wg.Wait()
		if created.Load() != writers+1 || exist.Load() != writers-1 {
			t.Errorf("%d created and %d AlreadyExists, want %d and %d", created.Load(), exist.Load(), writers+1, writers-1)
		}
		if !optionsOf(s).SharedRevisions && s.Revision() != int64(writers+1) {
			t.Errorf("revision %d after %d successful creates", s.Revision(), writers+1)
		}
	}},
	{"close ends watches", func(t *testing.T, s store.Store) {
		w := mustWatch(t, s, jobKind, store.ListOptions{})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for range w.ResultChan() {
		}
		if err := s.Create(t.Context(), newJob("team-a", "late")); err == nil {
			t.Error("Create on a closed store succeeded")
		}
	}},
}
