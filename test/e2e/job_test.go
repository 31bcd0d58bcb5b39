package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
)

func TestJobRunsAndServesLogs(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir())
	out := s.mustSkiff("", "apply", "-f", "../../examples/hello/job.yaml")
	if !strings.Contains(out, "hello created") {
		t.Errorf("apply output = %q", out)
	}
	s.mustSkiff("", "wait", "job/hello", "--for=condition=Succeeded", "--timeout=2m")
	for i := 0; i < 2; i++ {
		logs := s.mustSkiff("", "logs", "job/hello", "--replica", fmt.Sprintf("worker-%d", i))
		if want := fmt.Sprintf("hello from %d", i); !strings.Contains(logs, want) {
			t.Errorf("logs of worker-%d = %q, want %q", i, logs, want)
		}
	}
	job := s.getJob("default", "hello")
	if job.Status.Phase != v1alpha1.JobSucceeded || job.Status.Restarts != 0 || len(job.Status.Replicas) != 2 {
		t.Errorf("status = %+v", job.Status)
	}
	table := s.mustSkiff("", "get", "jobs")
	if !strings.Contains(table, "hello") || !strings.Contains(table, "Succeeded") {
		t.Errorf("get jobs = %q", table)
	}
	// Events land just after the status changes they report.
	var desc string
	hasEvents := func() bool {
		desc = s.mustSkiff("", "describe", "job", "hello")
		for _, want := range []string{"Admitted", "Started", "Succeeded"} {
			if !strings.Contains(desc, want) {
				return false
			}
		}
		return true
	}
	waitFor(t, hasEvents)
}

// A job that has not started has no logs yet: the user is told so and
// how to wait, not shown the runtime's internal error.
func TestLogsOfAJobThatHasNotStarted(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir())
	s.mustSkiff(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: later}
spec:
  runPolicy: {suspend: true}
  replicaGroups:
  - name: worker
    template: {command: ["true"]}
`, "apply", "-f", "-")
	_, stderr, code := s.skiff("", "logs", "job/later")
	if code == 0 || !strings.Contains(stderr, "has not started") || !strings.Contains(stderr, "-f") || strings.Contains(stderr, "replica not found") {
		t.Errorf("logs of an unstarted job: exit %d, stderr %q; want an error saying it has not started and how to wait", code, stderr)
	}
	// A finished job's replica that never ran has nothing to wait for:
	// -f answers at once instead of waiting forever.
	s.mustSkiff(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: done}
spec:
  replicaGroups:
  - name: worker
    template: {command: ["true"]}
`, "apply", "-f", "-")
	s.mustSkiff("", "wait", "job/done", "--for=condition=Succeeded", "--timeout=2m")
	_, stderr, code = s.skiff("", "logs", "job/done", "--replica", "worker-0", "--attempt", "0", "-f")
	if code != 0 {
		t.Errorf("logs -f of a finished job's replica: exit %d, stderr %q", code, stderr)
	}
}

func TestFailingJobIsRetriedBackoffLimitTimesThenFailed(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir(), "--config", writeConfig(t, "backoffBaseSeconds: 0.2\n"))
	runs := filepath.Join(t.TempDir(), "runs")
	manifest := fmt.Sprintf(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: flaky}
spec:
  replicaGroups:
  - name: worker
    replicas: 1
    template:
      command: ["sh", "-c", "echo attempt $SKIFF_ATTEMPT >> %s; exit 3"]
  runPolicy: {backoffLimit: 2}
`, runs)
	s.mustSkiff(manifest, "apply", "-f", "-")
	_, errOut, code := s.skiff("", "wait", "job/flaky", "--for=condition=Succeeded", "--timeout=2m")
	if code == 0 {
		t.Fatalf("wait for Succeeded on a failing job exited 0")
	}
	if !strings.Contains(errOut, "failed") {
		t.Errorf("wait stderr = %q, want it to say the job failed", errOut)
	}
	job := s.getJob("default", "flaky")
	if job.Status.Phase != v1alpha1.JobFailed || job.Status.Restarts != 2 {
		t.Errorf("phase %s restarts %d, want Failed after 2 restarts", job.Status.Phase, job.Status.Restarts)
	}
	data, _ := os.ReadFile(runs)
	if got := strings.Count(string(data), "attempt"); got != 3 {
		t.Errorf("the replica ran %d times, want 3 (1 + backoffLimit 2):\n%s", got, data)
	}
	if !strings.Contains(job.Status.Conditions[len(job.Status.Conditions)-1].Message+conditionMessages(job), "exited with code 3") {
		t.Errorf("conditions do not say why: %+v", job.Status.Conditions)
	}
}

func conditionMessages(j *v1alpha1.Job) string {
	var b strings.Builder
	for _, c := range j.Status.Conditions {
		b.WriteString(c.Message + "\n")
	}
	return b.String()
}

func writeConfig(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "skiff.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJobFinishesExactlyOnceAcrossServerKill(t *testing.T) {
	t.Parallel()
	data, home := t.TempDir(), t.TempDir()
	s := startServer(t, data, home)
	marks := filepath.Join(t.TempDir(), "marks")
	gate := filepath.Join(t.TempDir(), "gate")
	manifest := fmt.Sprintf(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: survivor, namespace: team-a}
spec:
  replicaGroups:
  - name: worker
    replicas: 2
    template:
      command: ["sh", "-c", "echo start $SKIFF_REPLICA_INDEX >> %[1]s; while [ ! -e %[2]s ]; do sleep 0.1; done; echo done $SKIFF_REPLICA_INDEX >> %[1]s"]
  runPolicy: {backoffLimit: 0}
`, marks, gate)
	s.mustSkiff(manifest, "apply", "-f", "-")
	s.waitPhase("team-a", "survivor", v1alpha1.JobRunning, time.Minute)

	s.stop(syscall.SIGKILL)
	// The replicas keep running under their supervisors while the server is
	// down; let them finish before it comes back.
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { b, _ := os.ReadFile(marks); return strings.Count(string(b), "done") == 2 })

	s2 := startServer(t, data, home)
	s2.mustSkiff("", "wait", "job/survivor", "-n", "team-a", "--for=condition=Succeeded", "--timeout=2m")
	job := s2.getJob("team-a", "survivor")
	if job.Status.Restarts != 0 || job.Status.Attempt != 0 {
		t.Errorf("restarts %d attempt %d, want the first attempt to finish", job.Status.Restarts, job.Status.Attempt)
	}
	b, _ := os.ReadFile(marks)
	if strings.Count(string(b), "start") != 2 || strings.Count(string(b), "done") != 2 {
		t.Errorf("each replica must run exactly once:\n%s", b)
	}
	// The Succeeded event is written right after the status that wait saw:
	// give it a moment to land, then count.
	succeededEvents := func() int {
		var list v1alpha1.EventList
		if err := json.Unmarshal([]byte(s2.mustSkiff("", "get", "events", "-n", "team-a", "-o", "json")), &list); err != nil {
			t.Fatalf("events JSON: %v", err)
		}
		n := 0
		for _, e := range list.Items {
			if e.InvolvedObject.Name == "survivor" && e.Reason == "Succeeded" {
				n++
			}
		}
		return n
	}
	waitFor(t, func() bool { return succeededEvents() > 0 })
	succeeded := succeededEvents()
	if succeeded != 1 {
		t.Errorf("job completed %d times, want exactly once", succeeded)
	}
}

func TestServerKilledWhileReplicaRunsAndAfterRestartItCompletes(t *testing.T) {
	t.Parallel()
	data, home := t.TempDir(), t.TempDir()
	s := startServer(t, data, home)
	marks := filepath.Join(t.TempDir(), "marks")
	manifest := fmt.Sprintf(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: longrun}
spec:
  replicaGroups:
  - name: worker
    template:
      command: ["sh", "-c", "echo start >> %[1]s; sleep 3; echo done >> %[1]s"]
`, marks)
	s.mustSkiff(manifest, "apply", "-f", "-")
	s.waitPhase("default", "longrun", v1alpha1.JobRunning, time.Minute)
	s.stop(syscall.SIGKILL)
	s2 := startServer(t, data, home)
	// The server is back while the replica still runs: it adopts it.
	s2.mustSkiff("", "wait", "job/longrun", "--for=condition=Succeeded", "--timeout=2m")
	b, _ := os.ReadFile(marks)
	if string(b) != "start\ndone\n" {
		t.Errorf("replica output = %q, want one start and one done", b)
	}
}

func TestBadInputIsRejectedAndNothingStored(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir())
	cases := []struct{ name, doc, want string }{
		{"malformed", "kind: Job\n  metadata: [", "malformed YAML"},
		{"unknown kind", "apiVersion: skiff.dev/v1alpha1\nkind: Pod\nmetadata: {name: p}\n", "unknown kind"},
		{"unknown field", "apiVersion: skiff.dev/v1alpha1\nkind: Job\nmetadata: {name: a}\nspec: {replicaGroups: [{name: w, template: {command: [x]}}], colour: red}\n", "spec.colour"},
		{"bad quantity", "apiVersion: skiff.dev/v1alpha1\nkind: Job\nmetadata: {name: b}\nspec: {replicaGroups: [{name: w, template: {command: [x], resources: {memory: lots}}}]}\n", "spec.replicaGroups[0].template.resources.memory"},
		{"bad name", "apiVersion: skiff.dev/v1alpha1\nkind: Job\nmetadata: {name: Bad_Name}\nspec: {replicaGroups: [{name: w, template: {command: [x]}}]}\n", "metadata.name"},
		{"too large", "apiVersion: skiff.dev/v1alpha1\nkind: Job\nmetadata: {name: huge}\nspec: {replicaGroups: [{name: w, replicas: 3, template: {command: [x], resources: {gpu: 1}}}]}\n", "spec.replicaGroups: the job needs 3 gpu in total but queue \"default\" holds at most 2"},
		{"unknown queue", "apiVersion: skiff.dev/v1alpha1\nkind: Job\nmetadata: {name: nq}\nspec: {queue: nope, replicaGroups: [{name: w, template: {command: [x]}}]}\n", "spec.queue: queue \"nope\" does not exist"},
		{"zero replicas", "apiVersion: skiff.dev/v1alpha1\nkind: Job\nmetadata: {name: z}\nspec: {replicaGroups: [{name: w, replicas: 0, template: {command: [x]}}]}\n", "spec.replicaGroups[0].replicas: 0 is out of range"},
	}
	for _, tc := range cases {
		_, errOut, code := s.skiff(tc.doc, "apply", "-f", "-")
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d stderr %q, want exit 1 naming %q", tc.name, code, errOut, tc.want)
		}
	}
	out := s.mustSkiff("", "get", "jobs", "-A", "-o", "json")
	var list v1alpha1.JobList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Errorf("bad input stored %d jobs", len(list.Items))
	}

	req, _ := http.NewRequest("GET", s.url+"/apis/skiff.dev/v1alpha1/namespaces/default/jobs", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("bad token: status %d, want 401", resp.StatusCode)
	}
	_, errOut, code := s.skiff("", "logs", "job/../../etc", "--replica", "../../../passwd")
	if code == 0 || strings.Contains(errOut, "root:") {
		t.Errorf("log path escape: exit %d, stderr %q", code, errOut)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestQueueWithUnknownFlavorIsRejected(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir())
	_, errOut, code := s.skiff(`apiVersion: skiff.dev/v1alpha1
kind: Queue
metadata: {name: team-a}
spec:
  flavors: [{name: h100, resources: [{name: gpu, nominalQuota: 8}]}]
`, "apply", "-f", "-")
	if code != 1 || !strings.Contains(errOut, "spec.flavors[0].name") || !strings.Contains(errOut, "does not exist") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	out := s.mustSkiff(`apiVersion: skiff.dev/v1alpha1
kind: Flavor
metadata: {name: h100}
spec: {gpuModel: H100}
---
apiVersion: skiff.dev/v1alpha1
kind: Queue
metadata: {name: team-a}
spec:
  flavors: [{name: h100, resources: [{name: gpu, nominalQuota: 8}]}]
`, "apply", "-f", "-")
	if !strings.Contains(out, "queue.skiff.dev/team-a created") {
		t.Errorf("apply output = %q", out)
	}
}
