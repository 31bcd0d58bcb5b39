package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
)

// pidJob is a job whose replica records its pid and then runs until told to stop.
func pidJob(name, pidFile string) string {
	return fmt.Sprintf(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: %s}
spec:
  replicaGroups:
  - name: worker
    template:
      command: ["sh", "-c", "echo $$ > %s.tmp && mv %s.tmp %s; echo line one; sleep 1; echo line two; exec sleep 300"]
`, name, pidFile, pidFile, pidFile)
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestFollowLogsAndDeleteStopsTheReplica(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir())
	pidFile := filepath.Join(t.TempDir(), "pid")
	s.mustSkiff(pidJob("follow", pidFile), "apply", "-f", "-")
	pid := readPid(t, pidFile)

	// logs -f streams output as it is written and ends when the replica ends.
	done := make(chan string, 1)
	go func() {
		out, _, _ := s.skiff("", "logs", "job/follow", "-f")
		done <- out
	}()
	waitFor(t, func() bool {
		out := s.mustSkiff("", "logs", "job/follow")
		return strings.Contains(out, "line two")
	})
	s.mustSkiff("", "delete", "job", "follow")
	select {
	case out := <-done:
		if !strings.Contains(out, "line one\nline two\n") {
			t.Errorf("followed logs = %q", out)
		}
	case <-time.After(time.Minute):
		t.Fatal("logs -f did not end after the job was deleted")
	}
	waitFor(t, func() bool { return !alive(pid) })
	_, errOut, code := s.skiff("", "get", "job", "follow")
	if code == 0 || !strings.Contains(errOut, "not found") {
		t.Errorf("deleted job still there: exit %d %q", code, errOut)
	}
}

func TestCleanShutdownStopsReplicasAndRestartRunsANewAttempt(t *testing.T) {
	t.Parallel()
	data, home := t.TempDir(), t.TempDir()
	s := startServer(t, data, home)
	pidFile := filepath.Join(t.TempDir(), "pid")
	s.mustSkiff(pidJob("sleeper", pidFile), "apply", "-f", "-")
	pid := readPid(t, pidFile)
	s.stop(syscall.SIGTERM)
	if alive(pid) {
		t.Fatalf("replica %d still runs after the server shut down", pid)
	}
	if !strings.Contains(s.out.String(), "Shutting down") {
		t.Errorf("server output lacks the shutdown notice:\n%s", s.out.String())
	}
	os.Remove(pidFile)
	s2 := startServer(t, data, home)
	pid2 := readPid(t, pidFile)
	job := s2.waitPhase("default", "sleeper", v1alpha1.JobRunning, time.Minute)
	if job.Status.Attempt != 1 || job.Status.Restarts != 0 {
		t.Errorf("attempt %d restarts %d, want attempt 1 that does not count as a failure", job.Status.Attempt, job.Status.Restarts)
	}
	s2.mustSkiff("", "delete", "job", "sleeper")
	waitFor(t, func() bool { return !alive(pid2) })
}

func TestDeadlineFailsTheJob(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir())
	s.mustSkiff(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: slow}
spec:
  replicaGroups:
  - name: worker
    template: {command: ["sleep", "300"]}
  runPolicy: {activeDeadlineSeconds: 1}
`, "apply", "-f", "-")
	job := s.waitPhase("default", "slow", v1alpha1.JobFailed, time.Minute)
	if !strings.Contains(conditionMessages(job), "activeDeadlineSeconds") {
		t.Errorf("conditions = %s", conditionMessages(job))
	}
}

func TestAdmittedJobResourcesCannotChange(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir())
	pidFile := filepath.Join(t.TempDir(), "pid")
	job := pidJob("fixed", pidFile)
	s.mustSkiff(job, "apply", "-f", "-")
	s.waitPhase("default", "fixed", v1alpha1.JobRunning, time.Minute)
	bigger := strings.Replace(job, "    template:\n", "    template:\n      resources: {cpu: 900m}\n", 1)
	_, errOut, code := s.skiff(bigger, "apply", "-f", "-")
	if code != 1 || !strings.Contains(errOut, "spec: replica groups, queue") || !strings.Contains(errOut, "suspend it first") {
		t.Errorf("changing an admitted job's resources: exit %d, stderr %q", code, errOut)
	}
	if got := s.getJob("default", "fixed").Spec.ReplicaGroups[0].Template.Resources.CPU; got != nil {
		t.Errorf("the change was stored: cpu %v", got)
	}
	s.mustSkiff("", "delete", "job", "fixed")
}
