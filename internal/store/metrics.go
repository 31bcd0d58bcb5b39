package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"skiff.dev/skiff/api/v1alpha1"
)

// DefaultMaxPointsPerJob bounds the time series kept per job: past it, the
// oldest points are dropped.
const DefaultMaxPointsPerJob = 20000

// Metrics keeps the metric time series of jobs: points keyed by (namespace,
// job, name, step). Reporting a step again replaces its value, so a job
// that resumes from a checkpoint and repeats steps, or a log read twice,
// leaves one point per step. Each job also has the latest point per name
// (the one with the highest step), which is a single indexed read.
//
// Metrics are kept beside the objects rather than as objects: a training
// job reports thousands of points and nobody watches them one by one, so
// they need no revisions, watch events or fsync per point.
type Metrics interface {
	// Append stores points of one job; each point must already be valid
	// (v1alpha1.ValidateMetricPoint) and carry its time.
	Append(ctx context.Context, namespace, job string, points []v1alpha1.MetricPoint) error
	// AppendFromLog stores points parsed from a replica's log together
	// with the log offset they were read up to, in one transaction, so a
	// restarted reader resumes exactly where the stored points end.
	AppendFromLog(ctx context.Context, namespace, job, replica string, offset int64, points []v1alpha1.MetricPoint) error
	// LogOffset is the offset stored by the last AppendFromLog of the
	// replica, 0 when none.
	LogOffset(ctx context.Context, namespace, replica string) (int64, error)
	// Series returns a job's points ordered by name then step; name ""
	// means every metric.
	Series(ctx context.Context, namespace, job, name string) ([]v1alpha1.MetricPoint, error)
	// Latest returns each metric's point with the highest step, by name.
	Latest(ctx context.Context, namespace, job string) ([]v1alpha1.MetricPoint, error)
	// DeleteJob removes a job's points and log offsets (its replicas' names
	// start with "<job>-").
	DeleteJob(ctx context.Context, namespace, job string) error
	Close() error
}

// ErrMetricsClosed is returned by a closed Metrics.
var ErrMetricsClosed = errors.New("metrics store is closed")

type seriesKey struct{ namespace, job string }

type memSeries struct {
	// points by name then step; order records insertion for trimming.
	points map[string]map[int64]v1alpha1.MetricPoint
	order  []pointKey
	latest map[string]v1alpha1.MetricPoint
}

type pointKey struct {
	name string
	step int64
}

// memoryMetrics is the in-memory Metrics, for tests and the simulator.
type memoryMetrics struct {
	max     int
	mu      sync.Mutex
	closed  bool
	series  map[seriesKey]*memSeries
	offsets map[[2]string]int64
}

// NewMemoryMetrics returns a Metrics kept in memory, keeping at most
// maxPerJob points per job (DefaultMaxPointsPerJob when 0).
func NewMemoryMetrics(maxPerJob int) Metrics {
	if maxPerJob <= 0 {
		maxPerJob = DefaultMaxPointsPerJob
	}
	return &memoryMetrics{max: maxPerJob, series: map[seriesKey]*memSeries{}, offsets: map[[2]string]int64{}}
}

func (m *memoryMetrics) Append(_ context.Context, namespace, job string, points []v1alpha1.MetricPoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrMetricsClosed
	}
	m.appendLocked(namespace, job, points)
	return nil
}

func (m *memoryMetrics) appendLocked(namespace, job string, points []v1alpha1.MetricPoint) {
	k := seriesKey{namespace, job}
	s := m.series[k]
	if s == nil {
		s = &memSeries{points: map[string]map[int64]v1alpha1.MetricPoint{}, latest: map[string]v1alpha1.MetricPoint{}}
		m.series[k] = s
	}
	for _, pt := range points {
		byStep := s.points[pt.Name]
		if byStep == nil {
			byStep = map[int64]v1alpha1.MetricPoint{}
			s.points[pt.Name] = byStep
		}
		if _, ok := byStep[pt.Step]; !ok {
			s.order = append(s.order, pointKey{pt.Name, pt.Step})
		}
		byStep[pt.Step] = pt
		if l, ok := s.latest[pt.Name]; !ok || pt.Step >= l.Step {
			s.latest[pt.Name] = pt
		}
	}
	for len(s.order) > m.max {
		old := s.order[0]
		s.order = s.order[1:]
		delete(s.points[old.name], old.step)
	}
}

func (m *memoryMetrics) AppendFromLog(ctx context.Context, namespace, job, replica string, offset int64, points []v1alpha1.MetricPoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrMetricsClosed
	}
	m.appendLocked(namespace, job, points)
	m.offsets[[2]string{namespace, replica}] = offset
	return nil
}

func (m *memoryMetrics) LogOffset(_ context.Context, namespace, replica string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, ErrMetricsClosed
	}
	return m.offsets[[2]string{namespace, replica}], nil
}

func (m *memoryMetrics) Series(_ context.Context, namespace, job, name string) ([]v1alpha1.MetricPoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrMetricsClosed
	}
	out := []v1alpha1.MetricPoint{}
	s := m.series[seriesKey{namespace, job}]
	if s == nil {
		return out, nil
	}
	for n, byStep := range s.points {
		if name != "" && n != name {
			continue
		}
		for _, pt := range byStep {
			out = append(out, pt)
		}
	}
	sortPoints(out)
	return out, nil
}

func (m *memoryMetrics) Latest(_ context.Context, namespace, job string) ([]v1alpha1.MetricPoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrMetricsClosed
	}
	out := []v1alpha1.MetricPoint{}
	if s := m.series[seriesKey{namespace, job}]; s != nil {
		for _, pt := range s.latest {
			out = append(out, pt)
		}
	}
	sortPoints(out)
	return out, nil
}

func (m *memoryMetrics) DeleteJob(_ context.Context, namespace, job string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrMetricsClosed
	}
	delete(m.series, seriesKey{namespace, job})
	for k := range m.offsets {
		if k[0] == namespace && replicaOfJob(k[1], job) {
			delete(m.offsets, k)
		}
	}
	return nil
}

func (m *memoryMetrics) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// replicaOfJob reports whether replica (<job>-<group>-<index>-<attempt>)
// belongs to job: group names have no '-', so exactly three parts follow.
func replicaOfJob(replica, job string) bool {
	rest, ok := strings.CutPrefix(replica, job+"-")
	return ok && strings.Count(rest, "-") == 2
}

func sortPoints(pts []v1alpha1.MetricPoint) {
	slices.SortFunc(pts, func(a, b v1alpha1.MetricPoint) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		switch {
		case a.Step < b.Step:
			return -1
		case a.Step > b.Step:
			return 1
		}
		return 0
	})
}
