package controller

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"skiff.dev/skiff/api/v1alpha1"
)

func presetJob(framework string) *v1alpha1.Job {
	j := &v1alpha1.Job{}
	j.Name, j.Namespace = "train", "ml"
	j.Spec.Framework = framework
	j.Spec.ReplicaGroups = []v1alpha1.ReplicaGroup{{Name: "launcher", Replicas: 1}, {Name: "worker", Replicas: 2}}
	j.Status.CoordinatorPort = 29500
	j.Status.Admission = &v1alpha1.Admission{Placements: []v1alpha1.Placement{
		// Out of order on purpose: ranks follow spec order, then index.
		{Group: "worker", Index: 1, Node: "b", GPUs: []int32{0, 1}},
		{Group: "launcher", Index: 0, Node: "a"},
		{Group: "worker", Index: 0, Node: "a", GPUs: []int32{2, 3}},
	}}
	return j
}

func addr(_ string, _ int32, node string) string {
	return "10.0.0." + map[string]string{"a": "1", "b": "2"}[node]
}

func TestPyTorchPresetEnv(t *testing.T) {
	got := frameworkEnv(presetJob(v1alpha1.FrameworkPyTorch), "worker", 1, addr, "")
	want := []string{
		"MASTER_ADDR=10.0.0.1", "MASTER_PORT=29500",
		"WORLD_SIZE=5", "RANK=3", "LOCAL_RANK=0", "NODE_RANK=2",
		"PET_NNODES=3", "PET_NPROC_PER_NODE=2", "PET_NODE_RANK=2",
		"PET_MASTER_ADDR=10.0.0.1", "PET_MASTER_PORT=29500",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("worker-1 env (-want +got):\n%s", diff)
	}
}

func TestJAXPresetEnv(t *testing.T) {
	got := frameworkEnv(presetJob(v1alpha1.FrameworkJAX), "worker", 0, addr, "")
	want := []string{"JAX_COORDINATOR_ADDRESS=10.0.0.1:29500", "JAX_NUM_PROCESSES=3", "JAX_PROCESS_ID=1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
}

func TestMPIHostfile(t *testing.T) {
	job := presetJob(v1alpha1.FrameworkMPI)
	if got, want := hostfileContent(job, addr), "10.0.0.1 slots=2\n10.0.0.2 slots=2\n"; got != want {
		t.Errorf("hostfile = %q, want %q", got, want)
	}
	env := strings.Join(frameworkEnv(job, "launcher", 0, addr, "/data/jobs/ml/train/attempt-0/hostfile"), " ")
	if !strings.Contains(env, "OMPI_MCA_orte_default_hostfile=/data/jobs/ml/train/attempt-0/hostfile") {
		t.Errorf("launcher env = %s", env)
	}
	if got := frameworkEnv(presetJob(""), "worker", 0, addr, ""); got != nil {
		t.Errorf("no preset adds %v", got)
	}
}
