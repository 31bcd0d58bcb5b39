package storetest

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

// RunDurable checks that a durable backend keeps acknowledged writes and its
// revision across a clean close and across an abandoned (never closed)
// store, as after a crash. open must open the store at path with
// FixedClock; the suite closes what it opens.
func RunDurable(t *testing.T, open func(t *testing.T, path string) store.Store) {
	t.Run("close and reopen", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "store.db")
		s := open(t, path)
		want := writeSome(t, s)
		rev := s.Revision()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = open(t, path)
		defer s.Close()
		checkReopened(t, s, want, rev)
	})
	t.Run("reopen without close", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "store.db")
		crashed := open(t, path)
		// Not closed until the test ends: whatever the first store had
		// acknowledged must already be in the file.
		defer crashed.Close()
		want := writeSome(t, crashed)
		rev := crashed.Revision()
		s := open(t, path)
		defer s.Close()
		checkReopened(t, s, want, rev)
	})
}

// writeSome creates, updates and deletes jobs concurrently and returns the
// jobs that should be stored.
func writeSome(t *testing.T, s store.Store) []v1alpha1.Job {
	t.Helper()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			j := newJob(fmt.Sprintf("ns-%d", i%3), fmt.Sprintf("job-%02d", i), withLabels("i", fmt.Sprint(i)))
			if err := s.Create(t.Context(), j); err != nil {
				t.Error(err)
				return
			}
			j.Spec.Priority = int32(i)
			if err := s.Update(t.Context(), j); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := s.Delete(t.Context(), jobKind, "ns-0", "job-00", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	list := &v1alpha1.JobList{}
	if err := s.List(t.Context(), list, store.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 19 {
		t.Fatalf("%d jobs stored, want 19", len(list.Items))
	}
	return list.Items
}

func checkReopened(t *testing.T, s store.Store, want []v1alpha1.Job, rev int64) {
	t.Helper()
	if s.Revision() != rev {
		t.Errorf("reopened at revision %d, want %d", s.Revision(), rev)
	}
	list := &v1alpha1.JobList{}
	if err := s.List(t.Context(), list, store.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, list.Items); d != "" {
		t.Errorf("jobs after reopen (-before +after):\n%s", d)
	}
	j := newJob("ns-0", "after-reopen")
	mustCreate(t, s, j)
	if rvOf(t, j) <= rev {
		t.Errorf("first write after reopen at revision %s, not after %d", j.ResourceVersion, rev)
	}
	// Dependents index survives too: cascading works on reopened data.
	q := newQueue("q")
	mustCreate(t, s, q)
	mustCreate(t, s, newJob("ns-1", "owned", ownedBy(q)))
	if err := s.Delete(t.Context(), queueKind, "", "q", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if exists(t, s, "ns-1", "owned", &v1alpha1.Job{}) {
		t.Error("cascade did not reach a dependent after reopen")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
