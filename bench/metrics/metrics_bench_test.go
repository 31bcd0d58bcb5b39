// Package metricsbench measures the job metrics store (SQLite): appending
// reports of 10 points, as a training loop posting every few steps does;
// appending to a job that holds the most points kept (old ones dropped);
// reading a job's latest values, as a hyperparameter search polling many
// trials does; and reading a whole 20,000-point series (the per-job bound),
// as a loss-curve plot does.
//
//	go test -run '^$' -bench . -benchtime 200x ./bench/metrics/
package metricsbench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func open(b *testing.B) store.Metrics {
	b.Helper()
	m, err := store.OpenSQLiteMetrics(filepath.Join(b.TempDir(), "metrics.db"), 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

func report(step int64) []v1alpha1.MetricPoint {
	pts := make([]v1alpha1.MetricPoint, 0, 10)
	for i := int64(0); i < 5; i++ {
		s := step*5 + i
		pts = append(pts, v1alpha1.MetricPoint{Name: "loss", Step: s, Value: 1 / float64(s+1), Time: t0.Add(time.Duration(s) * time.Second)},
			v1alpha1.MetricPoint{Name: "progress", Step: s, Value: 0.5, Time: t0.Add(time.Duration(s) * time.Second)})
	}
	return pts
}

func BenchmarkAppendReportOf10Points(b *testing.B) {
	m := open(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := m.Append(ctx, "team", fmt.Sprintf("job-%d", i%50), report(int64(i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(10*b.N)/b.Elapsed().Seconds(), "points/s")
}

// fill gives jobs jobs a full series of 20,000 points each (loss and
// progress at 10,000 steps).
func fill(b *testing.B, m store.Metrics, jobs int) {
	b.Helper()
	ctx := context.Background()
	for j := 0; j < jobs; j++ {
		for s := int64(0); s < 2000; s++ {
			if err := m.Append(ctx, "team", fmt.Sprintf("trial-%d", j), report(s)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkAppendToAFullSeries(b *testing.B) {
	m := open(b)
	fill(b, m, 1)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := m.Append(ctx, "team", "trial-0", report(int64(2000+i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(10*b.N)/b.Elapsed().Seconds(), "points/s")
}

func BenchmarkLatestOfATrial(b *testing.B) {
	m := open(b)
	fill(b, m, 4)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pts, err := m.Latest(ctx, "team", fmt.Sprintf("trial-%d", i%4))
		if err != nil || len(pts) != 2 {
			b.Fatalf("latest = %v, %v", pts, err)
		}
	}
}

func BenchmarkSeriesOf20000Points(b *testing.B) {
	m := open(b)
	fill(b, m, 1)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pts, err := m.Series(ctx, "team", "trial-0", "")
		if err != nil || len(pts) != store.DefaultMaxPointsPerJob {
			b.Fatalf("series has %d points, %v", len(pts), err)
		}
	}
}
