package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
)

// These tests run examples/ddp through the binary: a data-parallel job that
// checkpoints and reports metrics, killed or preempted in the middle.

var (
	finalLossRE = regexp.MustCompile(`final loss=(\S+) steps=(\d+)`)
	resumedRE   = regexp.MustCompile(`resumed from step ([0-9]+)`)
)

// exampleManifest reads an examples/ddp manifest with the repository path
// filled in, as its header tells users to do, after edit.
func exampleManifest(t *testing.T, file string, edit func(string) string) string {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(repo, "examples", "ddp", file))
	if err != nil {
		t.Fatal(err)
	}
	m := strings.ReplaceAll(string(b), "@REPO@", repo)
	if edit != nil {
		m = edit(m)
	}
	return m
}

// shorter makes an example run steps steps over 1024 samples, sleeping
// delay per step (so that a kill or preemption lands mid-run), with a
// checkpoint every 5 steps.
func shorter(steps int, delay string) func(string) string {
	return func(m string) string {
		m = strings.Replace(m, `"--steps", "200"`, fmt.Sprintf(`"--steps", "%d", "--samples", "1024", "--checkpoint-every", "5"`, steps), 1)
		return strings.Replace(m, `"--step-delay", "0.01"`, `"--step-delay", "`+delay+`"`, 1)
	}
}

// finalLoss is the "final loss=" a replica's log ends with.
func (s *server) finalLoss(job, replica string, attempt int32) string {
	s.t.Helper()
	out := s.mustSkiff("", "logs", "job/"+job, "--replica", replica, "--attempt", strconv.Itoa(int(attempt)))
	m := finalLossRE.FindStringSubmatch(out)
	if m == nil {
		s.t.Fatalf("%s %s attempt %d has no final loss:\n%s", job, replica, attempt, out)
	}
	return m[1]
}

// waitCheckpoint waits until the job's rank 0 wrote a checkpoint.
func (s *server) waitCheckpoint(job string) {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		j := s.getJob("default", job)
		if j.Status.CheckpointDir != "" {
			if _, err := os.Stat(filepath.Join(j.Status.CheckpointDir, "checkpoint.json")); err == nil {
				return
			}
		}
		if time.Now().After(deadline) || j.Status.Phase == v1alpha1.JobSucceeded || j.Status.Phase == v1alpha1.JobFailed {
			s.t.Fatalf("job %s wrote no checkpoint while running: %+v", job, j.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metrics runs `skiff metrics job/NAME -o json`.
func (s *server) metrics(job string, args ...string) []v1alpha1.MetricPoint {
	s.t.Helper()
	out := s.mustSkiff("", append([]string{"metrics", "job/" + job, "-o", "json"}, args...)...)
	var pts []v1alpha1.MetricPoint
	if err := json.Unmarshal([]byte(out), &pts); err != nil {
		s.t.Fatalf("metrics -o json is not a point array: %v\n%s", err, out)
	}
	return pts
}

func TestDDPWorkerKilledGangRestartsFromCheckpoint(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	s := startServer(t, dataDir, t.TempDir())
	s.mustSkiff(exampleManifest(t, "single.yaml", shorter(80, "")), "apply", "-f", "-")
	s.mustSkiff(exampleManifest(t, "job.yaml", shorter(80, "0.02")), "apply", "-f", "-")
	s.waitCheckpoint("ddp")

	// SIGKILL rank 1, as the OOM killer or a crash would.
	raw, err := os.ReadFile(filepath.Join(dataDir, "replicas", "default", "ddp-worker-1-0", "pid.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pid struct {
		PID int `json:"pid"`
	}
	if err := json.Unmarshal(raw, &pid); err != nil || pid.PID <= 0 {
		t.Fatalf("pid.json: %v %s", err, raw)
	}
	if err := syscall.Kill(pid.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := s.skiff("", "wait", "job/ddp", "--for=condition=Succeeded", "--timeout=3m"); code != 0 {
		j := s.getJob("default", "ddp")
		t.Fatalf("ddp did not succeed after the kill: %s\n%s\n%s", errOut, conditionMessages(j), s.mustSkiff("", "logs", "job/ddp", "--replica", "worker-0"))
	}
	j := s.getJob("default", "ddp")
	if j.Status.Restarts != 1 || j.Status.Attempt != 1 {
		t.Errorf("restarts %d attempt %d, want one gang restart", j.Status.Restarts, j.Status.Attempt)
	}
	if !strings.Contains(conditionMessages(j)+s.mustSkiff("", "describe", "job", "ddp"), "replica worker-1 exited with code 137") {
		t.Errorf("nothing says worker-1 was killed:\n%s", s.mustSkiff("", "describe", "job", "ddp"))
	}
	logs := s.mustSkiff("", "logs", "job/ddp", "--replica", "worker-0")
	m := resumedRE.FindStringSubmatch(logs)
	if m == nil || m[1] == "0" {
		t.Fatalf("attempt 1 did not resume from a checkpoint:\n%s", logs)
	}
	s.mustSkiff("", "wait", "job/ddp-single", "--for=condition=Succeeded", "--timeout=3m")
	got, want := s.finalLoss("ddp", "worker-0", 1), s.finalLoss("ddp-single", "worker-0", 0)
	if got != want {
		t.Errorf("4 ranks, killed and resumed at step %s: final loss %s; one process: %s", m[1], got, want)
	}

	// The loss curve arrived through the API (the job's token) and, for the
	// single-process job, through skiff:metric lines in its log.
	pts := s.metrics("ddp")
	steps := map[string]int{}
	var final float64
	for _, p := range pts {
		steps[p.Name]++
		if p.Name == "final_loss" {
			final = p.Value
		}
		if p.Time.IsZero() {
			t.Errorf("point without time: %+v", p)
		}
	}
	if steps["loss"] != 8 || steps["progress"] != 8 || steps["final_loss"] != 1 {
		t.Errorf("ddp metrics per name = %v, want 8 loss and progress points (every 10 of 80 steps) and final_loss", steps)
	}
	if strconv.FormatFloat(final, 'g', -1, 64) != want {
		t.Errorf("final_loss metric %v, logged %s", final, want)
	}
	h := s.metrics("ddp-single", "--name", "loss", "--latest")
	if len(h) != 1 || h[0].Step != 80 {
		t.Errorf("latest loss of ddp-single = %+v, want step 80", h)
	}
	table := s.mustSkiff("", "metrics", "job/ddp-single", "--name", "final_loss")
	if !strings.Contains(table, "final_loss") || !strings.Contains(table, " 80 ") {
		t.Errorf("metrics table:\n%s", table)
	}
}

func TestPreemptedDDPJobIsRequeuedAndResumes(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir())
	s.mustSkiff(`apiVersion: skiff.dev/v1alpha1
kind: Queue
metadata: {name: train}
spec:
  preemption: {withinQueue: LowerPriority}
  flavors: [{name: default, resources: [{name: gpu, nominalQuota: 2}, {name: cpu, nominalQuota: 64}, {name: memory, nominalQuota: 64Gi}]}]
`, "apply", "-f", "-")
	s.mustSkiff(exampleManifest(t, "job.yaml", func(m string) string {
		m = strings.Replace(m, "spec:\n", "spec:\n  queue: train\n", 1)
		m = strings.Replace(m, "replicas: 4", "replicas: 2", 1)
		m = strings.Replace(m, "{cpu: 250m, memory: 256Mi}", "{cpu: 250m, memory: 256Mi, gpu: 1}", 1)
		// 150 steps of 50 ms: the preemption must land while it trains,
		// also when the whole suite shares two busy cores.
		return shorter(150, "0.05")(m)
	}), "apply", "-f", "-")
	s.waitCheckpoint("ddp")
	s.mustSkiff(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: urgent}
spec:
  queue: train
  priority: 100
  replicaGroups:
  - name: worker
    template:
      command: ["true"]
      resources: {gpu: 2}
`, "apply", "-f", "-")
	s.mustSkiff("", "wait", "job/urgent", "--for=condition=Succeeded", "--timeout=3m")
	if _, errOut, code := s.skiff("", "wait", "job/ddp", "--for=condition=Succeeded", "--timeout=3m"); code != 0 {
		t.Fatalf("the preempted job did not finish: %s\n%s", errOut, conditionMessages(s.getJob("default", "ddp")))
	}
	j := s.getJob("default", "ddp")
	if j.Status.Preemptions != 1 || j.Status.Restarts != 0 {
		t.Errorf("preemptions %d restarts %d, want 1 and 0 (a preemption is no failure)", j.Status.Preemptions, j.Status.Restarts)
	}
	// Attempt 0 got SIGTERM, read the notice through $SKIFF_API with its
	// token, checkpointed and exited; attempt 1 resumed from there.
	first := s.mustSkiff("", "logs", "job/ddp", "--replica", "worker-0", "--attempt", "0")
	if !strings.Contains(first, "(SIGTERM); checkpoint written") || !strings.Contains(first, `"stop": true, "reason": "Preempted"`) || !strings.Contains(first, "default/urgent") {
		t.Errorf("attempt 0 did not checkpoint on the preemption notice:\n%s", first)
	}
	second := s.mustSkiff("", "logs", "job/ddp", "--replica", "worker-0")
	m := resumedRE.FindStringSubmatch(second)
	if m == nil || m[1] == "0" {
		t.Fatalf("the requeued attempt did not resume:\n%s", second)
	}
	stopped := regexp.MustCompile(`stopping at step (\d+)`).FindStringSubmatch(first)
	t.Logf("preempted at %v of 150 steps", stopped)
	if stopped == nil || stopped[1] != m[1] {
		t.Errorf("stopped at step %v, resumed from %s: the checkpoint written on SIGTERM should be the one resumed", stopped, m[1])
	}
	// Same loss as the uninterrupted single process.
	s.mustSkiff(exampleManifest(t, "single.yaml", shorter(150, "")), "apply", "-f", "-")
	s.mustSkiff("", "wait", "job/ddp-single", "--for=condition=Succeeded", "--timeout=3m")
	if got, want := s.finalLoss("ddp", "worker-0", j.Status.Attempt), s.finalLoss("ddp-single", "worker-0", 0); got != want {
		t.Errorf("preempted and resumed: final loss %s; one process: %s", got, want)
	}
}

func TestJobTokenCannotReportForAnotherJob(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir())
	s.mustSkiff(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: victim}
spec:
  replicaGroups: [{name: worker, template: {command: ["sh", "-c", "echo 'skiff:metric loss=1.5 step=3'"]}}]
`, "apply", "-f", "-")
	s.mustSkiff("", "wait", "job/victim", "--for=condition=Succeeded", "--timeout=2m")
	script := `
import json, os, sys, urllib.request, urllib.error
base = os.environ["SKIFF_API"] + "/apis/skiff.dev/v1alpha1/namespaces/default/jobs/"
def post(job):
    req = urllib.request.Request(base + job + "/metrics", method="POST",
        data=json.dumps({"points": [{"name": "loss", "step": 1, "value": 9}]}).encode(),
        headers={"Authorization": "Bearer " + os.environ["SKIFF_JOB_TOKEN"], "Content-Type": "application/json"})
    try:
        return urllib.request.urlopen(req).status
    except urllib.error.HTTPError as e:
        return e.code
print("own", post(os.environ["SKIFF_JOB"]), "other", post("victim"), flush=True)
`
	s.mustSkiff(fmt.Sprintf(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: spy}
spec:
  replicaGroups: [{name: worker, template: {command: ["python3", "-c", %q]}}]
`, script), "apply", "-f", "-")
	s.mustSkiff("", "wait", "job/spy", "--for=condition=Succeeded", "--timeout=2m")
	if out := s.mustSkiff("", "logs", "job/spy"); !strings.Contains(out, "own 204 other 403") {
		t.Errorf("spy log = %q, want its own report accepted and the other refused", out)
	}
	pts := s.metrics("victim")
	if len(pts) != 1 || pts[0].Value != 1.5 || pts[0].Step != 3 {
		t.Errorf("victim's metrics = %+v, want only its own line", pts)
	}

	// Bad training input is refused with the field path, and nothing is stored.
	for _, tc := range []struct{ spec, want string }{
		{"checkpointDir: /etc", `spec.checkpointDir: "/etc" is outside the data directory's checkpoints for namespace default`},
		{"checkpointDir: ../team-b/run", `spec.checkpointDir: "../team-b/run" leaves the namespace's checkpoint directory`},
		{"failurePolicy: {restartPolicy: Always}", `spec.failurePolicy.restartPolicy: "Always" is not a policy`},
		{"successPolicy: {group: launcher}", `spec.successPolicy.group: "launcher" is not a replica group of this job`},
	} {
		_, errOut, code := s.skiff(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: bad}
spec:
  `+tc.spec+`
  replicaGroups: [{name: worker, template: {command: ["true"]}}]
`, "apply", "-f", "-")
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", tc.spec, code, errOut, tc.want)
		}
		if _, _, code := s.skiff("", "get", "job", "bad"); code == 0 {
			t.Fatalf("%s: the job was stored", tc.spec)
		}
	}
}

func TestElasticDDPJobGrowsWhenAnotherJobEnds(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir(), "--config", writeConfig(t, "elasticGrowAfterSeconds: 0.5\n"))
	// One of the two GPUs is taken until the elastic job has a checkpoint.
	s.mustSkiff(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: holder}
spec:
  replicaGroups: [{name: worker, template: {command: ["sleep", "300"], resources: {gpu: 1}}}]
`, "apply", "-f", "-")
	s.waitPhase("default", "holder", v1alpha1.JobRunning, time.Minute)
	s.mustSkiff(exampleManifest(t, "job.yaml", func(m string) string {
		m = strings.Replace(m, "replicas: 4", "replicas: 2\n    minReplicas: 1", 1)
		m = strings.Replace(m, "{cpu: 250m, memory: 256Mi}", "{cpu: 250m, memory: 256Mi, gpu: 1}", 1)
		// 150 steps of 50 ms: the preemption must land while it trains,
		// also when the whole suite shares two busy cores.
		return shorter(150, "0.05")(m)
	}), "apply", "-f", "-")
	s.waitCheckpoint("ddp")
	s.mustSkiff("", "delete", "job", "holder")
	if _, errOut, code := s.skiff("", "wait", "job/ddp", "--for=condition=Succeeded", "--timeout=3m"); code != 0 {
		t.Fatalf("the elastic job did not finish: %s\n%s", errOut, conditionMessages(s.getJob("default", "ddp")))
	}
	j := s.getJob("default", "ddp")
	if j.Status.Attempt != 1 || len(j.Status.Admission.Placements) != 2 || j.Status.Preemptions != 0 || j.Status.Restarts != 0 {
		t.Fatalf("attempt %d with %d replicas (preemptions %d, restarts %d), want attempt 1 grown to 2",
			j.Status.Attempt, len(j.Status.Admission.Placements), j.Status.Preemptions, j.Status.Restarts)
	}
	first := s.mustSkiff("", "logs", "job/ddp", "--replica", "worker-0", "--attempt", "0")
	second := s.mustSkiff("", "logs", "job/ddp", "--replica", "worker-0")
	if !strings.Contains(first, "rank 0 of 1") || !strings.Contains(first, `"reason": "Resized"`) {
		t.Errorf("attempt 0 should run alone and checkpoint on the resize notice:\n%s", first)
	}
	m := resumedRE.FindStringSubmatch(second)
	if !strings.Contains(second, "rank 0 of 2") || m == nil || m[1] == "0" {
		t.Errorf("attempt 1 should run 2 ranks from the checkpoint:\n%s", second)
	}
	if !strings.Contains(s.mustSkiff("", "describe", "job", "ddp"), "restarting with 2 replicas instead of 1") {
		t.Errorf("no Resized event:\n%s", s.mustSkiff("", "describe", "job", "ddp"))
	}
	s.mustSkiff(exampleManifest(t, "single.yaml", shorter(150, "")), "apply", "-f", "-")
	s.mustSkiff("", "wait", "job/ddp-single", "--for=condition=Succeeded", "--timeout=3m")
	if got, want := s.finalLoss("ddp", "worker-0", 1), s.finalLoss("ddp-single", "worker-0", 0); got != want {
		t.Errorf("grown from 1 to 2 ranks mid-run: final loss %s; one process: %s", got, want)
	}
}

func TestReplicaRestartScopeAndSuccessPolicy(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir(), "--config", writeConfig(t, "backoffBaseSeconds: 0.1\n"))
	runs := filepath.Join(t.TempDir(), "runs")
	// worker-1 fails on its first run; only it is restarted, worker-0 runs once.
	s.mustSkiff(fmt.Sprintf(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: ps}
spec:
  replicaGroups:
  - name: worker
    replicas: 2
    template:
      command: ["sh", "-c", "echo run $SKIFF_REPLICA attempt $SKIFF_ATTEMPT | tee -a %s; if [ $SKIFF_REPLICA = worker-1 ] && [ $SKIFF_ATTEMPT = 0 ]; then exit 3; fi; sleep 1"]
  failurePolicy: {restartScope: Replica, maxRestarts: 1}
`, runs), "apply", "-f", "-")
	s.mustSkiff("", "wait", "job/ps", "--for=condition=Succeeded", "--timeout=2m")
	j := s.getJob("default", "ps")
	if j.Status.Restarts != 1 || j.Status.Replicas[0].Attempt != 0 || j.Status.Replicas[1].Attempt != 1 || j.Status.Replicas[1].Restarts != 1 {
		t.Errorf("status: restarts %d, replicas %+v", j.Status.Restarts, j.Status.Replicas)
	}
	b, _ := os.ReadFile(runs)
	if strings.Count(string(b), "run worker-0") != 1 || strings.Count(string(b), "run worker-1") != 2 {
		t.Errorf("runs:\n%s", b)
	}
	// Logs follow each replica to its own latest attempt.
	if out := s.mustSkiff("", "logs", "job/ps", "--replica", "worker-1"); !strings.Contains(out, "run worker-1 attempt 1") {
		t.Errorf("worker-1 log = %q", out)
	}
	if out := s.mustSkiff("", "logs", "job/ps", "--replica", "worker-0"); !strings.Contains(out, "run worker-0 attempt 0") {
		t.Errorf("worker-0 log = %q", out)
	}

	// The launcher's success ends the job; its workers are stopped.
	s.mustSkiff(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: mpi}
spec:
  framework: mpi
  successPolicy: {group: launcher}
  replicaGroups:
  - name: launcher
    template: {command: ["sh", "-c", "test -s $SKIFF_HOSTFILE && sleep 0.5"]}
  - name: worker
    replicas: 2
    template: {command: ["sleep", "300"]}
`, "apply", "-f", "-")
	s.mustSkiff("", "wait", "job/mpi", "--for=condition=Succeeded", "--timeout=2m")
	deadline := time.Now().Add(time.Minute)
	for {
		j := s.getJob("default", "mpi")
		stopped := 0
		for _, r := range j.Status.Replicas {
			if r.Group == "worker" && r.Reason == "Stopped" {
				stopped++
			}
		}
		if stopped == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers of a succeeded job still run: %+v", j.Status.Replicas)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSuspendedDDPJobResumesFromItsCheckpoint(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir())
	manifest := func(suspend bool) string {
		return exampleManifest(t, "job.yaml", func(m string) string {
			m = strings.Replace(m, "replicas: 4", "replicas: 2", 1)
			m = strings.Replace(m, "  runPolicy:\n", fmt.Sprintf("  runPolicy:\n    suspend: %v\n", suspend), 1)
			return shorter(150, "0.02")(m)
		})
	}
	s.mustSkiff(manifest(false), "apply", "-f", "-")
	s.waitCheckpoint("ddp")
	if out := s.mustSkiff(manifest(true), "apply", "-f", "-"); !strings.Contains(out, "configured") {
		t.Fatalf("apply with suspend: true: %s", out)
	}
	s.waitPhase("default", "ddp", v1alpha1.JobSuspended, 2*time.Minute)
	first := s.mustSkiff("", "logs", "job/ddp", "--replica", "worker-0", "--attempt", "0")
	stopped := regexp.MustCompile(`stopping at step (\d+) \(SIGTERM\); checkpoint written`).FindStringSubmatch(first)
	if stopped == nil || !strings.Contains(first, `"reason": "Suspended"`) {
		t.Fatalf("the suspended attempt did not checkpoint on the notice:\n%s", first)
	}
	s.mustSkiff(manifest(false), "apply", "-f", "-")
	s.mustSkiff("", "wait", "job/ddp", "--for=condition=Succeeded", "--timeout=3m")
	second := s.mustSkiff("", "logs", "job/ddp", "--replica", "worker-0")
	if m := resumedRE.FindStringSubmatch(second); m == nil || m[1] != stopped[1] {
		t.Errorf("resumed from %v, want step %s where the suspend stopped it:\n%s", m, stopped[1], second)
	}
	j := s.getJob("default", "ddp")
	if j.Status.Restarts != 0 || j.Status.Preemptions != 0 {
		t.Errorf("restarts %d preemptions %d: a suspend is neither", j.Status.Restarts, j.Status.Preemptions)
	}
	s.mustSkiff(exampleManifest(t, "single.yaml", shorter(150, "")), "apply", "-f", "-")
	s.mustSkiff("", "wait", "job/ddp-single", "--for=condition=Succeeded", "--timeout=3m")
	if got, want := s.finalLoss("ddp", "worker-0", j.Status.Attempt), s.finalLoss("ddp-single", "worker-0", 0); got != want {
		t.Errorf("suspended and resumed: final loss %s; one process: %s", got, want)
	}
}
