package monitoring

import (
	"context"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/runtime"
	"skiff.dev/skiff/internal/store"
)

// Store times the writes of the store it wraps; everything else passes
// through unchanged.
type Store struct {
	store.Store
	Metrics *Metrics
	Now     func() time.Time
}

// Create implements store.Store.
func (s *Store) Create(ctx context.Context, obj v1alpha1.Object) error {
	start := s.Now()
	err := s.Store.Create(ctx, obj)
	s.Metrics.ObserveStoreWrite("create", s.Now().Sub(start))
	return err
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, obj v1alpha1.Object) error {
	start := s.Now()
	err := s.Store.Update(ctx, obj)
	s.Metrics.ObserveStoreWrite("update", s.Now().Sub(start))
	return err
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, kind v1alpha1.Kind, namespace, name string, opts store.DeleteOptions) error {
	start := s.Now()
	err := s.Store.Delete(ctx, kind, namespace, name, opts)
	s.Metrics.ObserveStoreWrite("delete", s.Now().Sub(start))
	return err
}

// FileSizeCollector reports the size of the store's files (the SQLite
// database and its write-ahead log) on each scrape.
type FileSizeCollector struct {
	Paths []string
}

var descStoreSize = prometheus.NewDesc("skiff_store_size_bytes",
	"Size of the store's files on disk (database and write-ahead log).", nil, nil)

// Describe implements prometheus.Collector.
func (c FileSizeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descStoreSize }

// Collect implements prometheus.Collector.
func (c FileSizeCollector) Collect(ch chan<- prometheus.Metric) {
	var total int64
	for _, p := range c.Paths {
		if fi, err := os.Stat(p); err == nil {
			total += fi.Size()
		}
	}
	ch <- prometheus.MustNewConstMetric(descStoreSize, prometheus.GaugeValue, float64(total))
}

// Runtime counts the exits of the replicas of the runtime it wraps. Exits
// is relayed through one goroutine, with a buffer like the local
// runtime's, until ctx ends or the wrapped channel is closed.
type Runtime struct {
	runtime.Runtime
	exits chan runtime.Status
}

// WrapRuntime returns rt with its exits counted in m.
func WrapRuntime(ctx context.Context, rt runtime.Runtime, m *Metrics) *Runtime {
	w := &Runtime{Runtime: rt, exits: make(chan runtime.Status, 1024)}
	in := rt.Exits()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case st, ok := <-in:
				if !ok {
					close(w.exits)
					return
				}
				m.replicaExits.WithLabelValues(ExitClass(st)).Inc()
				select {
				case w.exits <- st:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return w
}

// Exits implements runtime.Runtime.
func (w *Runtime) Exits() <-chan runtime.Status { return w.exits }

// ExitClass sorts a replica's end into success, error, signal or lost.
func ExitClass(st runtime.Status) string {
	switch {
	case st.State == runtime.Lost:
		return "lost"
	case st.Signal != "":
		return "signal"
	case st.ExitCode == 0:
		return "success"
	}
	return "error"
}
