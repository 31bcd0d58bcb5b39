package trace

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Synth describes a synthetic workload for load sweeps and benchmarks.
type Synth struct {
	Jobs    int
	Tenants int
	// Nodes × GPUsPerNode of one GPU model make the cluster.
	Nodes, GPUsPerNode int
	Model              string
	// Load is the offered load: mean GPU demand over cluster GPUs (0.9
	// keeps the cluster busy and queues building at bursts).
	Load float64
	// MeanDuration is the mean run time in seconds; durations are
	// log-normal with sigma DurationSigma (heavy-tailed like real traces).
	MeanDuration, DurationSigma float64
	// Sizes are GPUs per job with weights; a size below 1 is a share of
	// one GPU. Larger sizes become gangs of 8-GPU replicas.
	Sizes   []float64
	Weights []float64
	Seed    uint64
}

// DefaultSynth is a Philly-like mix: mostly single-GPU jobs, some 2-8 GPU
// jobs, a few gangs of 16-32, and GPU shares.
func DefaultSynth() Synth {
	return Synth{Jobs: 10000, Tenants: 10, Nodes: 100, GPUsPerNode: 8, Model: "v100", Load: 0.9,
		MeanDuration: 3600, DurationSigma: 1.5,
		Sizes:   []float64{0.5, 1, 2, 4, 8, 16, 32},
		Weights: []float64{5, 60, 8, 10, 12, 3, 2}, Seed: 1}
}

// Generate makes the trace: Poisson arrivals at the rate that offers Load,
// tenants with Zipf-like shares, sizes from the mix, log-normal durations.
func (s Synth) Generate() (*Trace, error) {
	switch {
	case s.Jobs <= 0:
		return nil, fmt.Errorf("synthetic jobs=%d: give a positive number of jobs", s.Jobs)
	case s.Nodes <= 0 || s.GPUsPerNode <= 0:
		return nil, fmt.Errorf("synthetic nodes=%d gpusPerNode=%d: give positive numbers", s.Nodes, s.GPUsPerNode)
	case s.Load <= 0:
		return nil, fmt.Errorf("synthetic load=%g: give a positive offered load such as 0.9", s.Load)
	case len(s.Sizes) == 0 || len(s.Sizes) != len(s.Weights):
		return nil, fmt.Errorf("synthetic sizes and weights: give as many weights as sizes (%d, %d)", len(s.Sizes), len(s.Weights))
	case s.MeanDuration <= 0:
		return nil, fmt.Errorf("synthetic meanDuration=%g: give positive seconds", s.MeanDuration)
	}
	if s.Tenants <= 0 {
		s.Tenants = 1
	}
	if s.Model == "" {
		s.Model = "gpu"
	}
	r := rand.New(rand.NewPCG(s.Seed, s.Seed^0x9e3779b97f4a7c15))
	var wsum, meanGPUs float64
	for i, w := range s.Weights {
		wsum += w
		meanGPUs += w * s.Sizes[i]
	}
	meanGPUs /= wsum
	capacity := float64(s.Nodes * s.GPUsPerNode)
	// Offered load = rate × mean GPUs × mean duration / capacity.
	rate := s.Load * capacity / (meanGPUs * s.MeanDuration)
	mu := math.Log(s.MeanDuration) - s.DurationSigma*s.DurationSigma/2
	var tw []float64
	var twsum float64
	for i := 0; i < s.Tenants; i++ {
		w := 1 / float64(i+1)
		tw = append(tw, w)
		twsum += w
	}
	tr := &Trace{}
	now := 0.0
	for i := 0; i < s.Jobs; i++ {
		now += r.ExpFloat64() / rate
		size := pick(r, s.Sizes, s.Weights, wsum)
		ten := pick(r, nil, tw, twsum)
		d := math.Exp(mu + s.DurationSigma*r.NormFloat64())
		d = math.Max(1, math.Round(d))
		j := Job{ID: fmt.Sprintf("job-%06d", i), Tenant: fmt.Sprintf("tenant-%02d", int(ten)), Submit: math.Round(now), Duration: d, Replicas: 1}
		switch {
		case size < 1:
			j.GPUMilli = int64(size * 1000)
		case size <= float64(s.GPUsPerNode):
			j.GPUMilli = int64(size) * 1000
		default:
			j.GPUMilli = int64(s.GPUsPerNode) * 1000
			j.Replicas = int32(math.Ceil(size / float64(s.GPUsPerNode)))
		}
		tr.Jobs = append(tr.Jobs, j)
	}
	for i := 0; i < s.Nodes; i++ {
		tr.Nodes = append(tr.Nodes, Node{Name: fmt.Sprintf("node-%05d", i), Model: s.Model, GPUs: s.GPUsPerNode})
	}
	tr.SortJobs()
	return tr, nil
}

// pick draws from weights; it returns values[i] or, with nil values, i.
func pick(r *rand.Rand, values, weights []float64, sum float64) float64 {
	x := r.Float64() * sum
	for i, w := range weights {
		if x < w || i == len(weights)-1 {
			if values == nil {
				return float64(i)
			}
			return values[i]
		}
		x -= w
	}
	return 0
}
