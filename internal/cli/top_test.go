package cli

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/gpu"
)

func f64(v float64) *float64 { return &v }

func topFixture() (gpu.Report, []v1alpha1.Queue) {
	rep := gpu.Report{Node: "box", Detected: true, GPUs: []gpu.GPUView{
		{Index: 0, Model: "H100", Utilization: f64(0.97), MemoryUsedBytes: f64(70 << 30), MemoryTotalBytes: f64(80 << 30),
			PowerWatts: f64(612.4), TemperatureCelsius: f64(67), Allocated: true, Namespace: "team-a", Job: "train", Replica: "train-worker-0-0"},
		{Index: 1, Model: "H100", Utilization: f64(0), MemoryUsedBytes: f64(0), MemoryTotalBytes: f64(80 << 30)},
		{Index: 2, Model: "H100", Allocated: true},
	}}
	q := v1alpha1.Queue{}
	q.Name = "research"
	q.Spec.Flavors = []v1alpha1.FlavorQuota{{Name: "h100", Resources: []v1alpha1.ResourceQuota{
		{Name: "cpu", NominalQuota: resource.MustParse("64")}, {Name: "gpu", NominalQuota: resource.MustParse("4")}}}}
	q.Status = v1alpha1.QueueStatus{PendingJobs: 3, AdmittedJobs: 2, Usage: []v1alpha1.FlavorUsage{{Name: "h100",
		Resources: map[string]resource.Quantity{"gpu": resource.MustParse("5")}, Borrowed: map[string]resource.Quantity{"gpu": resource.MustParse("1")}}}}
	return rep, []v1alpha1.Queue{q}
}

func TestTopPlain(t *testing.T) {
	rep, queues := topFixture()
	var b strings.Builder
	renderTop(&b, rep, queues, false, time.Date(2026, 1, 1, 12, 30, 0, 0, time.UTC))
	out := b.String()
	for _, want := range []string{
		"GPUS  node box · 2 of 3 GPUs allocated · 12:30:00",
		"██████████  97%", "70.0/80.0 GiB", "612W", "67°C", "team-a/train-worker-0-0",
		"░░░░░░░░░░   0%",
		"allocated",
		"research", "h100", "5/4", "1 ", "3", "2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("top lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colors without a terminal:\n%q", out)
	}
	if strings.Contains(out, "64") {
		t.Errorf("top shows non-GPU quota:\n%s", out)
	}
}

func TestTopColorsAndNoGPUs(t *testing.T) {
	rep, queues := topFixture()
	var b strings.Builder
	renderTop(&b, rep, queues, true, time.Unix(0, 0))
	if out := b.String(); !strings.Contains(out, "\x1b[31m██████████\x1b[0m") || !strings.Contains(out, "\x1b[1mGPUS\x1b[0m") {
		t.Errorf("expected red full meters and bold headers:\n%q", out)
	}
	b.Reset()
	renderTop(&b, gpu.Report{Node: "box", Message: "no GPUs detected"}, nil, false, time.Unix(0, 0))
	if out := b.String(); !strings.Contains(out, "0 of 0 GPUs allocated") || !strings.Contains(out, "no GPUs detected") || strings.Contains(out, "MODEL") {
		t.Errorf("no-GPU view:\n%s", out)
	}
}
