package metrics

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/runtime"
	"skiff.dev/skiff/internal/store"
)

// fakeReplicas serves logs from a directory: <dir>/<namespace>/<name>.
type fakeReplicas struct {
	dir    string
	states map[string]runtime.State
	lists  int // List calls, less Status calls
}

func (f *fakeReplicas) List(context.Context) ([]runtime.Status, error) {
	f.lists += 1000
	var out []runtime.Status
	for name, st := range f.states {
		out = append(out, runtime.Status{Namespace: "ns", Name: name, State: st})
	}
	return out, nil
}

func (f *fakeReplicas) Status(_ context.Context, ns, name string) (runtime.Status, error) {
	f.lists--
	st, ok := f.states[name]
	if !ok {
		return runtime.Status{}, runtime.ErrNotFound
	}
	return runtime.Status{Namespace: ns, Name: name, State: st}, nil
}

func (f *fakeReplicas) LogPath(ns, name string) (string, error) {
	return filepath.Join(f.dir, ns, name), nil
}

func (f *fakeReplicas) write(t *testing.T, name, s string) {
	t.Helper()
	p, _ := f.LogPath("ns", name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	fh, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func jobOf(name string) (string, bool) { return "train", name != "" }

func TestCollectorTailsLogsOnce(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rep := &fakeReplicas{dir: t.TempDir(), states: map[string]runtime.State{"train-worker-0-0": runtime.Running}}
	m := store.NewMemoryMetrics(0)
	newCollector := func() *Collector {
		return &Collector{Replicas: rep, Metrics: m, JobOf: jobOf, Now: func() time.Time { return now }}
	}
	c := newCollector()
	rep.write(t, "train-worker-0-0", "starting\nskiff:metric loss=0.9 step=1\nskiff:metric bad\nskiff:metric loss=0.8 st")
	if err := c.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	pt := func(step int64, v float64) v1alpha1.MetricPoint {
		return v1alpha1.MetricPoint{Name: "loss", Step: step, Value: v, Time: now}
	}
	got, _ := m.Series(ctx, "ns", "train", "")
	if d := cmp.Diff([]v1alpha1.MetricPoint{pt(1, 0.9)}, got); d != "" {
		t.Errorf("after the first scan (-want +got):\n%s", d)
	}
	// The half-written line is completed; a collector started afresh (a
	// server restart) goes on from the stored offset.
	rep.write(t, "train-worker-0-0", "ep=2\n")
	c = newCollector()
	now = now.Add(time.Second)
	if err := c.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = m.Series(ctx, "ns", "train", "")
	first := pt(1, 0.9)
	first.Time = now.Add(-time.Second)
	want := []v1alpha1.MetricPoint{first, pt(2, 0.8)}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("after a restart (-want +got):\n%s", d)
	}
	// An exited replica's last line counts without a newline, and the
	// replica is then left alone.
	rep.write(t, "train-worker-0-0", "skiff:metric loss=0.7 step=3")
	rep.states["train-worker-0-0"] = runtime.Exited
	if err := c.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if !c.done[replicaKey{"ns", "train-worker-0-0"}] {
		t.Error("an exited replica read to its end should be done")
	}
	if got, _ := m.Latest(ctx, "ns", "train"); len(got) != 1 || got[0].Step != 3 {
		t.Errorf("latest = %v, want step 3", got)
	}
}

func TestCollectorListsOnlyEveryFewScans(t *testing.T) {
	ctx := context.Background()
	rep := &fakeReplicas{dir: t.TempDir(), states: map[string]runtime.State{"train-worker-0-0": runtime.Running, "train-worker-1-0": runtime.Exited}}
	rep.write(t, "train-worker-0-0", "skiff:metric loss=1 step=1\n")
	rep.write(t, "train-worker-1-0", "skiff:metric acc=1 step=1\n")
	m := store.NewMemoryMetrics(0)
	c := &Collector{Replicas: rep, Metrics: m, JobOf: jobOf, Now: time.Now, ListEvery: 3}
	for i := 0; i < 3; i++ {
		if err := c.Scan(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Scan 1 lists; scans 2 and 3 ask only about the running replica (the
	// exited one was read to its end).
	if rep.lists != 1000-2 {
		t.Errorf("lists-statuses = %d, want one listing and 2 status calls", rep.lists)
	}
	rep.write(t, "train-worker-0-0", "skiff:metric loss=0.5 step=2\n")
	rep.states["train-worker-0-0"] = runtime.Exited
	rep.states["train-worker-0-1"] = runtime.Running // found by the next listing
	rep.write(t, "train-worker-0-1", "skiff:metric loss=0.25 step=3\n")
	if err := c.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := m.Series(ctx, "ns", "train", "loss")
	if len(got) != 3 {
		t.Errorf("loss points = %v, want steps 1, 2 and 3", got)
	}
}

func TestFlushReadsAnExitedReplicaAtOnce(t *testing.T) {
	ctx := context.Background()
	rep := &fakeReplicas{dir: t.TempDir(), states: map[string]runtime.State{"train-worker-0-0": runtime.Exited}}
	rep.write(t, "train-worker-0-0", "skiff:metric loss=0.5 step=9")
	m := store.NewMemoryMetrics(0)
	c := &Collector{Replicas: rep, Metrics: m, JobOf: jobOf, Now: time.Now}
	if err := c.Flush(ctx, "ns", "train-worker-0-0"); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Latest(ctx, "ns", "train"); len(got) != 1 || got[0].Step != 9 {
		t.Errorf("after Flush: %v, want the last line without a newline", got)
	}
	if rep.lists != 0 {
		t.Error("Flush listed the runtime")
	}
	// A later scan does not store it again.
	rep.write(t, "train-worker-0-0", "\nskiff:metric loss=0.1 step=10\n")
	if err := c.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Series(ctx, "ns", "train", ""); len(got) != 1 {
		t.Errorf("a flushed replica was read again: %v", got)
	}
}

func TestDeleteJobForgetsItsReplicas(t *testing.T) {
	ctx := context.Background()
	rep := &fakeReplicas{dir: t.TempDir(), states: map[string]runtime.State{"train-worker-0-0": runtime.Running}}
	rep.write(t, "train-worker-0-0", "skiff:metric loss=0.5 step=1\n")
	m := store.NewMemoryMetrics(0)
	c := &Collector{Replicas: rep, Metrics: m, JobOf: jobOf, Now: time.Now}
	if err := c.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	delete(rep.states, "train-worker-0-0") // removed with the job
	if err := c.DeleteJob(ctx, "ns", "train"); err != nil {
		t.Fatal(err)
	}
	if err := c.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Series(ctx, "ns", "train", ""); len(got) != 0 {
		t.Errorf("points after DeleteJob: %v", got)
	}
	if len(c.active) != 0 || len(c.offsets) != 0 {
		t.Errorf("state kept for a deleted job: %v %v", c.active, c.offsets)
	}
}
