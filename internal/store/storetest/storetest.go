// Package storetest is the conformance suite every store.Store backend
// passes. One suite for all backends is what keeps them interchangeable: the
// apiserver and controllers are tested against memory and run on SQLite (or
// Kubernetes) without noticing the difference.
package storetest

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

// Epoch is the time FixedClock returns.
var Epoch = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)

// clockTime checks a timestamp the store assigned: the clock's, or about
// now for a backend with its own clock.
func clockTime(t *testing.T, s store.Store, what string, got time.Time) {
	t.Helper()
	if optionsOf(s).ServerClock {
		if age := time.Since(got); age < -time.Minute || age > time.Minute {
			t.Errorf("%s = %v, want about now", what, got)
		}
	} else if !got.Equal(Epoch) {
		t.Errorf("%s = %v, want the clock's %v", what, got, Epoch)
	}
}

// FixedClock is the store.Clock the suite expects newStore to use, so that
// it can check the timestamps the store assigns.
func FixedClock() time.Time { return Epoch }

// MaxWatchHistory is the largest watch history (store.Options.WatchHistory)
// the suite supports: it writes enough changes to push a revision out of a
// history this long and expects a 410 Expired.
const MaxWatchHistory = 100

// Run runs the conformance suite. newStore must return an empty store that
// uses FixedClock and keeps at most MaxWatchHistory changes for watches, and
// must close it when the test ends (t.Cleanup).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	RunWith(t, newStore, Options{})
}

// Options describe the ways a backend may differ from the embedded stores
// within the Store contract. The zero value is the strictest suite.
type Options struct {
	// ServerClock: the backend stamps times with its own clock (the
	// Kubernetes API server does), so timestamps are checked to be recent
	// instead of equal to FixedClock.
	ServerClock bool
	// SharedRevisions: other writers share the revision counter (etcd's
	// revision counts every object in the cluster), so revisions increase
	// strictly but are not dense and do not start at zero.
	SharedRevisions bool
	// TimeBasedWatchHistory: how far back a watch can resume is decided by
	// time and compaction, not by a number of changes, so the 410 Expired
	// case (which writes MaxWatchHistory changes) does not apply.
	TimeBasedWatchHistory bool
	// Serial: the stores newStore returns share state (one API server), so
	// cases run one at a time; newStore must hand each an empty one.
	Serial bool
}

// options of the store a case runs against, registered by RunWith.
var options sync.Map // store.Store -> Options

func optionsOf(s store.Store) Options {
	o, _ := options.Load(s)
	opts, _ := o.(Options)
	return opts
}

// RunWith is Run for a backend that differs as opts say.
func RunWith(t *testing.T, newStore func(t *testing.T) store.Store, opts Options) {
	groups := [][]testCase{crudCases, ownerCases, listWatchCases, concurrencyCases}
	for _, g := range groups {
		for _, tc := range g {
			t.Run(tc.name, func(t *testing.T) {
				if !opts.Serial {
					t.Parallel()
				}
				s := newStore(t)
				options.Store(s, opts)
				t.Cleanup(func() { options.Delete(s) })
				tc.run(t, s)
			})
		}
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// Builders for test objects.

type mod func(v1alpha1.Object)

func newJob(namespace, name string, mods ...mod) *v1alpha1.Job {
	gpu := resource.MustParse("1")
	j := &v1alpha1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: v1alpha1.JobSpec{
			Queue: "default",
			ReplicaGroups: []v1alpha1.ReplicaGroup{{
				Name: "worker", Replicas: 2,
				Template: v1alpha1.ReplicaTemplate{
					Command:   []string{"python3", "train.py"},
					Resources: v1alpha1.Resources{GPU: &gpu},
				},
			}},
		},
	}
	for _, m := range mods {
		m(j)
	}
	return j
}

// The builders make objects a schema-validating backend (CRDs on a
// Kubernetes API server) accepts: a queue has a flavor, an event names the
// object it is about.
func newQueue(name string, mods ...mod) *v1alpha1.Queue {
	q := &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.QueueSpec{
		Flavors: []v1alpha1.FlavorQuota{{Name: "default", Resources: []v1alpha1.ResourceQuota{
			{Name: v1alpha1.ResourceGPU, NominalQuota: resource.MustParse("8")},
		}}},
	}}
	for _, m := range mods {
		m(q)
	}
	return q
}

func newEvent(namespace, name string, mods ...mod) *v1alpha1.Event {
	e := &v1alpha1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: namespace, Name: name},
		InvolvedObject: v1alpha1.ObjectReference{Kind: "Job", Namespace: namespace, Name: "train"},
		Reason:         "Admitted", Type: v1alpha1.EventNormal,
	}
	for _, m := range mods {
		m(e)
	}
	return e
}

func withLabels(kv ...string) mod {
	return func(o v1alpha1.Object) {
		l := o.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			l[kv[i]] = kv[i+1]
		}
		o.SetLabels(l)
	}
}

func withFinalizers(f ...string) mod {
	return func(o v1alpha1.Object) { o.SetFinalizers(f) }
}

// ownedBy adds an ownerReference to owner, which must have been created.
func ownedBy(owner v1alpha1.Object) mod {
	kind, err := v1alpha1.KindOf(owner)
	if err != nil {
		panic(err)
	}
	return func(o v1alpha1.Object) {
		o.SetOwnerReferences(append(o.GetOwnerReferences(), metav1.OwnerReference{
			APIVersion: v1alpha1.APIVersion, Kind: kind.Kind, Name: owner.GetName(), UID: owner.GetUID(),
		}))
	}
}

// Helpers.

var (
	jobKind   = mustKind("Job")
	queueKind = mustKind("Queue")
)

func mustKind(name string) v1alpha1.Kind {
	k, ok := v1alpha1.LookupKind(name)
	if !ok {
		panic("unknown kind " + name)
	}
	return k
}

func mustCreate(t *testing.T, s store.Store, objs ...v1alpha1.Object) {
	t.Helper()
	for _, o := range objs {
		if err := s.Create(t.Context(), o); err != nil {
			t.Fatalf("Create %s/%s: %v", o.GetNamespace(), o.GetName(), err)
		}
	}
}

func rvOf(t *testing.T, o v1alpha1.Object) int64 {
	t.Helper()
	rv, err := strconv.ParseInt(o.GetResourceVersion(), 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q of %s: %v", o.GetResourceVersion(), o.GetName(), err)
	}
	return rv
}

// exists reports whether the object is stored, failing on other errors.
func exists(t *testing.T, s store.Store, namespace, name string, into v1alpha1.Object) bool {
	t.Helper()
	err := s.Get(t.Context(), namespace, name, into)
	if err == nil {
		return true
	}
	if isNotFound(err) {
		return false
	}
	t.Fatalf("Get %s/%s: %v", namespace, name, err)
	return false
}

// event is the comparable summary of a watch.Event.
type event struct {
	Type watch.EventType
	Name string
	RV   string
}

func summarize(ev watch.Event) event {
	if o, ok := ev.Object.(v1alpha1.Object); ok {
		return event{Type: ev.Type, Name: o.GetName(), RV: o.GetResourceVersion()}
	}
	return event{Type: ev.Type}
}

const eventTimeout = 10 * time.Second

func nextEvent(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed, want an event")
		}
		return ev
	case <-time.After(eventTimeout):
		t.Fatal("no watch event within", eventTimeout)
	}
	return watch.Event{}
}

func nextEvents(t *testing.T, w watch.Interface, n int) []event {
	t.Helper()
	out := make([]event, 0, n)
	for range n {
		out = append(out, summarize(nextEvent(t, w)))
	}
	return out
}

// expectQuiet fails when an event arrives within a short while.
func expectQuiet(t *testing.T, w watch.Interface) {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if ok {
			t.Fatalf("unexpected watch event %+v", summarize(ev))
		}
	case <-time.After(100 * time.Millisecond):
	}
}

func mustWatch(t *testing.T, s store.Store, kind v1alpha1.Kind, opts store.ListOptions) watch.Interface {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	w, err := s.Watch(ctx, kind, opts)
	if err != nil {
		cancel()
		t.Fatalf("Watch: %v", err)
	}
	t.Cleanup(func() { w.Stop(); cancel() })
	return w
}
