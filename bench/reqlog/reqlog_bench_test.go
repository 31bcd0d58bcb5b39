// Package reqlogbench measures the gateway's request log (SQLite): the
// rows per second the batching writer stores (Record then Flush), the same
// at the retention bound (every batch also deletes the oldest rows), and
// reading the newest 100 entries of one namespace, the per-namespace and
// model summary of a 100,000-row log, and one service's series over 15
// minutes (the dashboard's service page).
//
//	go test -run '^$' -bench Write -benchtime 20000x ./bench/reqlog/
//	go test -run '^$' -bench 'Query|Summary' -benchtime 20x ./bench/reqlog/
//	go test -run '^$' -bench Series -benchtime 20x ./bench/reqlog/
package reqlogbench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"skiff.dev/skiff/internal/reqlog"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func open(b *testing.B, opts reqlog.Options) *reqlog.Log {
	b.Helper()
	opts.Now = func() time.Time { return t0 }
	l, err := reqlog.Open(filepath.Join(b.TempDir(), "requests.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

func entry(i int) reqlog.Entry {
	return reqlog.Entry{Time: t0, Namespace: fmt.Sprintf("team-%d", i%4), Service: "chat", Model: fmt.Sprintf("model-%d", i%3),
		Key: "tk-1", Replica: "chat-0", Path: "/v1/chat/completions", Stream: i%2 == 0, Status: 200,
		PromptTokens: 120, CompletionTokens: 80, TTFTSeconds: 0.05, LatencySeconds: 0.9}
}

// BenchmarkWrite is Record of b.N entries and a Flush: the writer's rows
// per second (reported as rows/s).
func BenchmarkWrite(b *testing.B) {
	l := open(b, reqlog.Options{Buffer: 1 << 16})
	b.ResetTimer()
	write(b, l)
}

// BenchmarkWriteAtRetentionBound keeps 10,000 rows, so every batch also
// deletes as many old rows as it adds.
func BenchmarkWriteAtRetentionBound(b *testing.B) {
	l := open(b, reqlog.Options{Buffer: 1 << 16, MaxEntries: 10_000})
	for i := range 10_000 {
		l.Record(entry(i))
	}
	if err := l.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	write(b, l)
}

func write(b *testing.B, l *reqlog.Log) {
	start := time.Now()
	for i := 0; i < b.N; i++ {
		l.Record(entry(i))
		if i%(1<<15) == 1<<15-1 {
			if err := l.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := l.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
	if d := l.Dropped(); d != 0 {
		b.Fatalf("%d dropped", d)
	}
}

func filled(b *testing.B) *reqlog.Log {
	l := open(b, reqlog.Options{Buffer: 1 << 16})
	for i := range 100_000 {
		l.Record(entry(i))
		if i%(1<<15) == 1<<15-1 {
			if err := l.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := l.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	return l
}

func BenchmarkQueryNewest100Of100k(b *testing.B) {
	l := filled(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		es, err := l.Query(context.Background(), reqlog.Query{Namespaces: []string{"team-1"}, Limit: 100})
		if err != nil || len(es) != 100 {
			b.Fatal(err, len(es))
		}
	}
}

func BenchmarkSummaryOf100k(b *testing.B) {
	l := filled(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := l.Summarize(context.Background(), reqlog.Query{})
		if err != nil || len(s) != 12 {
			b.Fatal(err, len(s))
		}
	}
}

// BenchmarkSeries15mOf100k buckets one service's requests over 15 minutes
// in steps of 10 s (90 buckets, percentiles per bucket), in a log of
// 100,000 rows spread over those 15 minutes, 25,000 of them the service's:
// what the dashboard's service page asks for every few seconds.
func BenchmarkSeries15mOf100k(b *testing.B) {
	l := open(b, reqlog.Options{Buffer: 1 << 16})
	const n = 100_000
	for i := range n {
		e := entry(i)
		e.Time = t0.Add(-15 * time.Minute).Add(time.Duration(i) * (15 * time.Minute / n))
		l.Record(e)
		if i%(1<<15) == 1<<15-1 {
			if err := l.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := l.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	q := reqlog.SeriesQuery{Namespace: "team-1", Service: "chat", Since: t0.Add(-15 * time.Minute), Until: t0, Step: 10 * time.Second}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := l.Series(context.Background(), q)
		if err != nil || len(s.Buckets) != 90 {
			b.Fatal(err, len(s.Buckets))
		}
		var reqs int64
		for _, bk := range s.Buckets {
			reqs += bk.Requests
		}
		if reqs != n/4 {
			b.Fatalf("%d requests in the series, want %d", reqs, n/4)
		}
	}
}
