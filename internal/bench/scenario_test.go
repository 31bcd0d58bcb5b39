package bench

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"skiff.dev/skiff/api/v1alpha1"
)

func TestBaselineScenarioExpands(t *testing.T) {
	sc, err := LoadScenario("../../bench/scheduler/kueue-baseline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Build(sc)
	if err != nil {
		t.Fatal(err)
	}
	if s.Total != 15000 || len(s.Queues) != 30 {
		t.Fatalf("baseline: %d workloads in %d queues, want 15000 in 30", s.Total, len(s.Queues))
	}
	q := s.Queues[0]
	if q.Queue.Name != "cq-0-0-cohort-0" || q.Queue.Spec.Cohort != "cohort-0" || q.Nominal != 20 {
		t.Fatalf("first queue = %s in %s with nominal %v", q.Queue.Name, q.Queue.Spec.Cohort, q.Nominal)
	}
	cpu := q.Queue.Spec.Flavors[0].Resources[0]
	if cpu.Name != v1alpha1.ResourceCPU || cpu.NominalQuota.String() != "20" || cpu.BorrowingLimit.String() != "100" {
		t.Fatalf("quota = %+v", cpu)
	}
	wantPre := &v1alpha1.QueuePreemption{WithinQueue: "LowerPriority", ReclaimWithinCohort: "Any"}
	if diff := cmp.Diff(wantPre, q.Queue.Spec.Preemption); diff != "" {
		t.Fatalf("preemption (-want +got):\n%s", diff)
	}
	type stream struct {
		Interval time.Duration
		Rounds   int
		Class    string
		Runtime  time.Duration
		Units    float64
		Priority int32
	}
	var got []stream
	for _, st := range q.Streams {
		j := st.Jobs[0]
		got = append(got, stream{st.Interval, st.Rounds, j.Class, j.Runtime, j.Units, j.Spec.Priority})
	}
	want := []stream{
		{100 * time.Millisecond, 350, "small", 200 * time.Millisecond, 1, 50},
		{500 * time.Millisecond, 100, "medium", 500 * time.Millisecond, 5, 100},
		{1200 * time.Millisecond, 50, "large", time.Second, 20, 200},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("streams (-want +got):\n%s", diff)
	}
	if len(s.Nodes) != 1 || s.Nodes[0].Spec.Capacity.CPU.Value() < 600 {
		t.Fatalf("nodes = %d, first cpu %v: want one node with at least all nominal quota", len(s.Nodes), s.Nodes[0].Spec.Capacity.CPU)
	}
	for k, v := range s.Flavor.Spec.NodeLabels {
		if s.Nodes[0].Labels[k] != v {
			t.Fatalf("the flavor selects %s=%s, which the node lacks", k, v)
		}
	}
}

func TestOldListFormatIsAccepted(t *testing.T) {
	data := `
- className: cohort
  count: 1
  queuesSets:
  - className: cq
    count: 2
    nominalQuota: 5
    workloadsSets:
    - count: 3
      creationIntervalMs: 10
      workloads:
      - {className: tiny, runtimeMs: 10, priority: 1, request: 500m}
`
	sc, err := ParseScenario([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Build(sc)
	if err != nil {
		t.Fatal(err)
	}
	if s.Total != 6 || s.Queues[1].Streams[0].Jobs[0].Units != 0.5 {
		t.Fatalf("total %d, units %v", s.Total, s.Queues[1].Streams[0].Jobs[0].Units)
	}
}

func TestTopologyAndDevicesScenario(t *testing.T) {
	data := `
topology:
  name: default
  levels:
  - {name: block, count: 2, nodeLabel: example.com/block}
  - {name: rack, count: 2, nodeLabel: example.com/rack}
  - {name: node, count: 3, nodeLabel: kubernetes.io/hostname, capacity: {cpu: "8", memory: 32Gi}}
dra:
  devicesPerNode: 4
resourceFlavor: {name: tas-flavor, nodeLabel: tas-node-group, topologyName: default}
cohorts:
- className: cohort
  count: 1
  queuesSets:
  - className: cq
    count: 1
    nominalQuota: "96"
    deviceNominalQuota: "48"
    withinClusterQueue: LowerOrNewerEqualPriority
    workloadsSets:
    - count: 2
      creationIntervalMs: 10
      workloads:
      - {className: gang, runtimeMs: 100, priority: 1, request: "1", podCount: 4, tasConstraint: required, tasLevel: example.com/rack, devices: 1}
      - {className: slices, runtimeMs: 100, priority: 1, request: "1", podCount: 2, tasConstraint: balanced, tasLevel: example.com/block, sliceSize: 2}
`
	sc, err := ParseScenario([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Build(sc)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Nodes) != 12 {
		t.Fatalf("%d nodes, want 2×2×3", len(s.Nodes))
	}
	n := s.Nodes[len(s.Nodes)-1]
	wantLabels := map[string]string{"example.com/block": "block-1", "example.com/rack": "rack-1", "kubernetes.io/hostname": n.Name,
		NodeLabel: "true", "tas-node-group": "tas"}
	if diff := cmp.Diff(wantLabels, n.Labels); diff != "" {
		t.Fatalf("node labels (-want +got):\n%s", diff)
	}
	if n.Spec.Capacity.CPU.String() != "8" || n.Spec.Capacity.GPU.Value() != 4 {
		t.Fatalf("node capacity %+v", n.Spec.Capacity)
	}
	if diff := cmp.Diff([]string{"example.com/block", "example.com/rack", "kubernetes.io/hostname"}, s.Flavor.Spec.TopologyLevels); diff != "" {
		t.Fatalf("flavor levels (-want +got):\n%s", diff)
	}
	gang := s.Queues[0].Streams[0].Jobs[0]
	if gang.Spec.ReplicaGroups[0].Replicas != 4 || gang.Spec.Topology.Required != "example.com/rack" || gang.Units != 4 ||
		gang.Spec.ReplicaGroups[0].Template.Resources.GPU.Value() != 1 {
		t.Fatalf("gang job = %+v", gang)
	}
	if s.Queues[0].Queue.Spec.Preemption.WithinQueue != v1alpha1.PreemptLowerPriority || len(s.Warnings) != 2 {
		t.Fatalf("preemption %+v, warnings %q", s.Queues[0].Queue.Spec.Preemption, s.Warnings)
	}
}

func TestBadScenariosNameTheField(t *testing.T) {
	base := func(queue, workload string) string {
		return `
cohorts:
- className: cohort
  count: 1
  queuesSets:
  - className: cq
    count: 1
` + queue + `
    workloadsSets:
    - count: 1
      creationIntervalMs: 10
      workloads:
      - {className: small, runtimeMs: 10, priority: 1` + workload + `}
`
	}
	for _, tc := range []struct{ name, data, want string }{
		{"empty", "", "cohorts: required"},
		{"unknown field", "cohorts: []\nworkers: 3\n", `unknown field "workers"`},
		{"no nominal quota", base("", ", request: 1"), "cohorts[0].queuesSets[0].nominalQuota: required"},
		{"negative quota", base("    nominalQuota: -1", ", request: 1"), "cohorts[0].queuesSets[0].nominalQuota: \"-1\" is negative"},
		{"bad borrowing", base("    nominalQuota: 1\n    borrowingLimit: lots", ", request: 1"), "queuesSets[0].borrowingLimit: \"lots\" is not a quantity"},
		{"bad policy", base("    nominalQuota: 1\n    reclaimWithinCohort: Always", ", request: 1"), "reclaimWithinCohort: \"Always\": use Never"},
		{"no request", base("    nominalQuota: 1", ""), "workloadsSets[0].workloads[0].request: required"},
		{"tas without topology", base("    nominalQuota: 1", ", request: 1, tasConstraint: required, tasLevel: rack"), "workloads[0].tasLevel: set, but the scenario has no topology"},
		{"devices without dra", base("    nominalQuota: 1", ", request: 1, devices: 1"), "workloads[0].devices: set, but the scenario has no dra section"},
		{"upper-case class", strings.Replace(base("    nominalQuota: 1", ", request: 1"), "className: small", "className: Small", 1), "workloads[0].className: \"Small\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLoadScenarioNamesTheFile(t *testing.T) {
	_, err := LoadScenario("testdata/missing.yaml")
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("error = %v, want a not-exist error", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}
