package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/runtime"
	"skiff.dev/skiff/internal/store"
)

// Replicas is what the collector needs of a runtime.
type Replicas interface {
	List(ctx context.Context) ([]runtime.Status, error)
	Status(ctx context.Context, namespace, name string) (runtime.Status, error)
	LogPath(namespace, name string) (string, error)
}

// maxChunk bounds one read of a log; a line longer than this is skipped.
const maxChunk = 1 << 20

// Collector tails the logs of replicas for metric lines and stores the
// points with the log offset they were read up to, so after a restart it
// goes on where it stopped and stores no line twice.
type Collector struct {
	Replicas Replicas
	Metrics  store.Metrics
	// JobOf maps a replica name to its job's name.
	JobOf func(replica string) (string, bool)
	Now   func() time.Time
	// Interval between scans; default 500ms.
	Interval time.Duration
	// ListEvery is how many scans apart the runtime's whole listing is read
	// to find new replicas (default 4); the scans between look only at the
	// replicas still being read, so finished replicas kept on disk cost
	// nothing once read.
	ListEvery int
	Log       *slog.Logger

	mu      sync.Mutex // Scan and Flush may run at once
	offsets map[replicaKey]int64
	// done are replicas that exited and whose log was read to its end.
	done map[replicaKey]bool
	// active are the replicas not done, from the last listing on.
	active map[replicaKey]bool
	scans  int
}

type replicaKey struct{ namespace, name string }

// Run scans until ctx ends.
func (c *Collector) Run(ctx context.Context) error {
	if c.Interval <= 0 {
		c.Interval = 500 * time.Millisecond
	}
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		if err := c.Scan(ctx); err != nil && ctx.Err() == nil {
			c.logger().Warn("collecting metrics from replica logs", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (c *Collector) logger() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

func (c *Collector) init() {
	if c.offsets == nil {
		c.offsets, c.done, c.active = map[replicaKey]int64{}, map[replicaKey]bool{}, map[replicaKey]bool{}
	}
	if c.ListEvery <= 0 {
		c.ListEvery = 4
	}
}

// Flush reads the rest of an exited replica's log now. The job controller
// calls it before it records the exit, so that once a job reads as
// finished every metric line its replicas printed is stored.
func (c *Collector) Flush(ctx context.Context, namespace, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	k := replicaKey{namespace, name}
	job, ok := c.JobOf(name)
	if c.done[k] || !ok {
		return nil
	}
	eof, err := c.read(ctx, k, job, true)
	if err != nil {
		return err
	}
	if eof {
		c.done[k] = true
		delete(c.offsets, k)
		delete(c.active, k)
	}
	return nil
}

// DeleteJob forgets a deleted job's metrics. It holds off scans and
// flushes meanwhile, so that none reads a log of the job (already removed
// by then) and stores its points after they were deleted.
func (c *Collector) DeleteJob(ctx context.Context, namespace, job string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	for _, m := range []map[replicaKey]bool{c.done, c.active} {
		for k := range m {
			if j, ok := c.JobOf(k.name); ok && k.namespace == namespace && j == job {
				delete(m, k)
				delete(c.offsets, k)
			}
		}
	}
	return c.Metrics.DeleteJob(ctx, namespace, job)
}

// Scan reads what each replica wrote since the last scan.
func (c *Collector) Scan(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	full := c.scans%c.ListEvery == 0
	c.scans++
	var list []runtime.Status
	var errs []error
	if full {
		var err error
		if list, err = c.Replicas.List(ctx); err != nil {
			return err
		}
	} else {
		for k := range c.active {
			st, err := c.Replicas.Status(ctx, k.namespace, k.name)
			if errors.Is(err, runtime.ErrNotFound) {
				delete(c.active, k)
				continue
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			list = append(list, st)
		}
	}
	live := make(map[replicaKey]bool, len(list))
	for _, st := range list {
		k := replicaKey{st.Namespace, st.Name}
		live[k] = true
		if c.done[k] {
			continue
		}
		c.active[k] = true
		job, ok := c.JobOf(st.Name)
		if !ok {
			continue
		}
		exited := st.State != runtime.Running
		eof, err := c.read(ctx, k, job, exited)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if exited && eof {
			c.done[k] = true
			delete(c.offsets, k)
			delete(c.active, k)
		}
	}
	if full {
		// Forget what the runtime no longer has (removed with its job).
		for k := range c.done {
			if !live[k] {
				delete(c.done, k)
			}
		}
		for k := range c.active {
			if !live[k] {
				delete(c.active, k)
				delete(c.offsets, k)
			}
		}
	}
	return errors.Join(errs...)
}

// read stores the metric lines of one replica's log past its offset. final
// means the replica exited, so a last line without a newline is complete.
// It reports whether the log was read to its end.
func (c *Collector) read(ctx context.Context, k replicaKey, job string, final bool) (bool, error) {
	off, ok := c.offsets[k]
	if !ok {
		var err error
		if off, err = c.Metrics.LogOffset(ctx, k.namespace, k.name); err != nil {
			return false, err
		}
		c.offsets[k] = off
	}
	path, err := c.Replicas.LogPath(k.namespace, k.name)
	if err != nil {
		return false, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("replica %s/%s: %w", k.namespace, k.name, err)
	}
	defer f.Close()
	buf := make([]byte, maxChunk)
	for {
		n, err := f.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			return false, fmt.Errorf("replica %s/%s: reading its log: %w", k.namespace, k.name, err)
		}
		atEOF := err == io.EOF
		chunk := buf[:n]
		end := bytes.LastIndexByte(chunk, '\n') + 1
		switch {
		case end == 0 && n == len(buf):
			end = n // a line longer than a chunk: skip it
		case atEOF && final:
			end = n
		}
		if end == 0 {
			return atEOF, nil
		}
		// The offset is stored with points only: after a restart, lines
		// since the last metric line are read again, which stores nothing
		// twice, and output without metrics costs no write.
		if points := c.parse(k, chunk[:end]); len(points) > 0 {
			if err := c.Metrics.AppendFromLog(ctx, k.namespace, job, k.name, off+int64(end), points); err != nil {
				return false, err
			}
		}
		off += int64(end)
		c.offsets[k] = off
		if atEOF && end == n {
			return true, nil
		}
	}
}

func (c *Collector) parse(k replicaKey, data []byte) []v1alpha1.MetricPoint {
	var out []v1alpha1.MetricPoint
	now := c.Now().UTC()
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if !bytes.HasPrefix(line, []byte(LinePrefix)) {
			continue
		}
		pts, ok, err := ParseLine(string(line))
		if !ok {
			continue
		}
		if err != nil {
			c.logger().Debug("ignoring a malformed metric line", "replica", k.namespace+"/"+k.name, "err", err)
			continue
		}
		for i := range pts {
			pts[i].Time = now
		}
		out = append(out, pts...)
	}
	return out
}
