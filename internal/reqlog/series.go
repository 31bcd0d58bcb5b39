package reqlog

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Bounds of a series query.
const (
	// MaxSeriesBuckets is the most buckets one series has.
	MaxSeriesBuckets = 1440
	// MaxSeriesRows is the most requests one series reads; a window with
	// more is computed from its newest MaxSeriesRows and marked Truncated.
	MaxSeriesRows = 200_000
)

// SeriesQuery selects the requests made to one service in [Since, Until)
// and cuts that window into buckets of Step.
type SeriesQuery struct {
	Namespace, Service string
	Since, Until       time.Time
	Step               time.Duration
}

// Check says what is wrong with q, naming the query parameter to fix.
func (q SeriesQuery) Check() error {
	switch {
	case q.Namespace == "":
		return errors.New("namespace: a series is of one service: name its namespace")
	case q.Service == "":
		return errors.New("service: name the InferenceService whose series to read")
	case q.Step <= 0:
		return errors.New("step: must be a positive duration such as 10s")
	case !q.Until.After(q.Since):
		return errors.New("since: must be before until")
	case q.Until.Sub(q.Since)/q.Step >= MaxSeriesBuckets:
		return fmt.Errorf("step: %s over %s makes more than %d buckets: use a longer step or a later since",
			q.Step, q.Until.Sub(q.Since).Round(time.Second), MaxSeriesBuckets)
	}
	return nil
}

// Bucket is the traffic of one service in [Time, Time+Step).
type Bucket struct {
	Time             time.Time `json:"time"`
	Requests         int64     `json:"requests"`
	Errors           int64     `json:"errors"`
	PromptTokens     int64     `json:"promptTokens"`
	CompletionTokens int64     `json:"completionTokens"`
	// Replicas counts the distinct replicas that answered in the bucket.
	Replicas int `json:"replicas"`
	// Latency percentiles over every request of the bucket; TTFT ones
	// over its streamed requests that produced a token. Zero when none.
	LatencyP50Seconds float64 `json:"latencyP50Seconds"`
	LatencyP99Seconds float64 `json:"latencyP99Seconds"`
	TTFTP50Seconds    float64 `json:"ttftP50Seconds"`
	TTFTP99Seconds    float64 `json:"ttftP99Seconds"`
}

// Series is a service's traffic over time.
type Series struct {
	Namespace   string    `json:"namespace"`
	Service     string    `json:"service"`
	Since       time.Time `json:"since"`
	Until       time.Time `json:"until"`
	StepSeconds float64   `json:"stepSeconds"`
	Buckets     []Bucket  `json:"buckets"`
	// Truncated says the window held more than MaxSeriesRows requests and
	// its oldest were left out.
	Truncated bool `json:"truncated,omitempty"`
}

// Sample is the part of an entry a series needs.
type Sample struct {
	Time             time.Time
	Status           int
	PromptTokens     int64
	CompletionTokens int64
	Replica          string
	TTFT, Latency    time.Duration
}

// Series reads the requests q selects and buckets them.
func (l *Log) Series(ctx context.Context, q SeriesQuery) (Series, error) {
	if err := q.Check(); err != nil {
		return Series{}, err
	}
	rows, err := l.r.QueryContext(ctx, `SELECT time, status, prompt_tokens, completion_tokens, replica, ttft_ns, latency_ns
		FROM requests WHERE namespace = ? AND service = ? AND time >= ? AND time < ? ORDER BY id DESC LIMIT ?`,
		q.Namespace, q.Service, q.Since.UnixNano(), q.Until.UnixNano(), MaxSeriesRows+1)
	if err != nil {
		return Series{}, fmt.Errorf("reading the request log: %w", err)
	}
	defer rows.Close()
	var samples []Sample
	for rows.Next() {
		var s Sample
		var t, ttft, lat int64
		if err := rows.Scan(&t, &s.Status, &s.PromptTokens, &s.CompletionTokens, &s.Replica, &ttft, &lat); err != nil {
			return Series{}, fmt.Errorf("reading the request log: %w", err)
		}
		s.Time, s.TTFT, s.Latency = time.Unix(0, t), time.Duration(ttft), time.Duration(lat)
		samples = append(samples, s)
	}
	if err := rows.Err(); err != nil {
		return Series{}, fmt.Errorf("reading the request log: %w", err)
	}
	truncated := len(samples) > MaxSeriesRows
	if truncated {
		samples = samples[:MaxSeriesRows]
	}
	out := Series{Namespace: q.Namespace, Service: q.Service, Since: q.Since.UTC(), Until: q.Until.UTC(),
		StepSeconds: q.Step.Seconds(), Buckets: BucketSamples(samples, q.Since, q.Until, q.Step), Truncated: truncated}
	return out, nil
}

// BucketSamples cuts [since, until) into buckets of step (the last one may
// be shorter) and sums the samples that fall in each; samples outside the
// window are ignored. Every bucket is present, empty ones included, so a
// chart shows quiet periods as zero.
func BucketSamples(samples []Sample, since, until time.Time, step time.Duration) []Bucket {
	if step <= 0 || !until.After(since) {
		return []Bucket{}
	}
	n := int((until.Sub(since) + step - 1) / step)
	buckets := make([]Bucket, n)
	lat := make([][]time.Duration, n)
	ttft := make([][]time.Duration, n)
	replicas := make([]map[string]bool, n)
	for i := range buckets {
		buckets[i].Time = since.Add(time.Duration(i) * step).UTC()
	}
	for _, s := range samples {
		if s.Time.Before(since) || !s.Time.Before(until) {
			continue
		}
		i := int(s.Time.Sub(since) / step)
		b := &buckets[i]
		b.Requests++
		if s.Status >= 400 {
			b.Errors++
		}
		b.PromptTokens += s.PromptTokens
		b.CompletionTokens += s.CompletionTokens
		lat[i] = append(lat[i], s.Latency)
		if s.TTFT > 0 {
			ttft[i] = append(ttft[i], s.TTFT)
		}
		if s.Replica != "" {
			if replicas[i] == nil {
				replicas[i] = map[string]bool{}
			}
			replicas[i][s.Replica] = true
		}
	}
	for i := range buckets {
		b := &buckets[i]
		b.Replicas = len(replicas[i])
		b.LatencyP50Seconds, b.LatencyP99Seconds = percentile(lat[i], 50), percentile(lat[i], 99)
		b.TTFTP50Seconds, b.TTFTP99Seconds = percentile(ttft[i], 50), percentile(ttft[i], 99)
	}
	return buckets
}

// percentile is the nearest-rank p-th percentile of ds in seconds (0 for
// none). It sorts ds.
func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(math.Ceil(p / 100 * float64(len(ds))))
	return ds[max(rank, 1)-1].Seconds()
}
