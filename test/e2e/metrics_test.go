package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// fakeNvidiaSMI writes an nvidia-smi that prints a recorded 2-GPU reading
// for the telemetry query (and the detection query), and returns a PATH
// with it first.
func fakeNvidiaSMI(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	script := `#!/bin/sh
case "$1" in
--query-gpu=index,uuid,name,memory.total) 
	echo "0, GPU-aaaa0000-0000-0000-0000-000000000000, NVIDIA H100 80GB HBM3, 81559"
	echo "1, GPU-bbbb1111-1111-1111-1111-111111111111, NVIDIA H100 80GB HBM3, 81559" ;;
--query-gpu=index,uuid,name,utilization.gpu,*)
	echo "0, GPU-aaaa0000-0000-0000-0000-000000000000, NVIDIA H100 80GB HBM3, 93, 70000, 81559, 650.5, 71"
	echo "1, GPU-bbbb1111-1111-1111-1111-111111111111, NVIDIA H100 80GB HBM3, 0, 3, 81559, 70.1, 30" ;;
*) echo "unexpected arguments: $*" >&2; exit 2 ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "nvidia-smi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

func TestMetricsEndpointIsAuthenticatedAndLintClean(t *testing.T) {
	t.Parallel()
	s := startServerEnv(t, t.TempDir(), t.TempDir(), []string{"PATH=" + fakeNvidiaSMI(t)}, "--gpus", "0", "--gpu-sample-interval", "200ms")
	s.mustSkiff(jobYAML("default", "m1", "")+"\n", "apply", "-f", "-")
	s.waitPhase("default", "m1", "Succeeded", 60*time.Second)

	if code, _ := s.call("GET", "/metrics", "", ""); code != 401 {
		t.Errorf("GET /metrics without a token = %d, want 401", code)
	}
	tenant := s.newToken("--user", "carol", "--namespace", "team-m", "--role", "admin")
	if code, body := s.call("GET", "/metrics", tenant, ""); code != 403 || !strings.Contains(body, "cluster-admin") {
		t.Errorf("GET /metrics as a tenant = %d %q, want 403 naming cluster-admin", code, body)
	}
	code, body := s.call("GET", "/metrics", s.token, "")
	if code != 200 {
		t.Fatalf("GET /metrics = %d: %s", code, body)
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	for _, want := range []string{
		`skiff_jobs{namespace="default",phase="Succeeded"} 1`,
		`skiff_scheduler_admissions_total{queue="default"} 1`,
		`skiff_jobs_finished_total{namespace="default",phase="Succeeded"} 1`,
		`skiff_runtime_replica_exits_total{class="success"} 1`,
		`skiff_scheduler_time_to_admission_seconds_count{queue="default"} 1`,
		`skiff_scheduler_cycle_duration_seconds_count`,
		`skiff_scheduler_admission_attempts_total{result="admitted"} 1`,
		`skiff_api_requests_total{code="201",kind="Job",verb="create"} 1`,
		`skiff_store_write_duration_seconds_count{operation="create"}`,
		`skiff_store_size_bytes`,
		`skiff_request_log_dropped_total 0`,
		`skiff_queue_nominal_quota{flavor="default",queue="default",resource="gpu"} 2`,
		`skiff_gpu_detected_devices{node=`,
		`skiff_gpu_utilization_ratio{gpu="0",job="",model_name="NVIDIA H100 80GB HBM3",namespace="",node=`,
		`skiff_gpu_power_watts{gpu="1"`,
		`skiff_gpu_memory_total_bytes{gpu="0"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	checkGrafanaDashboard(t, body)
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}

	// skiff top shows the same readings; piped, it prints once, uncolored.
	top := s.mustSkiff("", "top")
	for _, want := range []string{"NVIDIA H100 80GB HBM3", " 93%", "650W", "71°C", "68.4/79.6 GiB", "default", "QUEUES"} {
		if !strings.Contains(top, want) {
			t.Errorf("skiff top lacks %q:\n%s", want, top)
		}
	}
	if strings.Contains(top, "\x1b[") {
		t.Errorf("skiff top colored its piped output:\n%q", top)
	}
}
