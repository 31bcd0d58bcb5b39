package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)

func pt(name string, step int64, value float64) v1alpha1.MetricPoint {
	return v1alpha1.MetricPoint{Name: name, Step: step, Value: value, Time: t0.Add(time.Duration(step) * time.Second)}
}

// testMetrics is the conformance suite every Metrics backend passes.
func testMetrics(t *testing.T, open func(t *testing.T, max int) store.Metrics) {
	ctx := context.Background()
	t.Run("series, upsert and latest", func(t *testing.T) {
		m := open(t, 100)
		must(t, m.Append(ctx, "a", "train", []v1alpha1.MetricPoint{pt("loss", 1, 0.9), pt("loss", 2, 0.8), pt("acc", 2, 0.5)}))
		// A resumed attempt repeats step 2 with another value, then goes on.
		must(t, m.Append(ctx, "a", "train", []v1alpha1.MetricPoint{pt("loss", 2, 0.7), pt("loss", 3, 0.6)}))
		must(t, m.Append(ctx, "b", "train", []v1alpha1.MetricPoint{pt("loss", 9, 9)}))
		got, err := m.Series(ctx, "a", "train", "")
		must(t, err)
		want := []v1alpha1.MetricPoint{pt("acc", 2, 0.5), pt("loss", 1, 0.9), pt("loss", 2, 0.7), pt("loss", 3, 0.6)}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("series (-want +got):\n%s", d)
		}
		got, err = m.Series(ctx, "a", "train", "acc")
		must(t, err)
		if d := cmp.Diff(want[:1], got); d != "" {
			t.Errorf("series of acc (-want +got):\n%s", d)
		}
		// A late point of an earlier step does not replace the latest.
		must(t, m.Append(ctx, "a", "train", []v1alpha1.MetricPoint{pt("loss", 1, 0.95)}))
		got, err = m.Latest(ctx, "a", "train")
		must(t, err)
		if d := cmp.Diff([]v1alpha1.MetricPoint{pt("acc", 2, 0.5), pt("loss", 3, 0.6)}, got); d != "" {
			t.Errorf("latest (-want +got):\n%s", d)
		}
		got, err = m.Series(ctx, "a", "other", "")
		must(t, err)
		if got == nil || len(got) != 0 {
			t.Errorf("series of a job without metrics = %#v, want an empty non-nil slice", got)
		}
	})
	t.Run("bounded per job", func(t *testing.T) {
		m := open(t, 5)
		for s := int64(0); s < 8; s++ {
			must(t, m.Append(ctx, "a", "j", []v1alpha1.MetricPoint{pt("loss", s, float64(s))}))
		}
		must(t, m.Append(ctx, "a", "k", []v1alpha1.MetricPoint{pt("loss", 0, 0)}))
		got, err := m.Series(ctx, "a", "j", "")
		must(t, err)
		want := []v1alpha1.MetricPoint{pt("loss", 3, 3), pt("loss", 4, 4), pt("loss", 5, 5), pt("loss", 6, 6), pt("loss", 7, 7)}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("oldest points should be dropped (-want +got):\n%s", d)
		}
		if got, _ := m.Series(ctx, "a", "k", ""); len(got) != 1 {
			t.Errorf("another job's series = %v, want its one point", got)
		}
	})
	t.Run("log offsets and delete", func(t *testing.T) {
		m := open(t, 100)
		off, err := m.LogOffset(ctx, "a", "j-worker-0-0")
		must(t, err)
		if off != 0 {
			t.Errorf("offset of an unread log = %d", off)
		}
		must(t, m.AppendFromLog(ctx, "a", "j", "j-worker-0-0", 120, []v1alpha1.MetricPoint{pt("loss", 1, 1)}))
		must(t, m.AppendFromLog(ctx, "a", "j", "j-worker-0-0", 240, nil))
		must(t, m.AppendFromLog(ctx, "a", "jj", "jj-worker-0-0", 7, []v1alpha1.MetricPoint{pt("loss", 1, 1)}))
		if off, _ := m.LogOffset(ctx, "a", "j-worker-0-0"); off != 240 {
			t.Errorf("offset = %d, want 240", off)
		}
		must(t, m.DeleteJob(ctx, "a", "j"))
		if off, _ := m.LogOffset(ctx, "a", "j-worker-0-0"); off != 0 {
			t.Errorf("offset after delete = %d, want 0", off)
		}
		if got, _ := m.Latest(ctx, "a", "j"); len(got) != 0 {
			t.Errorf("latest after delete = %v", got)
		}
		if off, _ := m.LogOffset(ctx, "a", "jj-worker-0-0"); off != 7 {
			t.Errorf("another job's offset = %d, want 7", off)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestMemoryMetrics(t *testing.T) {
	testMetrics(t, func(t *testing.T, max int) store.Metrics {
		m := store.NewMemoryMetrics(max)
		t.Cleanup(func() { m.Close() })
		return m
	})
}

func TestSQLiteMetrics(t *testing.T) {
	testMetrics(t, func(t *testing.T, max int) store.Metrics {
		m, err := store.OpenSQLiteMetrics(filepath.Join(t.TempDir(), "metrics.db"), max)
		must(t, err)
		t.Cleanup(func() { m.Close() })
		return m
	})
}

func TestSQLiteMetricsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "metrics.db")
	m, err := store.OpenSQLiteMetrics(path, 0)
	must(t, err)
	must(t, m.AppendFromLog(ctx, "a", "j", "j-worker-0-0", 99, []v1alpha1.MetricPoint{pt("loss", 4, 0.25)}))
	must(t, m.Close())
	m, err = store.OpenSQLiteMetrics(path, 0)
	must(t, err)
	defer m.Close()
	got, err := m.Latest(ctx, "a", "j")
	must(t, err)
	if d := cmp.Diff([]v1alpha1.MetricPoint{pt("loss", 4, 0.25)}, got); d != "" {
		t.Errorf("after reopening (-want +got):\n%s", d)
	}
	if off, _ := m.LogOffset(ctx, "a", "j-worker-0-0"); off != 99 {
		t.Errorf("offset after reopening = %d, want 99", off)
	}
}

func TestSQLiteMetricsBoundHoldsAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "metrics.db")
	m, err := store.OpenSQLiteMetrics(path, 3)
	must(t, err)
	must(t, m.Append(ctx, "a", "j", []v1alpha1.MetricPoint{pt("loss", 1, 1), pt("loss", 2, 2), pt("loss", 3, 3)}))
	must(t, m.Close())
	m, err = store.OpenSQLiteMetrics(path, 3)
	must(t, err)
	defer m.Close()
	// A repeated step is no new point; a new one pushes the oldest out.
	must(t, m.Append(ctx, "a", "j", []v1alpha1.MetricPoint{pt("loss", 3, 3.5)}))
	must(t, m.Append(ctx, "a", "j", []v1alpha1.MetricPoint{pt("loss", 4, 4)}))
	got, err := m.Series(ctx, "a", "j", "")
	must(t, err)
	if d := cmp.Diff([]v1alpha1.MetricPoint{pt("loss", 2, 2), pt("loss", 3, 3.5), pt("loss", 4, 4)}, got); d != "" {
		t.Errorf("after reopening (-want +got):\n%s", d)
	}
}
