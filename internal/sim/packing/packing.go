package packing

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"skiff.dev/skiff/internal/sim/trace"
)

// Policy is a placement policy.
type Policy int

// Placement policies.
const (
	BestFit Policy = iota
	FragAware
)

// ParsePolicy parses best-fit or frag-aware.
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "best-fit":
		return BestFit, nil
	case "frag-aware":
		return FragAware, nil
	}
	return 0, fmt.Errorf("placement %q: use best-fit or frag-aware", s)
}

// Result is the study's outcome for one policy.
type Result struct {
	// UnallocatableFraction is the cluster's workload fragmentation over
	// its GPU capacity when a task was first rejected.
	UnallocatableFraction float64
	// AllocatedFraction is the share of GPU capacity allocated then.
	AllocatedFraction float64
	Placed            int
	// Rejected is the first task that found no room ("" if the rounds ran
	// out first).
	Rejected string
}

// MaxRounds bounds how often the task list is replayed from the start
// when the cluster has room for all of it (the paper inflates the
// workload by resampling its tasks).
const MaxRounds = 20

// node is a node's free resources.
type node struct {
	model     int
	cpu, mem  int64 // free
	cpuCap    int64
	gpus      []int64 // free milli per GPU
	frag      float64 // workload fragmentation, kept current
	fragValid bool
}

// task is a task's request.
type task struct {
	id       string
	cpu, mem int64
	gpu      int64 // milli: a share below 1000, else whole GPUs × 1000
	models   []bool
}

// class is a task shape and its popularity.
type class struct {
	task
	p float64
}

type study struct {
	nodes   []*node
	classes []class
	models  map[string]int
	cache   map[stateKey]float64
	capGPU  int64
}

// Run packs tasks (in order) on nodes until the first rejection.
func Run(tasks []trace.Job, nodes []trace.Node, pol Policy) (*Result, error) {
	s, ts, err := newStudy(tasks, nodes)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for round := 0; round < MaxRounds; round++ {
		for _, t := range ts {
			if !s.place(t, pol) {
				res.Rejected = t.id
				if round > 0 {
					res.Rejected = fmt.Sprintf("%s (round %d)", t.id, round+1)
				}
				return s.result(res), nil
			}
			res.Placed++
		}
	}
	return s.result(res), nil
}

func newStudy(tasks []trace.Job, nodes []trace.Node) (*study, []task, error) {
	if len(nodes) == 0 {
		return nil, nil, fmt.Errorf("no nodes: give --nodes FILE or --cluster")
	}
	if len(tasks) == 0 {
		return nil, nil, fmt.Errorf("no tasks")
	}
	s := &study{models: map[string]int{}, cache: map[stateKey]float64{}}
	for _, n := range nodes {
		if _, ok := s.models[n.Model]; !ok {
			s.models[n.Model] = len(s.models)
		}
	}
	for _, n := range nodes {
		cpu, mem := n.CPUMilli, n.MemoryMiB
		if cpu == 0 {
			cpu = math.MaxInt64 / 4
		}
		if mem == 0 {
			mem = math.MaxInt64 / 4
		}
		nd := &node{model: s.models[n.Model], cpu: cpu, mem: mem, cpuCap: cpu, gpus: make([]int64, n.GPUs)}
		for g := range nd.gpus {
			nd.gpus[g] = 1000
		}
		s.nodes = append(s.nodes, nd)
		s.capGPU += int64(n.GPUs) * 1000
	}
	ts := make([]task, 0, len(tasks))
	for i := range tasks {
		ts = append(ts, s.task(&tasks[i]))
	}
	s.classes = mix(ts)
	return s, ts, nil
}

func (s *study) result(r *Result) *Result {
	var frag float64
	var free int64
	for _, n := range s.nodes {
		frag += s.fragOf(n)
		for _, g := range n.gpus {
			free += g
		}
	}
	if s.capGPU > 0 {
		r.UnallocatableFraction = frag / float64(s.capGPU)
		r.AllocatedFraction = 1 - float64(free)/float64(s.capGPU)
	}
	return r
}

func (s *study) task(j *trace.Job) task {
	t := task{id: j.ID, cpu: j.CPUMilli * int64(j.Replicas), mem: j.MemoryMiB * int64(j.Replicas), gpu: j.GPUMilli * int64(j.Replicas)}
	if j.Replicas > 1 && j.GPUMilli < 1000 {
		t.gpu = j.GPUMilli // shares of a multi-replica job: treat as one share (rare)
	}
	if len(j.Models) > 0 {
		t.models = make([]bool, len(s.models))
		for _, m := range j.Models {
			if i, ok := s.models[m]; ok {
				t.models[i] = true
			}
		}
	}
	return t
}

// mix is the trace's task classes with their popularity.
func mix(ts []task) []class {
	counts := map[string]*class{}
	var keys []string
	for _, t := range ts {
		k := fmt.Sprint(t.cpu, t.mem, t.gpu, t.models)
		c := counts[k]
		if c == nil {
			c = &class{task: t}
			c.id = ""
			counts[k] = c
			keys = append(keys, k)
		}
		c.p++
	}
	sort.Strings(keys)
	out := make([]class, 0, len(keys))
	for _, k := range keys {
		c := *counts[k]
		c.p /= float64(len(ts))
		out = append(out, c)
	}
	return out
}

// fits reports whether t can run on n.
func fits(n *node, t *task) bool {
	if t.cpu > n.cpu || t.mem > n.mem || (t.models != nil && !t.models[n.model]) {
		return false
	}
	switch {
	case t.gpu == 0:
		return true
	case t.gpu < 1000:
		for _, g := range n.gpus {
			if g >= t.gpu {
				return true
			}
		}
		return false
	}
	need := t.gpu / 1000
	for _, g := range n.gpus {
		if g == 1000 {
			need--
		}
	}
	return need <= 0
}

// fragFor is n's fragmentation for one task class.
func fragFor(n *node, t *task) float64 {
	var total, partial int64
	thr := min(t.gpu, 1000)
	for _, g := range n.gpus {
		total += g
		if g < thr {
			partial += g
		}
	}
	if !fits(n, t) {
		return float64(total)
	}
	return float64(partial)
}

type stateKey struct {
	model, n int32
	cpu, mem int64
	g        [8]int16
}

// fragOf is n's workload fragmentation (cached by node state).
func (s *study) fragOf(n *node) float64 {
	if n.fragValid {
		return n.frag
	}
	n.frag, n.fragValid = s.fragState(n), true
	return n.frag
}

func (s *study) fragState(n *node) float64 {
	var key stateKey
	cacheable := len(n.gpus) <= len(key.g)
	if cacheable {
		key = stateKey{model: int32(n.model), n: int32(len(n.gpus)), cpu: n.cpu, mem: n.mem}
		for i, g := range n.gpus {
			key.g[i] = int16(g)
		}
		sort.Slice(key.g[:len(n.gpus)], func(a, b int) bool { return key.g[a] > key.g[b] })
		if v, ok := s.cache[key]; ok {
			return v
		}
	}
	var f float64
	for i := range s.classes {
		f += s.classes[i].p * fragFor(n, &s.classes[i].task)
	}
	if cacheable {
		s.cache[key] = f
	}
	return f
}

// choice is one way to place a task: a node and, for a share, the GPU.
type choice struct {
	n     int
	gpu   int     // share: the GPU index; whole: -1
	delta float64 // fragmentation growth (frag-aware)
	left  float64 // resources left (best-fit)
}

func (s *study) place(t task, pol Policy) bool {
	best := choice{n: -1}
	better := func(c choice) bool {
		if best.n < 0 {
			return true
		}
		if pol == FragAware && c.delta != best.delta {
			return c.delta < best.delta
		}
		if c.left != best.left {
			return c.left < best.left
		}
		return false // earlier node wins ties
	}
	for i, n := range s.nodes {
		if !fits(n, &t) {
			continue
		}
		before := 0.0
		if pol == FragAware {
			before = s.fragOf(n)
		}
		for _, g := range gpuChoices(n, &t, pol) {
			c := choice{n: i, gpu: g}
			s.apply(n, &t, g, 1)
			c.left = left(n)
			if pol == FragAware {
				c.delta = s.fragState(n) - before
			}
			s.apply(n, &t, g, -1)
			if better(c) {
				best = c
			}
		}
	}
	if best.n < 0 {
		return false
	}
	n := s.nodes[best.n]
	s.apply(n, &t, best.gpu, 1)
	n.fragValid = false
	return true
}

// gpuChoices are the GPUs a share may go to: best-fit takes the fullest
// that fits; frag-aware tries one GPU per distinct free level. Whole-GPU
// and CPU-only tasks have one way (-1).
func gpuChoices(n *node, t *task, pol Policy) []int {
	if t.gpu == 0 || t.gpu >= 1000 {
		return []int{-1}
	}
	var out []int
	bestFit := -1
	for g, free := range n.gpus {
		if free < t.gpu {
			continue
		}
		if bestFit < 0 || free < n.gpus[bestFit] {
			bestFit = g
		}
		if pol == FragAware {
			dup := false
			for _, o := range out {
				if n.gpus[o] == free {
					dup = true
				}
			}
			if !dup {
				out = append(out, g)
			}
		}
	}
	if pol == BestFit {
		return []int{bestFit}
	}
	return out
}

// apply takes (sign 1) or gives back (sign -1) t's resources on n. A
// whole-GPU task takes the first fully free GPUs; giving back frees the
// last it took, which is the same set when undone right away.
func (s *study) apply(n *node, t *task, gpu int, sign int64) {
	n.cpu -= sign * t.cpu
	n.mem -= sign * t.mem
	switch {
	case t.gpu == 0:
	case gpu >= 0:
		n.gpus[gpu] -= sign * t.gpu
	case sign > 0:
		need := t.gpu / 1000
		for g := range n.gpus {
			if need > 0 && n.gpus[g] == 1000 {
				n.gpus[g] = 0
				need--
			}
		}
	default:
		need := t.gpu / 1000
		for g := len(n.gpus) - 1; g >= 0 && need > 0; g-- {
			if n.gpus[g] == 0 {
				n.gpus[g] = 1000
				need--
			}
		}
	}
}

// left is the share of the node's GPUs and CPU still free.
func left(n *node) float64 {
	var free int64
	for _, g := range n.gpus {
		free += g
	}
	l := 0.0
	if len(n.gpus) > 0 {
		l += float64(free) / float64(1000*len(n.gpus))
	}
	if n.cpuCap > 0 && n.cpuCap < math.MaxInt64/8 {
		l += float64(n.cpu) / float64(n.cpuCap)
	}
	return l
}

// Names are the placement policy names.
var Names = strings.Split("best-fit,frag-aware", ",")
