package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestPyTorchPresetRanksRendezvous(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir())
	script, err := filepath.Abs("testdata/rendezvous.py")
	if err != nil {
		t.Fatal(err)
	}
	s.mustSkiff(fmt.Sprintf(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: ddp}
spec:
  framework: pytorch
  replicaGroups:
  - name: worker
    replicas: 4
    template:
      command: ["python3", %q]
      resources: {cpu: 100m}
  runPolicy: {backoffLimit: 0}
`, script), "apply", "-f", "-")
	if _, errOut, code := s.skiff("", "wait", "job/ddp", "--for=condition=Succeeded", "--timeout=2m"); code != 0 {
		for i := 0; i < 4; i++ {
			out, _, _ := s.skiff("", "logs", "job/ddp", "--replica", fmt.Sprintf("worker-%d", i))
			t.Logf("worker-%d:\n%s", i, out)
		}
		t.Fatalf("the 4-rank job did not succeed: %s", errOut)
	}
	logs := s.mustSkiff("", "logs", "job/ddp", "--replica", "worker-0")
	if !strings.Contains(logs, "rank 0 of 4") || !strings.Contains(logs, "rendezvous complete: [1, 2, 3]") {
		t.Errorf("rank 0 log = %q", logs)
	}
	for i := 1; i < 4; i++ {
		if out := s.mustSkiff("", "logs", "job/ddp", "--replica", fmt.Sprintf("worker-%d", i)); !strings.Contains(out, fmt.Sprintf("rank %d of 4", i)) {
			t.Errorf("worker-%d log = %q", i, out)
		}
	}
	if job := s.getJob("default", "ddp"); job.Status.CoordinatorPort == 0 {
		t.Error("status.coordinatorPort was not recorded")
	}
}

func TestMPIPresetNeedsALauncher(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir())
	_, errOut, code := s.skiff(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: mpi}
spec:
  framework: mpi
  replicaGroups:
  - name: worker
    template: {command: ["true"]}
`, "apply", "-f", "-")
	if code != 1 || !strings.Contains(errOut, "spec.replicaGroups: the mpi preset needs a group named launcher") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
