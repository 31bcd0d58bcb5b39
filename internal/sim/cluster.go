package sim

import (
	"fmt"
	"math"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/sim/trace"
)

// ModelLabel is the node label that carries the GPU model; each model is
// one flavor selecting it.
const ModelLabel = "skiff.dev/gpu-model"

// Epoch is simulated time zero: trace second s is Epoch + s.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// unlimited CPU and memory stand in for capacity a trace does not state.
const (
	unlimitedCPUMilli = 1 << 40
	unlimitedMemMiB   = 1 << 30
	groupName         = "worker"
)

// cluster is the static part of a snapshot.
type cluster struct {
	nodes   []*v1alpha1.Node
	flavors []*v1alpha1.Flavor
	// models in the order queues try them (fastest first).
	models []string
	// capacity per model, and the total GPUs in milli-GPU.
	gpus     map[string]int64
	cpu, mem map[string]int64
	totalGPU int64
	nodeIdx  map[string]int
}

// newCluster builds nodes and flavors; models are ordered by how fast the
// trace's jobs run on them (their mean speed relative to each job's
// fastest), then by capacity, then by name.
func newCluster(nodes []trace.Node, jobs []trace.Job) (*cluster, error) {
	if len(nodes) == 0 {
		return nil, fmt.Errorf("no nodes: give --nodes FILE or --cluster MODEL=GPUS")
	}
	c := &cluster{gpus: map[string]int64{}, cpu: map[string]int64{}, mem: map[string]int64{}, nodeIdx: map[string]int{}}
	for i, n := range nodes {
		cpu, mem := n.CPUMilli, n.MemoryMiB
		if cpu == 0 {
			cpu = unlimitedCPUMilli
		}
		if mem == 0 {
			mem = unlimitedMemMiB
		}
		if _, dup := c.nodeIdx[n.Name]; dup {
			return nil, fmt.Errorf("node %q listed twice: node names must be unique", n.Name)
		}
		c.nodeIdx[n.Name] = i
		node := &v1alpha1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: map[string]string{ModelLabel: n.Model, "kubernetes.io/hostname": n.Name}},
			Spec: v1alpha1.NodeSpec{GPUModel: n.Model, Capacity: v1alpha1.Resources{
				GPU:    resource.NewQuantity(int64(n.GPUs), resource.DecimalSI),
				CPU:    resource.NewMilliQuantity(cpu, resource.DecimalSI),
				Memory: resource.NewQuantity(mem<<20, resource.BinarySI),
			}},
		}
		c.nodes = append(c.nodes, node)
		if _, ok := c.gpus[n.Model]; !ok {
			c.models = append(c.models, n.Model)
		}
		c.gpus[n.Model] += int64(n.GPUs) * 1000
		c.cpu[n.Model] += cpu
		c.mem[n.Model] += mem
		c.totalGPU += int64(n.GPUs) * 1000
	}
	speed := map[string]float64{}
	for _, m := range c.models {
		var sum float64
		for i := range jobs {
			if d, ok := jobs[i].DurationOn(m); ok && d > 0 {
				sum += jobs[i].Duration / d
			}
		}
		speed[m] = sum
	}
	sort.SliceStable(c.models, func(a, b int) bool {
		ma, mb := c.models[a], c.models[b]
		if math.Abs(speed[ma]-speed[mb]) > 1e-9*math.Max(speed[ma], speed[mb]) {
			return speed[ma] > speed[mb]
		}
		if c.gpus[ma] != c.gpus[mb] {
			return c.gpus[ma] > c.gpus[mb]
		}
		return ma < mb
	})
	for _, m := range c.models {
		c.flavors = append(c.flavors, &v1alpha1.Flavor{ObjectMeta: metav1.ObjectMeta{Name: m},
			Spec: v1alpha1.FlavorSpec{NodeLabels: map[string]string{ModelLabel: m}, GPUModel: m}})
	}
	return c, nil
}

// queues are the policy's queues for the tenants.
func (c *cluster) queues(p *Policy, tenants []string) []*v1alpha1.Queue {
	mk := func(name, cohort string, share int64) *v1alpha1.Queue {
		q := &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.QueueSpec{
			Cohort: cohort, QueueingStrategy: p.Strategy}}
		if p.WithinQueue != "" || p.Reclaim != "" {
			q.Spec.Preemption = &v1alpha1.QueuePreemption{WithinQueue: p.WithinQueue, ReclaimWithinCohort: p.Reclaim}
		}
		q.Spec.LeastAttainedService = p.LAS
		for _, m := range c.models {
			q.Spec.Flavors = append(q.Spec.Flavors, v1alpha1.FlavorQuota{Name: m, Resources: []v1alpha1.ResourceQuota{
				{Name: v1alpha1.ResourceGPU, NominalQuota: *resource.NewMilliQuantity(c.gpus[m]/share, resource.DecimalSI)},
				{Name: v1alpha1.ResourceCPU, NominalQuota: *resource.NewMilliQuantity(c.cpu[m]/share, resource.DecimalSI)},
				{Name: v1alpha1.ResourceMemory, NominalQuota: *resource.NewQuantity((c.mem[m]/share)<<20, resource.BinarySI)},
			}})
		}
		return q
	}
	if !p.PerTenant {
		return []*v1alpha1.Queue{mk("all", "", 1)}
	}
	var out []*v1alpha1.Queue
	for _, t := range tenants {
		out = append(out, mk(queueName(t), "cluster", int64(len(tenants))))
	}
	return out
}

func queueName(tenant string) string { return "t-" + tenant }

// newJob is the core's view of trace job i under policy p.
func newJob(i int, tj *trace.Job, p *Policy) *v1alpha1.Job {
	res := v1alpha1.Resources{}
	if tj.GPUMilli > 0 {
		res.GPU = resource.NewMilliQuantity(tj.GPUMilli, resource.DecimalSI)
	}
	if tj.CPUMilli > 0 {
		res.CPU = resource.NewMilliQuantity(tj.CPUMilli, resource.DecimalSI)
	}
	if tj.MemoryMiB > 0 {
		res.Memory = resource.NewQuantity(tj.MemoryMiB<<20, resource.BinarySI)
	}
	j := &v1alpha1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: tj.Tenant, Name: fmt.Sprintf("j%07d", i),
			CreationTimestamp: metav1.NewTime(at(tj.Submit))},
		Spec: v1alpha1.JobSpec{Queue: "all", Priority: tj.Priority, ReplicaGroups: []v1alpha1.ReplicaGroup{{
			Name: groupName, Replicas: tj.Replicas,
			Template: v1alpha1.ReplicaTemplate{Command: []string{"simulated"}, Resources: res},
		}}},
		Status: v1alpha1.JobStatus{Phase: v1alpha1.JobPending},
	}
	if p.PerTenant {
		j.Spec.Queue = queueName(tj.Tenant)
	}
	switch {
	case p.OracleEstimates:
		est := int64(math.Ceil(tj.Duration))
		j.Spec.RunPolicy.EstimatedSeconds = &est
		j.Spec.Priority = -int32(min(est, math.MaxInt32))
	case p.TraceEstimates && tj.Estimate > 0:
		est := int64(math.Ceil(tj.Estimate))
		j.Spec.RunPolicy.EstimatedSeconds = &est
	}
	if p.LAS != nil && !p.PerTenant {
		// las is Tiresias over the whole cluster: attained service alone
		// orders jobs.
		j.Spec.Priority = 0
	}
	return j
}

// at is the simulated instant of trace second s.
func at(s float64) time.Time { return Epoch.Add(time.Duration(s * float64(time.Second))) }
