package bench

import (
	"fmt"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/runtime/simulated"
)

// Labels the benchmark puts on what it creates.
const (
	// ClassLabel carries the queue's or the workload's class name.
	ClassLabel = "skiff.dev/bench-class"
	// NodeLabel marks the benchmark's nodes; the scenario's flavor selects
	// them so that jobs never land on the server's own machine node.
	NodeLabel = "skiff.dev/bench-node"

	defaultFlavor = "rf"
	replicaGroup  = "main"
)

// Setup is a scenario expanded into the objects to create and the
// submission streams to run.
type Setup struct {
	Flavor *v1alpha1.Flavor
	Nodes  []*v1alpha1.Node
	Queues []*QueueSetup
	// Total is the number of workloads the scenario submits.
	Total int
	// Warnings are scenario settings skiff approximates.
	Warnings []string
}

// QueueSetup is one queue and what is submitted to it.
type QueueSetup struct {
	Queue *v1alpha1.Queue
	Class string
	// Nominal is the queue's nominal quota of the benchmark's unit (cpu,
	// or GPUs for a device-only queue), the denominator of its usage.
	Nominal float64
	Streams []Stream
}

// Stream is one workloads set submitted to one queue.
type Stream struct {
	SetIndex int
	Interval time.Duration
	Rounds   int
	Jobs     []JobTemplate // one per workload of a round
}

// JobTemplate is a workload ready to submit, but for its name.
type JobTemplate struct {
	Class   string
	Index   int
	Runtime time.Duration
	// Units is what the job holds while admitted (all pods together).
	Units float64
	Spec  v1alpha1.JobSpec
}

// Build expands a scenario that passed Validate (LoadScenario and
// ParseScenario validate); it returns an error only for an invalid one.
func Build(sc *Scenario) (*Setup, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	s := &Setup{}
	flavorName := defaultFlavor
	if sc.ResourceFlavor != nil && sc.ResourceFlavor.Name != "" {
		flavorName = sc.ResourceFlavor.Name
	}
	s.Flavor = &v1alpha1.Flavor{ObjectMeta: metav1.ObjectMeta{Name: flavorName}}
	nodeSelector := map[string]string{NodeLabel: "true"}
	if rf := sc.ResourceFlavor; rf != nil && rf.NodeLabel != "" {
		nodeSelector[rf.NodeLabel] = "tas"
	}
	s.Flavor.Spec.NodeLabels = nodeSelector
	if sc.Topology != nil {
		for _, l := range sc.Topology.Levels {
			s.Flavor.Spec.TopologyLevels = append(s.Flavor.Spec.TopologyLevels, l.NodeLabel)
		}
	}
	v1alpha1.SetTypeMeta(s.Flavor)

	var cpuCeiling, gpuCeiling float64 // what all queues could ever hold together
	var maxPod resource.Quantity
	for ci, cs := range sc.Cohorts {
		for c := 0; c < cs.Count; c++ {
			cohort := cohortName(cs.ClassName, c)
			cohortCPU, cohortGPU := 0.0, 0.0
			for _, qs := range cs.QueuesSets {
				n, _ := parseNonNegative(qs.NominalQuota)
				cohortCPU += float64(qs.Count) * n.AsApproximateFloat64()
				if qs.DeviceNominalQuota != "" {
					d, _ := parseNonNegative(qs.DeviceNominalQuota)
					cohortGPU += float64(qs.Count) * d.AsApproximateFloat64()
				}
			}
			cpuCeiling += cohortCPU
			gpuCeiling += cohortGPU
			for qi, qs := range cs.QueuesSets {
				for i := 0; i < qs.Count; i++ {
					qsetup, warn := buildQueue(qs, qi, i, cohort, flavorName, fmt.Sprintf("cohorts[%d].queuesSets[%d]", ci, qi), &maxPod)
					if c == 0 && i == 0 {
						s.Warnings = append(s.Warnings, warn...)
					}
					s.Queues = append(s.Queues, qsetup)
					for _, st := range qsetup.Streams {
						s.Total += st.Rounds * len(st.Jobs)
					}
				}
			}
		}
	}
	s.Nodes = buildNodes(sc, nodeSelector, cpuCeiling, gpuCeiling, maxPod)
	return s, nil
}

func buildQueue(qs QueuesSet, setIdx, idx int, cohort, flavor, path string, maxPod *resource.Quantity) (*QueueSetup, []string) {
	name := queueName(qs.ClassName, setIdx, idx, cohort)
	nominal, _ := parseNonNegative(qs.NominalQuota)
	cpu := v1alpha1.ResourceQuota{Name: v1alpha1.ResourceCPU, NominalQuota: nominal}
	if qs.BorrowingLimit != "" {
		b, _ := parseNonNegative(qs.BorrowingLimit)
		cpu.BorrowingLimit = &b
	}
	fq := v1alpha1.FlavorQuota{Name: flavor, Resources: []v1alpha1.ResourceQuota{cpu}}
	units := nominal.AsApproximateFloat64()
	if qs.DeviceNominalQuota != "" {
		d, _ := parseNonNegative(qs.DeviceNominalQuota)
		gpu := v1alpha1.ResourceQuota{Name: v1alpha1.ResourceGPU, NominalQuota: d}
		if qs.DeviceBorrowingLimit != "" {
			b, _ := parseNonNegative(qs.DeviceBorrowingLimit)
			gpu.BorrowingLimit = &b
		}
		fq.Resources = append(fq.Resources, gpu)
	}
	var warnings []string
	within := qs.WithinClusterQueue
	if within == "LowerOrNewerEqualPriority" {
		warnings = append(warnings, path+".withinClusterQueue: LowerOrNewerEqualPriority runs as LowerPriority (skiff has no newer-equal rule)")
		within = v1alpha1.PreemptLowerPriority
	}
	q := &v1alpha1.Queue{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{ClassLabel: qs.ClassName}},
		Spec: v1alpha1.QueueSpec{
			Namespaces:       []string{name},
			Cohort:           cohort,
			QueueingStrategy: v1alpha1.BestEffortFIFO, // Kueue's default for ClusterQueues
			Flavors:          []v1alpha1.FlavorQuota{fq},
		},
	}
	if within != "" || qs.ReclaimWithinCohort != "" {
		q.Spec.Preemption = &v1alpha1.QueuePreemption{WithinQueue: within, ReclaimWithinCohort: qs.ReclaimWithinCohort}
	}
	v1alpha1.SetTypeMeta(q)
	out := &QueueSetup{Queue: q, Class: qs.ClassName, Nominal: units}
	for wi, ws := range qs.WorkloadsSets {
		st := Stream{SetIndex: wi, Interval: time.Duration(ws.CreationIntervalMs) * time.Millisecond, Rounds: ws.Count}
		for ti, w := range ws.Workloads {
			jt, warn := buildJob(w, ti, name)
			if warn != "" && idx == 0 {
				warnings = append(warnings, fmt.Sprintf("%s.workloadsSets[%d].workloads[%d]: %s", path, wi, ti, warn))
			}
			if r := jt.Spec.ReplicaGroups[0].Template.Resources.CPU; r != nil && r.Cmp(*maxPod) > 0 {
				*maxPod = r.DeepCopy()
			}
			st.Jobs = append(st.Jobs, jt)
		}
		out.Streams = append(out.Streams, st)
	}
	return out, warnings
}

func buildJob(w WorkloadTemplate, idx int, queue string) (JobTemplate, string) {
	pods := int32(w.PodCount)
	if pods == 0 {
		pods = 1
	}
	var res v1alpha1.Resources
	units := 0.0
	if w.Request != "" {
		r, _ := parseNonNegative(w.Request)
		res.CPU = &r
		units = float64(pods) * r.AsApproximateFloat64()
	}
	if w.Devices > 0 {
		g := resource.NewQuantity(w.Devices, resource.DecimalSI)
		res.GPU = g
		if units == 0 {
			units = float64(pods) * float64(w.Devices)
		}
	}
	spec := v1alpha1.JobSpec{
		Queue:    queue,
		Priority: w.Priority,
		ReplicaGroups: []v1alpha1.ReplicaGroup{{
			Name:     replicaGroup,
			Replicas: pods,
			Template: v1alpha1.ReplicaTemplate{
				Command:   []string{"skiff-simulated-workload"},
				Env:       []v1alpha1.EnvVar{{Name: simulated.DurationEnv, Value: strconv.FormatInt(w.RuntimeMs, 10)}},
				Resources: res,
			},
		}},
	}
	warn := ""
	switch w.TASConstraint {
	case "required":
		spec.Topology = &v1alpha1.TopologyRequest{Required: w.TASLevel}
	case "preferred":
		spec.Topology = &v1alpha1.TopologyRequest{Preferred: w.TASLevel}
	case "balanced":
		spec.Topology = &v1alpha1.TopologyRequest{Required: w.TASLevel}
		warn = "tasConstraint balanced runs as required (skiff places the gang in one domain; sliceSize is ignored)"
	}
	return JobTemplate{Class: w.ClassName, Index: idx, Runtime: time.Duration(w.RuntimeMs) * time.Millisecond, Units: units, Spec: spec}, warn
}

// buildNodes registers either the scenario's topology or one node whose
// capacity exceeds what all queues together could ever admit, so that only
// quota limits admission, as in Kueue's benchmark (which has no nodes).
func buildNodes(sc *Scenario, labels map[string]string, cpu, gpu float64, maxPod resource.Quantity) []*v1alpha1.Node {
	mk := func(name string, extra map[string]string, cpuQ, memQ resource.Quantity, gpus int64) *v1alpha1.Node {
		n := &v1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
		for k, v := range labels {
			n.Labels[k] = v
		}
		for k, v := range extra {
			n.Labels[k] = v
		}
		// Level values repeat across domains; the host name must be unique.
		n.Labels["kubernetes.io/hostname"] = name
		n.Spec.Capacity = v1alpha1.Resources{CPU: &cpuQ, Memory: &memQ}
		if gpus > 0 {
			n.Spec.Capacity.GPU = resource.NewQuantity(gpus, resource.DecimalSI)
		}
		v1alpha1.SetTypeMeta(n)
		return n
	}
	devices := int64(0)
	if sc.DRA != nil {
		devices = int64(sc.DRA.DevicesPerNode)
	}
	if sc.Topology == nil {
		c := resource.NewQuantity(int64(2*cpu)+1, resource.DecimalSI)
		if maxPod.Cmp(*c) > 0 {
			c = &maxPod
		}
		if devices == 0 {
			devices = int64(2 * gpu)
		}
		return []*v1alpha1.Node{mk("bench-node-0", nil, *c, resource.MustParse("1Ti"), devices)}
	}
	levels := sc.Topology.Levels
	last := levels[len(levels)-1]
	cpuQ, memQ := resource.MustParse("96"), resource.MustParse("256Gi")
	if last.Capacity.CPU != "" {
		cpuQ, _ = parsePositive(last.Capacity.CPU)
	}
	if last.Capacity.Memory != "" {
		memQ, _ = parsePositive(last.Capacity.Memory)
	}
	var nodes []*v1alpha1.Node
	var walk func(depth int, name string, lbl map[string]string)
	walk = func(depth int, name string, lbl map[string]string) {
		if depth == len(levels) {
			nodes = append(nodes, mk(name, lbl, cpuQ, memQ, devices))
			return
		}
		l := levels[depth]
		for i := 0; i < l.Count; i++ {
			next := map[string]string{}
			for k, v := range lbl {
				next[k] = v
			}
			next[l.NodeLabel] = fmt.Sprintf("%s-%d", l.Name, i)
			walk(depth+1, fmt.Sprintf("%s-%s%d", name, l.Name[:1], i), next)
		}
	}
	walk(0, "bench-node", map[string]string{})
	return nodes
}
