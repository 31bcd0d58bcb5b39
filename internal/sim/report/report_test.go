package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"skiff.dev/skiff/internal/sim"
	"skiff.dev/skiff/internal/sim/trace"
)

func sample(t *testing.T) *Report {
	t.Helper()
	jobs := []trace.Job{
		{ID: "a", Tenant: "x", Submit: 0, Replicas: 1, GPUMilli: 1000, Duration: 100},
		{ID: "b", Tenant: "y", Submit: 10, Replicas: 1, GPUMilli: 1000, Duration: 50},
	}
	nodes := []trace.Node{{Name: "n", Model: "gpu", GPUs: 1}}
	r := &Report{Trace: "t.csv", Format: "skiff", Jobs: 2, Nodes: 1, GPUs: 1, Policies: map[string]*sim.Result{},
		Placements: map[string]*Placement{"best-fit": {UnallocatableGPUFraction: 0.25, Placed: 3}}, PlacementOrder: []string{"best-fit"}}
	for _, name := range []string{sim.FIFO, sim.Default} {
		p, err := sim.NewPolicy(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := sim.Run(jobs, nodes, p, sim.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r.Policies[name] = res
		r.Order = append(r.Order, name)
	}
	return r
}

// The JSON keys are the contract scripts read.
func TestJSONShape(t *testing.T) {
	var b bytes.Buffer
	if err := JSON(&b, sample(t)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Policies   map[string]map[string]any `json:"policies"`
		Placements map[string]map[string]any `json:"placements"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"jobs", "avgJCT", "p50JCT", "p99JCT", "avgQueueing", "makespan", "utilization", "jain", "preemptions"} {
		if _, ok := got.Policies["fifo"][k]; !ok {
			t.Errorf("policies.fifo has no %q: %s", k, b.String())
		}
	}
	// b waits for a: JCTs 100 and 140.
	if v := got.Policies["fifo"]["avgJCT"]; v != 120.0 {
		t.Errorf("fifo avgJCT = %v, want 120", v)
	}
	if v := got.Placements["best-fit"]["unallocatableGPUFraction"]; v != 0.25 {
		t.Errorf("placements.best-fit.unallocatableGPUFraction = %v, want 0.25", v)
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := HTML(&b, sample(t)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"<svg", "Job completion time CDF", "GPU utilization over time", "Queue length over time", "<polyline"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script src", "<link", "https://", "http://cdn"} {
		if strings.Contains(page, bad) {
			t.Errorf("page refers to %q: it must be self-contained", bad)
		}
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	if err := Table(&b, sample(t)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"POLICY", "fifo", "default", "TENANT SLOWDOWN", "PLACEMENT", "25.00%"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
