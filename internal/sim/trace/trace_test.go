package trace

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const aliPods = `name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
p0,12000,16384,1,1000,,LS,Running,0,100,10
p1,6000,12288,1,460,V100M16|T4,BE,Running,5,50,5
p2,6000,12288,x,460,,BE,Running,5,50,5
p3,6000,12288,8,1000,,LS,Pending,7,9,
p4,6000,12288,1,460,,BE,Running,5,4,5
`

func TestReadAlibabaSkipsBadRowsWithPositions(t *testing.T) {
	tr, err := ReadAlibaba("pods.csv", strings.NewReader(aliPods), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Job{
		{ID: "p0", Tenant: "ls", Submit: 0, Replicas: 1, GPUMilli: 1000, CPUMilli: 12000, MemoryMiB: 16384, Duration: 90},
		{ID: "p1", Tenant: "be", Submit: 5, Replicas: 1, GPUMilli: 460, CPUMilli: 6000, MemoryMiB: 12288, Duration: 45, Models: []string{"v100m16", "t4"}},
		{ID: "p3", Tenant: "ls", Submit: 7, Replicas: 1, GPUMilli: 8000, CPUMilli: 6000, MemoryMiB: 12288, Unscheduled: true},
	}
	if diff := cmp.Diff(want, tr.Jobs); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
	var msgs []string
	for _, e := range tr.Skipped {
		msgs = append(msgs, e.Error())
	}
	wantMsgs := []string{
		`pods.csv:4:15: field num_gpu: "x" is not an integer`,
		`pods.csv:6:35: field deletion_time: 4 is before scheduled_time 5`,
	}
	if diff := cmp.Diff(wantMsgs, msgs); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	if _, err := ReadAlibaba("pods.csv", strings.NewReader(aliPods), Options{Strict: true}); !IsParseError(err) || !strings.HasPrefix(err.Error(), "pods.csv:4:15:") {
		t.Errorf("strict: err = %v, want the parse error at pods.csv:4:15", err)
	}
}

func TestReadAlibabaNeedsColumns(t *testing.T) {
	_, err := ReadAlibaba("x.csv", strings.NewReader("name,cpu_milli\np,1\n"), Options{})
	if err == nil || !strings.Contains(err.Error(), `missing column "memory_mib"`) {
		t.Errorf("err = %v, want a missing-column error", err)
	}
}

func TestReadNodes(t *testing.T) {
	in := "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nn1,96000,393216,8,G2\nn1,1,1,1,G2\n"
	nodes, skipped, err := ReadNodes("nodes.csv", strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Node{{Name: "n0", Model: "p100", GPUs: 2, CPUMilli: 64000, MemoryMiB: 262144}, {Name: "n1", Model: "g2", GPUs: 8, CPUMilli: 96000, MemoryMiB: 393216}}
	if diff := cmp.Diff(want, nodes); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
	if len(skipped) != 1 || !strings.Contains(skipped[0].Error(), "nodes.csv:4:1: field sn: node \"n1\" listed twice") {
		t.Errorf("skipped = %v, want the duplicate at nodes.csv:4:1", skipped)
	}
}

const throughputs = `{
 "v100": {"('ResNet-50 (batch size 64)', 1)": {"null": 10.0, "x": [1, 2]},
          "('ResNet-50 (batch size 64)', 2)": {"null": 18.0},
          "('ResNet-50 (batch size 64)', 4)": {"null": 32.4}},
 "k80":  {"('ResNet-50 (batch size 64)', 1)": {"null": 2.0}},
 "v100_unconsolidated": {"('ResNet-50 (batch size 64)', 1)": {"null": 9.0}}
}`

func TestThroughputExtrapolation(t *testing.T) {
	tp, err := ParseThroughputs("tp.json", []byte(throughputs))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"k80", "v100"}, tp.Models()); diff != "" {
		t.Errorf("models (-want +got):\n%s", diff)
	}
	typ := "ResNet-50 (batch size 64)"
	// Measured at 4: 32.4. At 16: two doublings from 4 with the 2→4
	// efficiency 32.4/(2·18) = 0.9: 32.4 · 4 · 0.81.
	for _, tc := range []struct {
		model    string
		scale    int
		rate     float64
		measured bool
	}{
		{"v100", 4, 32.4, true},
		{"v100", 16, 32.4 * 4 * 0.81, false},
		{"v100", 8, 32.4 * 2 * 0.9, false},
		{"k80", 2, 4.0, false}, // no 1→2 efficiency known: linear
	} {
		rate, measured, ok := tp.Rate(tc.model, typ, tc.scale)
		if !ok || measured != tc.measured || math.Abs(rate-tc.rate) > 1e-9 {
			t.Errorf("Rate(%s, %d) = %g, %v, %v; want %g, %v, true", tc.model, tc.scale, rate, measured, ok, tc.rate, tc.measured)
		}
	}
	if _, _, ok := tp.Rate("v100", "Unknown", 1); ok {
		t.Error("Rate of an unknown type: ok, want not ok")
	}
}

func TestReadGavel(t *testing.T) {
	tp, err := ParseThroughputs("tp.json", []byte(throughputs))
	if err != nil {
		t.Fatal(err)
	}
	in := "ResNet-50 (batch size 64)\tcmd\t--steps\t1\t1000\t30.000000\t1\n" +
		"ResNet-50 (batch size 64)\tcmd\t--steps\t1\t3240\t10.0\t4\n" +
		"ResNet-50 (batch size 64)\tcmd\t--steps\t1\tmany\t10.0\t4\n" +
		"Unknown\tcmd\t--steps\t1\t10\t10.0\t1\n"
	tr, err := ReadGavelReader("vc.trace", "vc", strings.NewReader(in), tp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Job{
		{ID: "vc-2", Tenant: "vc", Submit: 10, Replicas: 4, GPUMilli: 1000, Duration: 100,
			Durations: map[string]float64{"v100": 100, "k80": 3240 / 8.0}, Type: "ResNet-50 (batch size 64)"},
		{ID: "vc-1", Tenant: "vc", Submit: 30, Replicas: 1, GPUMilli: 1000, Duration: 100,
			Durations: map[string]float64{"v100": 100, "k80": 500}, Type: "ResNet-50 (batch size 64)"},
	}
	if diff := cmp.Diff(want, tr.Jobs, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-9 })); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
	var msgs []string
	for _, e := range tr.Skipped {
		msgs = append(msgs, e.Error())
	}
	wantMsgs := []string{
		`vc.trace:3:41: field total steps: "many" is not an integer`,
		`vc.trace:4:1: field job type: "Unknown" has no throughput in the throughputs file: add it or drop the row`,
	}
	if diff := cmp.Diff(wantMsgs, msgs); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
}

func TestReadNative(t *testing.T) {
	in := "id,tenant,submit,duration,gpus,replicas,estimate,priority,models\n" +
		"a,team-a,5,60,0.25,,,,\n" +
		"b,team-b,1,30,8,2,45,3,H100|A100\n" +
		"c,team-b,1,-3,1,,,,\n"
	tr, err := ReadNative("jobs.csv", strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Job{
		{ID: "b", Tenant: "team-b", Submit: 1, Duration: 30, Replicas: 2, GPUMilli: 8000, Estimate: 45, Priority: 3, Models: []string{"h100", "a100"}},
		{ID: "a", Tenant: "team-a", Submit: 5, Duration: 60, Replicas: 1, GPUMilli: 250},
	}
	if diff := cmp.Diff(want, tr.Jobs); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
	if len(tr.Skipped) != 1 || tr.Skipped[0].Error() != "jobs.csv:4:12: field duration: -3 is negative: expected 0 or more seconds" {
		t.Errorf("skipped = %v", tr.Skipped)
	}
	var pe *ParseError
	if !errors.As(tr.Skipped[0], &pe) || pe.Line != 4 || pe.Column != 12 {
		t.Errorf("parse error position = %+v, want line 4 column 12", pe)
	}
}

func TestSyntheticIsSeeded(t *testing.T) {
	s := DefaultSynth()
	s.Jobs = 500
	a, err := s.Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Generate()
	if diff := cmp.Diff(a.Jobs, b.Jobs); diff != "" {
		t.Errorf("same seed, different traces:\n%s", diff)
	}
	s.Seed = 2
	c, _ := s.Generate()
	if cmp.Equal(a.Jobs, c.Jobs) {
		t.Error("different seeds gave the same trace")
	}
	s.Load = 0
	if _, err := s.Generate(); err == nil {
		t.Error("load 0: no error")
	}
}

func FuzzReadNative(f *testing.F) {
	f.Add("submit,duration,gpus\n1,2,0.5\n")
	f.Add("submit,duration,gpu_milli,replicas\n1,2,3000,x\n")
	f.Fuzz(func(t *testing.T, in string) {
		tr, err := ReadNative("f.csv", strings.NewReader(in), Options{})
		if err != nil {
			return
		}
		for _, j := range tr.Jobs {
			if j.Duration < 0 || j.Submit < 0 || j.Replicas < 1 || j.GPUMilli < 0 {
				t.Fatalf("invalid job accepted: %+v", j)
			}
		}
	})
}
