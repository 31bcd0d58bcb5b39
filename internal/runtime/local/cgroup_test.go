package local_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"skiff.dev/skiff/internal/runtime"
	"skiff.dev/skiff/internal/runtime/local"
)

// replicaCgroup returns the directory of pid's cgroup for a v1 controller,
// or its v2 cgroup when the controller is not mounted on its own.
func replicaCgroup(t *testing.T, pid int, controller string) string {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v2 := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" {
			v2 = parts[2]
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == controller {
				return filepath.Join(local.DefaultCgroupRoot, controller, parts[2])
			}
		}
	}
	return filepath.Join(local.DefaultCgroupRoot, v2)
}

func TestMemoryLimitEnforced(t *testing.T) {
	rt := newRuntime(t, "")
	r := replica("hog", []string{os.Args[0], allocMarker, "512"})
	r.MemoryBytes = 64 << 20
	st := start(t, rt, r)
	if len(st.Warnings) > 0 {
		t.Skipf("memory limits cannot be applied on this machine: %v", st.Warnings)
	}
	st = waitExit(t, rt, "hog")
	if st.Signal != "SIGKILL" || st.ExitCode != 137 || st.Reason != local.ReasonOOMKilled {
		t.Fatalf("status = %+v, want OOMKilled by SIGKILL (137); log:\n%s", st, readLog(t, rt, "hog"))
	}
	if strings.Contains(readLog(t, rt, "hog"), "allocated") {
		t.Error("the replica allocated past its limit")
	}
	t.Logf("message: %s", st.Message)
}

func TestCPULimitApplied(t *testing.T) {
	rt := newRuntime(t, "")
	r := replica("cpu", []string{"sleep", "300"})
	r.CPUMilli = 250
	st := start(t, rt, r)
	if len(st.Warnings) > 0 {
		t.Skipf("cpu limits cannot be applied on this machine: %v", st.Warnings)
	}
	dir := replicaCgroup(t, st.PID, "cpu")
	if !strings.Contains(dir, "team-a_cpu-") {
		t.Fatalf("replica runs in cgroup %s, want its own", dir)
	}
	got, err := os.ReadFile(filepath.Join(dir, "cpu.cfs_quota_us"))
	want := "25000"
	if os.IsNotExist(err) { // cgroup v2
		got, err = os.ReadFile(filepath.Join(dir, "cpu.max"))
		want = "25000 100000"
	}
	if err != nil || strings.TrimSpace(string(got)) != want {
		t.Errorf("cpu quota = %q (%v), want %q", got, err, want)
	}
	if err := rt.Stop(context.Background(), "team-a", "cpu", 0); err != nil {
		t.Fatal(err)
	}
	waitExit(t, rt, "cpu")
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cgroup %s still exists after the replica exited (%v)", dir, err)
	}
}

func TestCgroupUnavailableWarns(t *testing.T) {
	rt := newRuntime(t, "", func(o *local.Options) { o.CgroupRoot = t.TempDir() })
	r := replica("unlimited", []string{"true"})
	r.CPUMilli, r.MemoryBytes = 500, 64<<20
	st := start(t, rt, r)
	if st.State == runtime.Running {
		st = waitExit(t, rt, "unlimited")
	}
	if st.ExitCode != 0 || len(st.Warnings) == 0 || !strings.Contains(strings.Join(st.Warnings, "\n"), "not applied") {
		t.Errorf("status = %+v, want exit 0 with warnings that limits were not applied", st)
	}
	t.Logf("warnings: %q", st.Warnings)
}
