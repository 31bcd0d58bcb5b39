package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

func machineWith(gpus int, model string) Machine {
	m := Machine{Name: "vm", CPUMilli: 4000, MemoryBytes: 8 << 30, GPUModel: model}
	for i := range gpus {
		m.GPUs = append(m.GPUs, v1alpha1.GPUDevice{Index: int32(i), Model: model, Declared: true})
	}
	return m
}

func defaultsOf(t *testing.T, st store.Store) (gpuQuota, cpuQuota string, model string) {
	t.Helper()
	ctx := context.Background()
	q, f := &v1alpha1.Queue{}, &v1alpha1.Flavor{}
	if err := st.Get(ctx, "", v1alpha1.DefaultQueue, q); err != nil {
		t.Fatal(err)
	}
	if err := st.Get(ctx, "", "default", f); err != nil {
		t.Fatal(err)
	}
	for _, r := range q.Spec.Flavors[0].Resources {
		switch r.Name {
		case v1alpha1.ResourceGPU:
			gpuQuota = r.NominalQuota.String()
		case v1alpha1.ResourceCPU:
			cpuQuota = r.NominalQuota.String()
		}
	}
	return gpuQuota, cpuQuota, f.Spec.GPUModel
}

// TestDefaultQueueFollowsTheMachineUntilEdited: a later start with GPUs
// declared (skiff up --gpus 4) gives the default queue and flavor those
// GPUs; once an operator edits one of them, it is left alone.
func TestDefaultQueueFollowsTheMachineUntilEdited(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory(time.Now)
	log := discardLog()
	check := func(step, wantGPU, wantCPU, wantModel string) {
		t.Helper()
		if g, c, m := defaultsOf(t, st); g != wantGPU || c != wantCPU || m != wantModel {
			t.Errorf("%s: default queue gpu %s cpu %s, flavor model %q; want gpu %s cpu %s, model %q", step, g, c, m, wantGPU, wantCPU, wantModel)
		}
	}
	if err := ensureDefaults(ctx, st, machineWith(0, ""), true, log); err != nil {
		t.Fatal(err)
	}
	check("first start, no GPUs", "0", "4", "")
	if err := ensureDefaults(ctx, st, machineWith(4, "H100"), true, log); err != nil {
		t.Fatal(err)
	}
	check("second start, --gpus 4 --gpu-model H100", "4", "4", "H100")

	q := &v1alpha1.Queue{}
	if err := st.Get(ctx, "", v1alpha1.DefaultQueue, q); err != nil {
		t.Fatal(err)
	}
	q.Spec.Flavors[0].Resources[0].NominalQuota = resource.MustParse("1")
	if err := st.Update(ctx, q); err != nil {
		t.Fatal(err)
	}
	if err := ensureDefaults(ctx, st, machineWith(8, "H200"), true, log); err != nil {
		t.Fatal(err)
	}
	check("third start, queue edited", "4", "1", "H200")
}

// TestDefaultQueueOfAnOlderVersionIsAdopted: a default queue written
// before the marker existed, matching the machine, follows it from then on.
func TestDefaultQueueOfAnOlderVersionIsAdopted(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory(time.Now)
	log := discardLog()
	m := machineWith(0, "")
	old := &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultQueue}, Spec: v1alpha1.QueueSpec{
		Namespaces: []string{"*"}, QueueingStrategy: v1alpha1.BestEffortFIFO,
		Flavors: []v1alpha1.FlavorQuota{{Name: "default", Resources: []v1alpha1.ResourceQuota{
			{Name: v1alpha1.ResourceCPU, NominalQuota: *resource.NewMilliQuantity(m.CPUMilli, resource.DecimalSI)},
			{Name: v1alpha1.ResourceMemory, NominalQuota: *resource.NewQuantity(m.MemoryBytes, resource.BinarySI)},
			{Name: v1alpha1.ResourceGPU, NominalQuota: *resource.NewQuantity(0, resource.DecimalSI)},
		}}}}}
	v1alpha1.SetTypeMeta(old)
	if err := st.Create(ctx, old); err != nil {
		t.Fatal(err)
	}
	for _, m := range []Machine{m, machineWith(2, "L4")} {
		if err := ensureDefaults(ctx, st, m, true, log); err != nil {
			t.Fatal(err)
		}
	}
	// The flavor, created marked by the first call, follows too.
	if g, _, model := defaultsOf(t, st); g != "2" || model != "L4" {
		t.Errorf("default queue gpu %s, flavor model %q; want 2 and L4", g, model)
	}
}

// TestEditedDefaultQueueStaysTheOperators: an edit that later happens to
// match the machine is not taken back, so a start that sees less (GPU
// detection failing) does not undo it; and on a cluster (follow off) the
// defaults are sized once.
func TestEditedDefaultQueueStaysTheOperators(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory(time.Now)
	log := discardLog()
	if err := ensureDefaults(ctx, st, machineWith(0, ""), true, log); err != nil {
		t.Fatal(err)
	}
	q := &v1alpha1.Queue{}
	if err := st.Get(ctx, "", v1alpha1.DefaultQueue, q); err != nil {
		t.Fatal(err)
	}
	q.Spec.Flavors[0].Resources[2].NominalQuota = resource.MustParse("8") // the operator declares the GPUs
	if err := st.Update(ctx, q); err != nil {
		t.Fatal(err)
	}
	for _, m := range []Machine{machineWith(8, ""), machineWith(0, "")} { // detected, then not
		if err := ensureDefaults(ctx, st, m, true, log); err != nil {
			t.Fatal(err)
		}
	}
	if g, _, _ := defaultsOf(t, st); g != "8" {
		t.Errorf("default queue gpu %s after an edit and two starts, want the operator's 8", g)
	}

	cluster := store.NewMemory(time.Now)
	for _, m := range []Machine{machineWith(16, "H100"), machineWith(24, "A100")} {
		if err := ensureDefaults(ctx, cluster, m, false, log); err != nil {
			t.Fatal(err)
		}
	}
	if g, _, model := defaultsOf(t, cluster); g != "16" || model != "H100" {
		t.Errorf("cluster defaults gpu %s model %q after a second start, want the first start's 16 H100", g, model)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
