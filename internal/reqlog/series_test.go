package reqlog

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestBucketSamplesSumsAndPercentiles(t *testing.T) {
	since := epoch
	var samples []Sample
	// Bucket 0: 100 requests with latencies 1..100 ms, the odd ones
	// streamed with a TTFT of a tenth of that, two replicas, 3 errors.
	for i := 1; i <= 100; i++ {
		s := Sample{Time: since.Add(ms(i)), Status: 200, PromptTokens: 2, CompletionTokens: 5, Latency: ms(i), Replica: "svc-0"}
		if i%2 == 1 {
			s.TTFT = ms(i) / 10
			s.Replica = "svc-1"
		}
		if i <= 3 {
			s.Status = 429
		}
		samples = append(samples, s)
	}
	// Bucket 2: one request; outside the window: two, ignored.
	samples = append(samples,
		Sample{Time: since.Add(25 * time.Second), Status: 500, PromptTokens: 7, Latency: ms(40)},
		Sample{Time: since.Add(-time.Nanosecond), Status: 200, PromptTokens: 1000, Latency: time.Hour},
		Sample{Time: since.Add(35 * time.Second), Status: 200, PromptTokens: 1000, Latency: time.Hour})

	got := BucketSamples(samples, since, since.Add(30*time.Second), 10*time.Second)
	want := []Bucket{
		{Time: since, Requests: 100, Errors: 3, PromptTokens: 200, CompletionTokens: 500, Replicas: 2,
			LatencyP50Seconds: 0.050, LatencyP99Seconds: 0.099, TTFTP50Seconds: 0.0049, TTFTP99Seconds: 0.0099},
		{Time: since.Add(10 * time.Second)},
		{Time: since.Add(20 * time.Second), Requests: 1, Errors: 1, PromptTokens: 7, LatencyP50Seconds: 0.040, LatencyP99Seconds: 0.040},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("buckets (-want +got):\n%s", d)
	}

	// A window that does not divide by the step ends with a short bucket.
	if got := BucketSamples(nil, since, since.Add(25*time.Second), 10*time.Second); len(got) != 3 {
		t.Errorf("25s in steps of 10s = %d buckets, want 3", len(got))
	}
	if got := BucketSamples(samples, since, since, time.Second); len(got) != 0 {
		t.Errorf("empty window = %d buckets", len(got))
	}
}

func TestSeriesReadsOneServiceInTheWindow(t *testing.T) {
	l := openLog(t, Options{Now: func() time.Time { return epoch }})
	ctx := context.Background()
	rec := func(ns, svc string, at time.Time, lat float64) {
		l.Record(Entry{Time: at, Namespace: ns, Service: svc, Model: "m", Key: "k", Replica: svc + "-0", Status: 200,
			PromptTokens: 3, CompletionTokens: 4, LatencySeconds: lat, TTFTSeconds: lat / 2, Stream: true})
	}
	rec("a", "chat", epoch.Add(time.Second), 0.2)
	rec("a", "chat", epoch.Add(2*time.Second), 0.4)
	rec("a", "chat", epoch.Add(61*time.Second), 1)
	rec("a", "other", epoch.Add(time.Second), 9) // another service
	rec("b", "chat", epoch.Add(time.Second), 9)  // the same name in another namespace
	rec("a", "chat", epoch.Add(-time.Second), 9) // before the window
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := l.Series(ctx, SeriesQuery{Namespace: "a", Service: "chat", Since: epoch, Until: epoch.Add(2 * time.Minute), Step: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	want := Series{Namespace: "a", Service: "chat", Since: epoch, Until: epoch.Add(2 * time.Minute), StepSeconds: 60, Buckets: []Bucket{
		{Time: epoch, Requests: 2, PromptTokens: 6, CompletionTokens: 8, Replicas: 1,
			LatencyP50Seconds: 0.2, LatencyP99Seconds: 0.4, TTFTP50Seconds: 0.1, TTFTP99Seconds: 0.2},
		{Time: epoch.Add(time.Minute), Requests: 1, PromptTokens: 3, CompletionTokens: 4, Replicas: 1,
			LatencyP50Seconds: 1, LatencyP99Seconds: 1, TTFTP50Seconds: 0.5, TTFTP99Seconds: 0.5},
	}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("series (-want +got):\n%s", d)
	}

	es, err := l.Query(ctx, Query{Namespaces: []string{"a"}, Service: "chat"})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 4 {
		t.Errorf("Query by service found %d entries, want 4", len(es))
	}
}

func TestSeriesQueryCheckNamesTheParameter(t *testing.T) {
	ok := SeriesQuery{Namespace: "a", Service: "chat", Since: epoch, Until: epoch.Add(time.Hour), Step: 10 * time.Second}
	if err := ok.Check(); err != nil {
		t.Fatalf("a good query: %v", err)
	}
	for _, tc := range []struct {
		change func(*SeriesQuery)
		want   string
	}{
		{func(q *SeriesQuery) { q.Namespace = "" }, "namespace:"},
		{func(q *SeriesQuery) { q.Service = "" }, "service:"},
		{func(q *SeriesQuery) { q.Step = 0 }, "step:"},
		{func(q *SeriesQuery) { q.Since = q.Until }, "since:"},
		{func(q *SeriesQuery) { q.Step = time.Second }, "more than 1440 buckets"},
	} {
		q := ok
		tc.change(&q)
		err := q.Check()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check() = %v, want an error with %q", err, tc.want)
		}
		l := openLog(t, Options{})
		if _, err := l.Series(context.Background(), q); err == nil {
			t.Errorf("Series accepted a query Check refuses: %+v", q)
		}
	}
}
