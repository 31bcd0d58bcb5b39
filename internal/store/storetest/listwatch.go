package storetest

import (
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

func selector(t *testing.T, s string) labels.Selector {
	t.Helper()
	sel, err := labels.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

var listWatchCases = []testCase{
	{"list filters by namespace, labels and name", func(t *testing.T, s store.Store) {
		mustCreate(t, s,
			newJob("team-b", "b1", withLabels("tier", "gpu")),
			newJob("team-a", "a2", withLabels("tier", "cpu")),
			newJob("team-a", "a1", withLabels("tier", "gpu")),
			newEvent("team-a", "not-a-job"),
			newQueue("q1"),
		)
		for _, tc := range []struct {
			name string
			opts store.ListOptions
			want []string
		}{
			{"all namespaces, ordered", store.ListOptions{}, []string{"team-a/a1", "team-a/a2", "team-b/b1"}},
			{"one namespace", store.ListOptions{Namespace: "team-a"}, []string{"team-a/a1", "team-a/a2"}},
			{"label selector", store.ListOptions{LabelSelector: selector(t, "tier=gpu")}, []string{"team-a/a1", "team-b/b1"}},
			{"set selector", store.ListOptions{LabelSelector: selector(t, "tier in (cpu),!missing")}, []string{"team-a/a2"}},
			{"field name", store.ListOptions{FieldName: "b1"}, []string{"team-b/b1"}},
			{"no match", store.ListOptions{Namespace: "team-c"}, []string{}},
		} {
			list := &v1alpha1.JobList{}
			if err := s.List(t.Context(), list, tc.opts); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if d := cmp.Diff(tc.want, names(list.Items)); d != "" {
				t.Errorf("%s (-want +got):\n%s", tc.name, d)
			}
			if list.ResourceVersion != strconv.FormatInt(s.Revision(), 10) {
				t.Errorf("%s: list resourceVersion %q, want %d", tc.name, list.ResourceVersion, s.Revision())
			}
			if list.Kind != "JobList" || list.APIVersion != v1alpha1.APIVersion {
				t.Errorf("%s: list typeMeta %s %s", tc.name, list.APIVersion, list.Kind)
			}
			for _, it := range list.Items {
				if it.Kind != "Job" || it.ResourceVersion == "" || it.UID == "" {
					t.Errorf("%s: item %s lacks typeMeta or metadata: %+v", tc.name, it.Name, it.TypeMeta)
				}
			}
		}
		queues := &v1alpha1.QueueList{}
		if err := s.List(t.Context(), queues, store.ListOptions{Namespace: "team-a"}); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]string{"q1"}, names(queues.Items)); d != "" {
			t.Errorf("cluster kinds ignore the namespace (-want +got):\n%s", d)
		}
	}},
	{"list raw streams stored JSON in namespace/name order", func(t *testing.T, s store.Store) {
		var want []*v1alpha1.Job
		for _, n := range []struct{ ns, name string }{{"b", "x"}, {"a", "z"}, {"a", "y"}} {
			j := newJob(n.ns, n.name)
			mustCreate(t, s, j)
			want = append(want, j)
		}
		want[0], want[2] = want[2], want[0]
		var got []*v1alpha1.Job
		rev, err := s.ListRaw(t.Context(), jobKind, store.ListOptions{}, func(raw []byte) error {
			j := &v1alpha1.Job{}
			if err := json.Unmarshal(raw, j); err != nil {
				return err
			}
			got = append(got, j)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if rev != s.Revision() {
			t.Errorf("ListRaw revision %d, want %d", rev, s.Revision())
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("ListRaw (-want +got):\n%s", d)
		}
		stop := errors.New("stop")
		calls := 0
		_, err = s.ListRaw(t.Context(), jobKind, store.ListOptions{}, func([]byte) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("ListRaw with a failing callback: err %v after %d calls, want the callback's error after 1", err, calls)
		}
	}},
	{"watch streams changes from now", func(t *testing.T, s store.Store) {
		mustCreate(t, s, newJob("team-a", "before"))
		w := mustWatch(t, s, jobKind, store.ListOptions{})
		j := newJob("team-a", "train")
		mustCreate(t, s, j, newQueue("other-kind"))
		created := j.ResourceVersion
		j.Spec.Priority = 5
		if err := s.Update(t.Context(), j); err != nil {
			t.Fatal(err)
		}
		updated := j.ResourceVersion
		if err := s.Delete(t.Context(), jobKind, "team-a", "train", store.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		want := []event{
			{watch.Added, "train", created},
			{watch.Modified, "train", updated},
			{watch.Deleted, "train", strconv.FormatInt(s.Revision(), 10)},
		}
		if d := cmp.Diff(want, nextEvents(t, w, 3)); d != "" {
			t.Errorf("events (-want +got):\n%s", d)
		}
		expectQuiet(t, w)
		w.Stop()
		for range w.ResultChan() {
		}
	}},
	{"watch replays from a resourceVersion", func(t *testing.T, s store.Store) {
		a := newJob("team-a", "a")
		mustCreate(t, s, a)
		list := &v1alpha1.JobList{}
		if err := s.List(t.Context(), list, store.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		b := newJob("team-a", "b")
		mustCreate(t, s, b)
		a.Spec.Priority = 1
		if err := s.Update(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		w := mustWatch(t, s, jobKind, store.ListOptions{ResourceVersion: list.ResourceVersion})
		want := []event{{watch.Added, "b", b.ResourceVersion}, {watch.Modified, "a", a.ResourceVersion}}
		if d := cmp.Diff(want, nextEvents(t, w, 2)); d != "" {
			t.Errorf("replayed events (-want +got):\n%s", d)
		}
		// Live events follow the replay without a gap.
		c := newJob("team-a", "c")
		mustCreate(t, s, c)
		if d := cmp.Diff(event{watch.Added, "c", c.ResourceVersion}, summarize(nextEvent(t, w))); d != "" {
			t.Errorf("live event after replay (-want +got):\n%s", d)
		}
		// From "0" on a store whose history goes back to the start,
		// everything; with a history kept by time (the Kubernetes API), the
		// current objects as ADDED.
		w0 := mustWatch(t, s, jobKind, store.ListOptions{ResourceVersion: "0"})
		n := 4
		if optionsOf(s).TimeBasedWatchHistory {
			n = 3
		}
		if got := nextEvents(t, w0, n); got[0].Name != "a" || got[0].Type != watch.Added {
			t.Errorf("watch from 0 starts with %+v", got[0])
		}
		if _, err := s.Watch(t.Context(), jobKind, store.ListOptions{ResourceVersion: "yesterday"}); !apierrors.IsBadRequest(err) {
			t.Errorf("Watch from a bad resourceVersion = %v, want BadRequest", err)
		}
	}},
	{"watch filters by namespace, name and labels", func(t *testing.T, s store.Store) {
		byNS := mustWatch(t, s, jobKind, store.ListOptions{Namespace: "team-a"})
		byName := mustWatch(t, s, jobKind, store.ListOptions{FieldName: "b"})
		byLabel := mustWatch(t, s, jobKind, store.ListOptions{LabelSelector: selector(t, "tier=gpu")})

		a := newJob("team-a", "a", withLabels("tier", "cpu"))
		b := newJob("team-b", "b", withLabels("tier", "gpu"))
		mustCreate(t, s, a, b)
		// a starts matching the selector, b stops matching it.
		withLabels("tier", "gpu")(a)
		withLabels("tier", "cpu")(b)
		for _, o := range []*v1alpha1.Job{a, b} {
			if err := s.Update(t.Context(), o); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Delete(t.Context(), jobKind, "team-b", "b", store.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(t.Context(), jobKind, "team-a", "a", store.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			w    watch.Interface
			want []watch.EventType
			objs []string
		}{
			{"namespace", byNS, []watch.EventType{watch.Added, watch.Modified, watch.Deleted}, []string{"a", "a", "a"}},
			{"name", byName, []watch.EventType{watch.Added, watch.Modified, watch.Deleted}, []string{"b", "b", "b"}},
			{"labels", byLabel, []watch.EventType{watch.Added, watch.Added, watch.Deleted, watch.Deleted}, []string{"b", "a", "b", "a"}},
		} {
			got := nextEvents(t, tc.w, len(tc.want))
			var types []watch.EventType
			var objs []string
			for _, e := range got {
				types = append(types, e.Type)
				objs = append(objs, e.Name)
			}
			if d := cmp.Diff(tc.want, types); d != "" {
				t.Errorf("%s watch types (-want +got):\n%s", tc.name, d)
			}
			if d := cmp.Diff(tc.objs, objs); d != "" {
				t.Errorf("%s watch objects (-want +got):\n%s", tc.name, d)
			}
			expectQuiet(t, tc.w)
		}
	}},
	{"watch from a revision older than the history gets 410 Expired", func(t *testing.T, s store.Store) {
		if optionsOf(s).TimeBasedWatchHistory {
			t.Skip("the backend keeps watch history by time, not by a number of changes")
		}
		first := newJob("team-a", "first")
		mustCreate(t, s, first)
		// Enough writes to push the first revision out of any history of up
		// to MaxWatchHistory changes, written concurrently to be quick on
		// durable backends.
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Go(func() {
				for i := range (3*MaxWatchHistory)/8 + 1 {
					if err := s.Create(t.Context(), newEvent("team-a", "e-"+strconv.Itoa(g)+"-"+strconv.Itoa(i))); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		w := mustWatch(t, s, jobKind, store.ListOptions{ResourceVersion: first.ResourceVersion})
		ev := nextEvent(t, w)
		if ev.Type != watch.Error {
			t.Fatalf("first event %+v, want ERROR", summarize(ev))
		}
		status, ok := ev.Object.(*metav1.Status)
		if !ok {
			t.Fatalf("ERROR event carries %T, want *metav1.Status", ev.Object)
		}
		if status.Code != 410 || !apierrors.IsResourceExpired(apierrors.FromObject(status)) {
			t.Errorf("status %d %s, want 410 Expired", status.Code, status.Reason)
		}
		if _, open := <-w.ResultChan(); open {
			t.Error("watch stayed open after 410")
		}
		// A watch from the current revision still works.
		cur := mustWatch(t, s, jobKind, store.ListOptions{ResourceVersion: strconv.FormatInt(s.Revision(), 10)})
		j := newJob("team-a", "after")
		mustCreate(t, s, j)
		if d := cmp.Diff(event{watch.Added, "after", j.ResourceVersion}, summarize(nextEvent(t, cur))); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
	}},
}
