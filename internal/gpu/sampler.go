package gpu

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"
)

// Owner is the replica a GPU is placed with.
type Owner struct {
	Namespace string
	Job       string
	Replica   string
}

// Allocation is this node's GPUs as the scheduler sees them: how many
// there are (detected or declared) and which are held by whom.
type Allocation struct {
	Total  int
	Owners map[int]Owner
}

// Sampler queries the GPUs every interval and keeps the latest reading and
// a short history for charts.
type Sampler struct {
	// Query returns nvidia-smi's output for QueryArgs; nil when nvidia-smi
	// is absent (no GPUs detected).
	Query func(ctx context.Context) ([]byte, error)
	// Allocation reads the current placements (from an informer cache).
	Allocation func() Allocation
	Now        func() time.Time
	Node       string
	// Keep is the number of history points kept (default 360: an hour at
	// the default 10 s interval).
	Keep int
	// Known are the GPUs registered for this node (detected at start or
	// declared with --gpus): their index, UUID and model name the GPUs
	// that have no reading.
	Known []Device

	mu      sync.Mutex
	devices []Device
	err     string
	history []Point
}

// Point is one history sample: GPUs on the node, those allocated to
// replicas, those busy (utilization above 5%, when measured) and the mean
// utilization (NaN when not measured).
type Point struct {
	Time        time.Time
	Total       int
	Allocated   int
	Busy        int
	Utilization float64
}

// busyThreshold is the utilization above which a GPU counts as busy.
const busyThreshold = 0.05

// SMIQuery returns a Query running the nvidia-smi on PATH, or nil when
// there is none.
func SMIQuery() func(ctx context.Context) ([]byte, error) {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return nil
	}
	return func(ctx context.Context) ([]byte, error) {
		var stderr strings.Builder
		cmd := exec.CommandContext(ctx, path, QueryArgs...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w: %s", path, strings.Join(QueryArgs, " "), err, strings.TrimSpace(stderr.String()))
		}
		return out, nil
	}
}

// Sample takes one reading and appends a history point.
func (s *Sampler) Sample(ctx context.Context) {
	var devs []Device
	errMsg := ""
	if s.Query != nil {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out, err := s.Query(qctx)
		cancel()
		if err == nil {
			devs, err = ParseQuery(out)
		}
		if err != nil {
			errMsg = err.Error()
			devs = nil
		}
	}
	alloc := s.allocation()
	p := Point{Time: s.Now(), Total: max(alloc.Total, len(devs)), Allocated: len(alloc.Owners), Utilization: math.NaN()}
	if len(devs) > 0 {
		sum, n := 0.0, 0
		for _, d := range devs {
			if !math.IsNaN(d.Utilization) {
				sum += d.Utilization
				n++
				if d.Utilization > busyThreshold {
					p.Busy++
				}
			}
		}
		if n > 0 {
			p.Utilization = sum / float64(n)
		}
	}
	keep := s.Keep
	if keep <= 0 {
		keep = 360
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.devices, s.err = devs, errMsg
	s.history = append(s.history, p)
	if len(s.history) > keep {
		s.history = append(s.history[:0], s.history[len(s.history)-keep:]...)
	}
}

// Run samples every interval until ctx ends.
func (s *Sampler) Run(ctx context.Context, interval time.Duration) {
	s.Sample(ctx)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Sample(ctx)
		}
	}
}

func (s *Sampler) allocation() Allocation {
	if s.Allocation == nil {
		return Allocation{}
	}
	return s.Allocation()
}

// Report is the dashboard's and `skiff top`'s view of this node's GPUs.
type Report struct {
	Node string `json:"node"`
	// Detected is true when nvidia-smi reported GPUs.
	Detected bool `json:"detected"`
	// Message says why there is no telemetry, e.g. "no GPUs detected".
	Message string      `json:"message,omitempty"`
	GPUs    []GPUView   `json:"gpus"`
	History []PointView `json:"history"`
}

// GPUView is one GPU: its reading (null where not measured) and the
// replica placed on it.
type GPUView struct {
	Index              int      `json:"index"`
	UUID               string   `json:"uuid,omitempty"`
	Model              string   `json:"model,omitempty"`
	Utilization        *float64 `json:"utilization"`
	MemoryUsedBytes    *float64 `json:"memoryUsedBytes"`
	MemoryTotalBytes   *float64 `json:"memoryTotalBytes"`
	PowerWatts         *float64 `json:"powerWatts"`
	TemperatureCelsius *float64 `json:"temperatureCelsius"`
	Allocated          bool     `json:"allocated"`
	Namespace          string   `json:"namespace,omitempty"`
	Job                string   `json:"job,omitempty"`
	Replica            string   `json:"replica,omitempty"`
}

// PointView is a history point for JSON.
type PointView struct {
	Time        time.Time `json:"time"`
	Total       int       `json:"total"`
	Allocated   int       `json:"allocated"`
	Busy        int       `json:"busy"`
	Utilization *float64  `json:"utilization"`
}

// ErrNoSample is returned by Report before the first sample.
var ErrNoSample = errors.New("no GPU sample yet")

// Report returns the latest reading with owners. visible decides whether
// a namespace's owners may be shown to the caller (a tenant sees that a
// GPU is allocated, not to whom).
func (s *Sampler) Report(visible func(namespace string) bool) Report {
	alloc := s.allocation()
	s.mu.Lock()
	devs := append([]Device(nil), s.devices...)
	errMsg := s.err
	hist := append([]Point(nil), s.history...)
	s.mu.Unlock()

	r := Report{Node: s.Node, Detected: len(devs) > 0, GPUs: []GPUView{}, History: make([]PointView, 0, len(hist))}
	switch {
	case errMsg != "":
		r.Message = "GPU telemetry unavailable: " + errMsg
	case len(devs) == 0 && alloc.Total > 0:
		r.Message = fmt.Sprintf("no GPUs detected: %d GPUs declared with --gpus; allocation shown, no telemetry", alloc.Total)
	case len(devs) == 0:
		r.Message = "no GPUs detected"
	}
	byIndex := map[int]GPUView{}
	for _, d := range devs {
		byIndex[d.Index] = GPUView{Index: d.Index, UUID: d.UUID, Model: d.Model,
			Utilization: ptr(d.Utilization), MemoryUsedBytes: ptr(d.MemoryUsedBytes), MemoryTotalBytes: ptr(d.MemoryTotalBytes),
			PowerWatts: ptr(d.PowerWatts), TemperatureCelsius: ptr(d.TemperatureCelsius)}
	}
	known := map[int]Device{}
	for _, d := range s.Known {
		known[d.Index] = d
	}
	for i := 0; i < alloc.Total; i++ {
		if _, ok := byIndex[i]; !ok {
			byIndex[i] = GPUView{Index: i, UUID: known[i].UUID, Model: known[i].Model}
		}
	}
	for i, o := range alloc.Owners {
		v := byIndex[i]
		v.Index, v.Allocated = i, true
		if visible == nil || visible(o.Namespace) {
			v.Namespace, v.Job, v.Replica = o.Namespace, o.Job, o.Replica
		}
		byIndex[i] = v
	}
	for _, v := range byIndex {
		r.GPUs = append(r.GPUs, v)
	}
	sort.Slice(r.GPUs, func(a, b int) bool { return r.GPUs[a].Index < r.GPUs[b].Index })
	for _, p := range hist {
		r.History = append(r.History, PointView{Time: p.Time, Total: p.Total, Allocated: p.Allocated, Busy: p.Busy, Utilization: ptr(p.Utilization)})
	}
	return r
}

func ptr(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}

// latest returns the last reading and allocation, for the collector.
func (s *Sampler) latest() ([]Device, Allocation) {
	alloc := s.allocation()
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Device(nil), s.devices...), alloc
}
