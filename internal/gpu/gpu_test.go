package gpu

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"skiff.dev/skiff/api/v1alpha1"
)

func TestParseQueryRecordedOutput(t *testing.T) {
	out, err := os.ReadFile("testdata/h100x4.csv")
	if err != nil {
		t.Fatal(err)
	}
	devs, err := ParseQuery(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 4 {
		t.Fatalf("got %d devices, want 4", len(devs))
	}
	d := devs[0]
	if d.Index != 0 || d.Model != "NVIDIA H100 80GB HBM3" || d.UUID != "GPU-5c1d6a5e-1b3e-7d2a-93c1-0a4d2e6f7b10" ||
		d.Utilization != 0.97 || d.MemoryUsedBytes != 71234*mib || d.MemoryTotalBytes != 81559*mib ||
		d.PowerWatts != 612.45 || d.TemperatureCelsius != 67 {
		t.Errorf("device 0 = %+v", d)
	}
	if !math.IsNaN(devs[3].Utilization) || !math.IsNaN(devs[3].PowerWatts) || devs[3].TemperatureCelsius != 31 {
		t.Errorf("[N/A] values should be NaN, others kept: %+v", devs[3])
	}
}

func TestParseQueryRejectsMalformedLines(t *testing.T) {
	for in, want := range map[string]string{
		"0, GPU-x, H100, 5, 1, 2":                   "want 8 comma-separated fields",
		"x, GPU-x, H100, 5, 1, 2, 3, 4":             "index \"x\"",
		"0, GPU-x, H100, lots, 1, 2, 3, 4":          "utilization.gpu \"lots\"",
		"0, GPU-x, H100, 5, 1, 2, -3, 4":            "power.draw \"-3\"",
		"0, GPU-x, H100, 5, 1, 2, 3, 4\n\n1, a, b,": "line 3",
	} {
		_, err := ParseQuery([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseQuery(%q) error = %v, want it to mention %q", in, err, want)
		}
	}
}

// fakeSMI puts a script named nvidia-smi first on PATH that prints the
// recorded output when called with QueryArgs.
func fakeSMI(t *testing.T) {
	dir := t.TempDir()
	rec, err := filepath.Abs("testdata/h100x4.csv")
	if err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\n[ \"$1\" = \"" + QueryArgs[0] + "\" ] && [ \"$2\" = \"" + QueryArgs[1] + "\" ] || { echo bad args: \"$@\" >&2; exit 2; }\ncat " + rec + "\n"
	if err := os.WriteFile(filepath.Join(dir, "nvidia-smi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func job(ns, name string, attempt int32, phase v1alpha1.JobPhase, placements ...v1alpha1.Placement) *v1alpha1.Job {
	j := &v1alpha1.Job{}
	j.Namespace, j.Name = ns, name
	j.Status.Phase, j.Status.Attempt = phase, attempt
	j.Status.Admission = &v1alpha1.Admission{Queue: "q", Placements: placements}
	return j
}

func TestSamplerWithFakeNvidiaSMIAttributesGPUsToReplicas(t *testing.T) {
	fakeSMI(t)
	q := SMIQuery()
	if q == nil {
		t.Fatal("SMIQuery found no nvidia-smi on PATH")
	}
	jobs := []*v1alpha1.Job{
		job("team-a", "train", 2, v1alpha1.JobRunning, v1alpha1.Placement{Group: "worker", Index: 1, Node: "n1", GPUs: []int32{0, 2}}),
		job("team-b", "other-node", 0, v1alpha1.JobRunning, v1alpha1.Placement{Group: "worker", Index: 0, Node: "n2", GPUs: []int32{1}}),
		job("team-b", "done", 0, v1alpha1.JobSucceeded, v1alpha1.Placement{Group: "worker", Index: 0, Node: "n1", GPUs: []int32{3}}),
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &Sampler{Query: q, Node: "n1", Now: func() time.Time { return now },
		Allocation: func() Allocation { return AllocationOf("n1", 4, jobs) }}
	s.Sample(context.Background())

	rep := s.Report(nil)
	if !rep.Detected || rep.Message != "" || len(rep.GPUs) != 4 {
		t.Fatalf("report = %+v", rep)
	}
	g0 := rep.GPUs[0]
	if !g0.Allocated || g0.Namespace != "team-a" || g0.Job != "train" || g0.Replica != "train-worker-1-2" || *g0.Utilization != 0.97 {
		t.Errorf("gpu 0 = %+v", g0)
	}
	if rep.GPUs[1].Allocated || rep.GPUs[3].Allocated || rep.GPUs[3].Utilization != nil {
		t.Errorf("gpu 1 (other node) and 3 (finished job) should be free, 3 without utilization: %+v %+v", rep.GPUs[1], rep.GPUs[3])
	}
	want := []PointView{{Time: now, Total: 4, Allocated: 2, Busy: 2, Utilization: ptr((0.97 + 0 + 0.45) / 3)}}
	if diff := cmp.Diff(want, rep.History); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	// A tenant of another namespace sees that GPU 0 is taken, not by whom.
	hidden := s.Report(func(ns string) bool { return ns == "team-b" })
	if g := hidden.GPUs[0]; !g.Allocated || g.Namespace != "" || g.Job != "" || g.Replica != "" {
		t.Errorf("owner leaked to another tenant: %+v", g)
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s)
	expected := `
# HELP skiff_gpu_temperature_celsius GPU temperature (DCGM_FI_DEV_GPU_TEMP).
# TYPE skiff_gpu_temperature_celsius gauge
skiff_gpu_temperature_celsius{gpu="0",job="train",model_name="NVIDIA H100 80GB HBM3",namespace="team-a",node="n1",replica="train-worker-1-2",uuid="GPU-5c1d6a5e-1b3e-7d2a-93c1-0a4d2e6f7b10"} 67
skiff_gpu_temperature_celsius{gpu="1",job="",model_name="NVIDIA H100 80GB HBM3",namespace="",node="n1",replica="",uuid="GPU-8e2f0c44-77aa-4d19-b2d3-9f1e3c5a6b21"} 33
skiff_gpu_temperature_celsius{gpu="2",job="train",model_name="NVIDIA H100 80GB HBM3",namespace="team-a",node="n1",replica="train-worker-1-2",uuid="GPU-1a9b3c7d-5e2f-4a6b-8c0d-2e4f6a8b0c32"} 55
skiff_gpu_temperature_celsius{gpu="3",job="",model_name="NVIDIA H100 80GB HBM3",namespace="",node="n1",replica="",uuid="GPU-f0e1d2c3-b4a5-4968-8776-655443322143"} 31
# HELP skiff_gpus GPUs of this node (detected or declared) by state: allocated to a replica, or free.
# TYPE skiff_gpus gauge
skiff_gpus{node="n1",state="allocated"} 2
skiff_gpus{node="n1",state="free"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected), "skiff_gpu_temperature_celsius", "skiff_gpus"); err != nil {
		t.Error(err)
	}
	// GPU 3 reports no utilization, so it has no utilization series.
	if n := testutil.CollectAndCount(s, "skiff_gpu_utilization_ratio"); n != 3 {
		t.Errorf("utilization series = %d, want 3", n)
	}
}

func TestNoGPUsDetected(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if SMIQuery() != nil {
		t.Fatal("SMIQuery found an nvidia-smi on an empty PATH")
	}
	now := time.Unix(0, 0)
	s := &Sampler{Node: "n1", Now: func() time.Time { return now }}
	s.Sample(context.Background())
	rep := s.Report(nil)
	if rep.Detected || rep.Message != "no GPUs detected" || len(rep.GPUs) != 0 || rep.History[0].Utilization != nil {
		t.Errorf("report = %+v", rep)
	}
	want := `
# HELP skiff_gpu_detected_devices GPUs that nvidia-smi reported on this node; 0 means no GPUs detected.
# TYPE skiff_gpu_detected_devices gauge
skiff_gpu_detected_devices{node="n1"} 0
`
	if err := testutil.CollectAndCompare(s, strings.NewReader(want), "skiff_gpu_detected_devices"); err != nil {
		t.Error(err)
	}

	declared := &Sampler{Node: "n1", Now: func() time.Time { return now }, Known: []Device{{Index: 0, Model: "H100"}, {Index: 1, Model: "H100"}},
		Allocation: func() Allocation {
			return Allocation{Total: 2, Owners: map[int]Owner{1: {Namespace: "a", Job: "j", Replica: "j-w-0-0"}}}
		}}
	declared.Sample(context.Background())
	rep = declared.Report(nil)
	if rep.Detected || !strings.Contains(rep.Message, "2 GPUs declared with --gpus") || len(rep.GPUs) != 2 || !rep.GPUs[1].Allocated || rep.History[0].Allocated != 1 || rep.GPUs[0].Model != "H100" {
		t.Errorf("declared report = %+v", rep)
	}
}

func TestFailingNvidiaSMIIsReported(t *testing.T) {
	s := &Sampler{Node: "n1", Now: time.Now, Query: func(context.Context) ([]byte, error) {
		return nil, os.ErrPermission
	}}
	s.Sample(context.Background())
	if rep := s.Report(nil); rep.Detected || !strings.Contains(rep.Message, "GPU telemetry unavailable: permission denied") {
		t.Errorf("report = %+v", rep)
	}
}

func TestHistoryIsBounded(t *testing.T) {
	i := 0
	s := &Sampler{Node: "n1", Keep: 3, Now: func() time.Time { i++; return time.Unix(int64(i), 0) }}
	for range 5 {
		s.Sample(context.Background())
	}
	h := s.Report(nil).History
	if len(h) != 3 || h[0].Time.Unix() != 3 || h[2].Time.Unix() != 5 {
		t.Errorf("history = %+v", h)
	}
}
