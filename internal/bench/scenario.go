package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Scenario is a scheduler benchmark in the format of Kueue's performance
// generator (test/performance/scheduler/runner/generator). Field names and
// meanings are Kueue's; Kueue's "cpu" quota and requests are skiff cpu, its
// DRA devices are skiff GPUs.
type Scenario struct {
	// Topology, when set, generates nodes in a hierarchy (topology-aware
	// scheduling scenarios); otherwise one node large enough that node
	// capacity never limits admission is registered.
	Topology *Topology `json:"topology,omitempty"`
	// DRA gives every generated node DevicesPerNode devices (GPUs here).
	DRA *DRA `json:"dra,omitempty"`
	// ResourceFlavor names the one flavor all queues use (default "rf").
	ResourceFlavor *ResourceFlavor `json:"resourceFlavor,omitempty"`
	Cohorts        []CohortSet     `json:"cohorts"`
}

// CohortSet is Count cohorts named <className>-<i>, each with QueuesSets.
type CohortSet struct {
	ClassName  string      `json:"className"`
	Count      int         `json:"count"`
	QueuesSets []QueuesSet `json:"queuesSets"`
}

// QueuesSet is Count queues of one class in each cohort of its set.
type QueuesSet struct {
	ClassName string `json:"className"`
	Count     int    `json:"count"`
	// NominalQuota and BorrowingLimit are cpu quantities ("20", "500m").
	NominalQuota   string `json:"nominalQuota"`
	BorrowingLimit string `json:"borrowingLimit,omitempty"`
	// ReclaimWithinCohort and WithinClusterQueue are Kueue preemption
	// policies: Never, LowerPriority, Any (reclaim only) or
	// LowerOrNewerEqualPriority (within the queue only).
	ReclaimWithinCohort string `json:"reclaimWithinCohort,omitempty"`
	WithinClusterQueue  string `json:"withinClusterQueue,omitempty"`
	// DeviceNominalQuota and DeviceBorrowingLimit are the queue's quota of
	// DRA devices (GPUs).
	DeviceNominalQuota   string         `json:"deviceNominalQuota,omitempty"`
	DeviceBorrowingLimit string         `json:"deviceBorrowingLimit,omitempty"`
	WorkloadsSets        []WorkloadsSet `json:"workloadsSets"`
}

// WorkloadsSet submits Count rounds of Workloads to each queue of its
// queues set, one workload every CreationIntervalMs (the first after one
// interval). The sets of a queue are submitted concurrently.
type WorkloadsSet struct {
	Count              int                `json:"count"`
	CreationIntervalMs int64              `json:"creationIntervalMs"`
	Workloads          []WorkloadTemplate `json:"workloads"`
}

// WorkloadTemplate is one workload of a round.
type WorkloadTemplate struct {
	ClassName string `json:"className"`
	// RuntimeMs is how long the workload runs once started.
	RuntimeMs int64 `json:"runtimeMs"`
	Priority  int32 `json:"priority"`
	// Request is the cpu quantity each pod requests.
	Request string `json:"request"`
	// PodCount is the number of pods (replicas), default 1.
	PodCount int `json:"podCount,omitempty"`
	// TASConstraint is required, preferred or balanced; TASLevel is the node
	// label of the topology level the pods must or should share.
	TASConstraint string `json:"tasConstraint,omitempty"`
	TASLevel      string `json:"tasLevel,omitempty"`
	// SliceSize is accepted for compatibility; skiff places a balanced gang
	// as required in one domain of TASLevel.
	SliceSize int32 `json:"sliceSize,omitempty"`
	// Devices is the number of DRA devices (GPUs) each pod claims.
	Devices int64 `json:"devices,omitempty"`
}

// Topology is a hierarchy of levels, outermost first; the last level is
// the nodes themselves and carries their capacity.
type Topology struct {
	Name   string          `json:"name"`
	Levels []TopologyLevel `json:"levels"`
}

// TopologyLevel is Count domains per domain of the level above, labelled
// NodeLabel=<name>-<i>.
type TopologyLevel struct {
	Name      string `json:"name"`
	Count     int    `json:"count"`
	NodeLabel string `json:"nodeLabel"`
	Capacity  struct {
		CPU    string `json:"cpu,omitempty"`
		Memory string `json:"memory,omitempty"`
	} `json:"capacity,omitempty"`
}

// ResourceFlavor is the scenario's flavor.
type ResourceFlavor struct {
	Name string `json:"name"`
	// NodeLabel (with TopologyName) selects the generated nodes: the flavor
	// matches nodes labelled NodeLabel=tas, as Kueue's generator does.
	NodeLabel    string `json:"nodeLabel,omitempty"`
	TopologyName string `json:"topologyName,omitempty"`
}

// DRA configures devices on generated nodes.
type DRA struct {
	DevicesPerNode int `json:"devicesPerNode"`
}

// LoadScenario reads and validates a scenario file.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the scenario: %w", err)
	}
	sc, err := ParseScenario(data)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	return sc, nil
}

// ParseScenario decodes a scenario strictly (an unknown field is an error
// naming it) and validates it. Besides the current format (a map with
// "cohorts") it accepts the older one, a bare list of cohort sets.
func ParseScenario(data []byte) (*Scenario, error) {
	sc := &Scenario{}
	trimmed := bytes.TrimSpace(stripComments(data))
	if bytes.HasPrefix(trimmed, []byte("-")) || bytes.HasPrefix(trimmed, []byte("[")) {
		if err := yaml.UnmarshalStrict(data, &sc.Cohorts); err != nil {
			return nil, fmt.Errorf("decoding the list of cohort sets: %w", err)
		}
	} else if err := yaml.UnmarshalStrict(data, sc); err != nil {
		return nil, fmt.Errorf("decoding: %w: the top-level fields are cohorts, resourceFlavor, topology and dra", err)
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return sc, nil
}

func stripComments(data []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) == 0 || t[0] == '#' {
			continue
		}
		out = append(out, line)
	}
	return bytes.Join(out, []byte("\n"))
}

// Validate checks every field and names the first bad one with its path.
func (sc *Scenario) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if len(sc.Cohorts) == 0 {
		bad("cohorts", "required: list at least one cohort set with className, count and queuesSets")
	}
	levels := map[string]bool{}
	if t := sc.Topology; t != nil {
		if len(t.Levels) < 2 {
			bad("topology.levels", "has %d levels: give at least two (for example rack and node)", len(t.Levels))
		}
		for i, l := range t.Levels {
			p := fmt.Sprintf("topology.levels[%d]", i)
			checkName(bad, p+".name", l.Name)
			if l.Count < 1 {
				bad(p+".count", "%d: give 1 or more domains", l.Count)
			}
			if l.NodeLabel == "" {
				bad(p+".nodeLabel", "required: the node label key of this level, e.g. cloud.provider.com/topology-rack")
			}
			levels[l.NodeLabel] = true
			for name, v := range map[string]string{"cpu": l.Capacity.CPU, "memory": l.Capacity.Memory} {
				if v != "" {
					if _, err := parsePositive(v); err != nil {
						bad(p+".capacity."+name, "%v", err)
					}
				}
			}
		}
	}
	if sc.DRA != nil && sc.DRA.DevicesPerNode <= 0 {
		bad("dra.devicesPerNode", "%d: give 1 or more devices per node", sc.DRA.DevicesPerNode)
	}
	if rf := sc.ResourceFlavor; rf != nil {
		if rf.Name != "" {
			checkName(bad, "resourceFlavor.name", rf.Name)
		}
		if rf.TopologyName != "" && rf.NodeLabel == "" {
			bad("resourceFlavor.nodeLabel", "required with topologyName: the node label that selects the topology's nodes")
		}
	}
	queues := 0
	for ci, cs := range sc.Cohorts {
		cp := fmt.Sprintf("cohorts[%d]", ci)
		checkName(bad, cp+".className", cs.ClassName)
		if cs.Count < 0 {
			bad(cp+".count", "%d is negative: give 0 or more cohorts", cs.Count)
		}
		for qi, qs := range cs.QueuesSets {
			qp := fmt.Sprintf("%s.queuesSets[%d]", cp, qi)
			checkName(bad, qp+".className", qs.ClassName)
			if qs.Count < 0 {
				bad(qp+".count", "%d is negative: give 0 or more queues", qs.Count)
			}
			queues += cs.Count * qs.Count
			if name := queueName(qs.ClassName, qi, qs.Count, cohortName(cs.ClassName, cs.Count)); len(name) > validation.DNS1123LabelMaxLength {
				bad(qp+".className", "queue names such as %q are longer than 63 characters: shorten the class names", name)
			}
			if qs.NominalQuota == "" {
				bad(qp+".nominalQuota", "required: the queue's cpu quota, e.g. 20")
			} else if _, err := parseNonNegative(qs.NominalQuota); err != nil {
				bad(qp+".nominalQuota", "%v", err)
			}
			for field, v := range map[string]string{"borrowingLimit": qs.BorrowingLimit, "deviceNominalQuota": qs.DeviceNominalQuota, "deviceBorrowingLimit": qs.DeviceBorrowingLimit} {
				if v != "" {
					if _, err := parseNonNegative(v); err != nil {
						bad(qp+"."+field, "%v", err)
					}
				}
			}
			if !oneOf(qs.ReclaimWithinCohort, "", "Never", "LowerPriority", "Any") {
				bad(qp+".reclaimWithinCohort", "%q: use Never, LowerPriority or Any", qs.ReclaimWithinCohort)
			}
			if !oneOf(qs.WithinClusterQueue, "", "Never", "LowerPriority", "LowerOrNewerEqualPriority") {
				bad(qp+".withinClusterQueue", "%q: use Never, LowerPriority or LowerOrNewerEqualPriority", qs.WithinClusterQueue)
			}
			for wi, ws := range qs.WorkloadsSets {
				wp := fmt.Sprintf("%s.workloadsSets[%d]", qp, wi)
				if ws.Count < 0 {
					bad(wp+".count", "%d is negative: give 0 or more rounds", ws.Count)
				}
				if ws.CreationIntervalMs < 0 {
					bad(wp+".creationIntervalMs", "%d is negative: give 0 or more milliseconds", ws.CreationIntervalMs)
				}
				if len(ws.Workloads) == 0 {
					bad(wp+".workloads", "required: list at least one workload with className, runtimeMs, priority and request")
				}
				for ti, w := range ws.Workloads {
					validateWorkload(bad, fmt.Sprintf("%s.workloads[%d]", wp, ti), w, qs, sc, levels)
				}
			}
		}
	}
	if len(errs) == 0 && queues == 0 {
		bad("cohorts", "no queues: give some cohort set a count and a queues set with count 1 or more")
	}
	return errors.Join(errs...)
}

func validateWorkload(bad func(string, string, ...any), p string, w WorkloadTemplate, qs QueuesSet, sc *Scenario, levels map[string]bool) {
	checkName(bad, p+".className", w.ClassName)
	if w.RuntimeMs < 0 {
		bad(p+".runtimeMs", "%d is negative: give 0 or more milliseconds", w.RuntimeMs)
	}
	if w.Request == "" && w.Devices == 0 {
		bad(p+".request", "required: the cpu each pod requests, e.g. 1")
	} else if w.Request != "" {
		if _, err := parseNonNegative(w.Request); err != nil {
			bad(p+".request", "%v", err)
		}
	}
	if w.PodCount < 0 {
		bad(p+".podCount", "%d is negative: give 1 or more pods (0 means 1)", w.PodCount)
	}
	switch w.TASConstraint {
	case "", "required", "preferred", "balanced":
	default:
		bad(p+".tasConstraint", "%q: use required, preferred or balanced", w.TASConstraint)
	}
	if w.TASConstraint != "" && w.TASLevel == "" {
		bad(p+".tasLevel", "required with tasConstraint: the node label of the topology level")
	}
	if w.TASLevel != "" {
		if sc.Topology == nil {
			bad(p+".tasLevel", "set, but the scenario has no topology: add a topology section or remove tasLevel")
		} else if !levels[w.TASLevel] {
			bad(p+".tasLevel", "%q is not the nodeLabel of any topology level", w.TASLevel)
		}
	}
	if w.Devices < 0 {
		bad(p+".devices", "%d is negative", w.Devices)
	}
	if w.Devices > 0 {
		if sc.DRA == nil {
			bad(p+".devices", "set, but the scenario has no dra section: add dra.devicesPerNode")
		}
		if qs.DeviceNominalQuota == "" {
			bad(p+".devices", "set, but the queues set has no deviceNominalQuota: give the queues a device quota")
		}
	}
}

func checkName(bad func(string, string, ...any), path, name string) {
	if name == "" {
		bad(path, "required: a lower-case name such as small")
		return
	}
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		bad(path, "%q: %s", name, strings.Join(errs, "; "))
	}
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func parseNonNegative(s string) (resource.Quantity, error) {
	q, err := resource.ParseQuantity(strings.TrimSpace(s))
	if err != nil {
		return q, fmt.Errorf("%q is not a quantity: write a number such as 20 or 500m", s)
	}
	if q.Sign() < 0 {
		return q, fmt.Errorf("%q is negative: give 0 or more", s)
	}
	return q, nil
}

func parsePositive(s string) (resource.Quantity, error) {
	q, err := parseNonNegative(s)
	if err == nil && q.Sign() == 0 {
		err = fmt.Errorf("%q is zero: give more than 0", s)
	}
	return q, err
}

// Names follow Kueue's generator, so results line up with its reports.
func cohortName(class string, i int) string { return fmt.Sprintf("%s-%d", class, i) }

func queueName(class string, setIdx, idx int, cohort string) string {
	return fmt.Sprintf("%s-%d-%d-%s", class, setIdx, idx, cohort)
}

func workloadName(class string, setIdx, round, idx int) string {
	return fmt.Sprintf("%s-%d-%d-%d", class, setIdx, round, idx)
}
