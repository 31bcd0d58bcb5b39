package local_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"skiff.dev/skiff/internal/runtime"
)

func TestStartExitCodeLogAndEnv(t *testing.T) {
	t.Setenv("SKIFF_TEST_SERVER_ONLY", "leaked")
	rt := newRuntime(t, "")
	work := t.TempDir()
	r := replica("env-0", sh(`echo "CVD=[$CUDA_VISIBLE_DEVICES]"; echo "FOO=$FOO"; `+
		`echo "LEAK=${SKIFF_TEST_SERVER_ONLY-unset}"; echo "PWD=$(pwd)"; echo oops >&2; exit 3`))
	r.GPUs = []int{0, 2}
	r.WorkingDir = work
	// A replica cannot widen its GPUs through its own env.
	r.Env = []string{"FOO=bar", "CUDA_VISIBLE_DEVICES=0,1,2,3"}

	begin := time.Now()
	st := start(t, rt, r)
	t.Logf("Start took %v", time.Since(begin))
	if st.PID <= 0 && st.State == runtime.Running {
		t.Errorf("Start: running without a PID: %+v", st)
	}
	st = waitExit(t, rt, "env-0")
	if st.State != runtime.Exited || st.ExitCode != 3 || st.Signal != "" || st.Reason != "" {
		t.Errorf("exit status = %+v, want Exited with code 3", st)
	}
	if st.StartedAt.IsZero() || st.FinishedAt.Before(st.StartedAt) {
		t.Errorf("times: started %v finished %v", st.StartedAt, st.FinishedAt)
	}
	got := readLog(t, rt, "env-0")
	for _, want := range []string{"CVD=[0,2]\n", "FOO=bar\n", "LEAK=unset\n", "PWD=" + work + "\n", "oops\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}

	// No GPUs: CUDA_VISIBLE_DEVICES is set and empty; the working
	// directory defaults to the replica's directory.
	st = start(t, rt, replica("env-1", sh(`echo "CVD=[${CUDA_VISIBLE_DEVICES-unset}]"; echo "PWD=$(pwd)"`)))
	st = waitExit(t, rt, "env-1")
	if st.ExitCode != 0 {
		t.Errorf("exit status = %+v, want 0", st)
	}
	logPath, _ := rt.LogPath("team-a", "env-1")
	got = readLog(t, rt, "env-1")
	for _, want := range []string{"CVD=[]\n", "PWD=" + filepath.Dir(logPath) + "\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
}

func TestStartTwiceRunsOnce(t *testing.T) {
	rt := newRuntime(t, "")
	work := t.TempDir()
	fifo := newFIFO(t)
	r := replica("once", sh(`echo run >> runs; echo ready > "$READY"; exec sleep 300`))
	r.WorkingDir = work
	r.Env = []string{"READY=" + fifo}

	var wg sync.WaitGroup
	pids := make([]int, 8)
	for i := range pids {
		wg.Go(func() {
			st, err := rt.Start(context.Background(), r)
			if err != nil {
				t.Error(err)
			}
			pids[i] = st.PID
		})
	}
	wg.Wait()
	waitFIFO(t, fifo)
	for i, pid := range pids {
		if pid != pids[0] || pid <= 0 {
			t.Fatalf("Start %d returned pid %d, Start 0 returned %d", i, pid, pids[0])
		}
	}
	if err := rt.Stop(context.Background(), "team-a", "once", time.Second); err != nil {
		t.Fatal(err)
	}
	waitExit(t, rt, "once")
	st := start(t, rt, r) // after exit: still not started again
	if st.State != runtime.Exited || st.Reason != "Stopped" {
		t.Errorf("Start after exit = %+v, want the exited replica", st)
	}
	data, err := os.ReadFile(filepath.Join(work, "runs"))
	if err != nil || string(data) != "run\n" {
		t.Errorf("runs = %q (%v), want exactly one run", data, err)
	}
}

func TestStopKillsProcessGroup(t *testing.T) {
	rt := newRuntime(t, "")
	work := t.TempDir()
	fifo := newFIFO(t)
	r := replica("group", sh(`sh -c 'sleep 300 & echo $! > grandchild.pid; wait' & echo $! > child.pid; `+
		`while [ ! -s grandchild.pid ]; do sleep 0.01; done; echo ready > "$READY"; wait`))
	r.WorkingDir = work
	r.Env = []string{"READY=" + fifo}
	st := start(t, rt, r)
	waitFIFO(t, fifo)
	child := readPIDFile(t, filepath.Join(work, "child.pid"))
	grandchild := readPIDFile(t, filepath.Join(work, "grandchild.pid"))

	if err := rt.Stop(context.Background(), "team-a", "group", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	st = waitExit(t, rt, "group")
	if st.State != runtime.Exited || st.Reason != "Stopped" || st.Signal != "SIGTERM" || st.ExitCode != 128+15 {
		t.Errorf("exit status = %+v, want Stopped by SIGTERM (143)", st)
	}
	gone(t, child)
	gone(t, grandchild)
	// Stopping an exited or unknown replica is not an error.
	if err := rt.Stop(context.Background(), "team-a", "group", time.Second); err != nil {
		t.Error(err)
	}
	if err := rt.Stop(context.Background(), "team-a", "never-started", time.Second); err != nil {
		t.Error(err)
	}
}

func TestStopGraceThenKill(t *testing.T) {
	rt := newRuntime(t, "")
	fifo := newFIFO(t)
	r := replica("stubborn", []string{os.Args[0], stubbornMarker, fifo})
	start(t, rt, r)
	waitFIFO(t, fifo)
	const grace = 300 * time.Millisecond
	begin := time.Now()
	if err := rt.Stop(context.Background(), "team-a", "stubborn", grace); err != nil {
		t.Fatal(err)
	}
	st := waitExit(t, rt, "stubborn")
	if took := time.Since(begin); took < grace {
		t.Errorf("killed after %v, before the grace period of %v", took, grace)
	}
	if st.Reason != "Stopped" || st.Signal != "SIGKILL" || st.ExitCode != 137 {
		t.Errorf("exit status = %+v, want Stopped by SIGKILL (137)", st)
	}
	if got := readLog(t, rt, "stubborn"); !strings.Contains(got, "got TERM") {
		t.Errorf("replica never saw SIGTERM; log:\n%s", got)
	}
}

// Controllers call Stop on every pass while a replica stops: a replica
// that checkpoints on SIGTERM must get one, not one per pass.
func TestRepeatedStopSendsOneSIGTERM(t *testing.T) {
	rt := newRuntime(t, "")
	fifo := newFIFO(t)
	start(t, rt, replica("stubborn", []string{os.Args[0], stubbornMarker, fifo}))
	waitFIFO(t, fifo)
	const grace = 700 * time.Millisecond
	for range 5 {
		if err := rt.Stop(context.Background(), "team-a", "stubborn", grace); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := waitExit(t, rt, "stubborn")
	if st.Signal != "SIGKILL" {
		t.Errorf("exit status = %+v, want SIGKILL once the grace period ended", st)
	}
	if got := strings.Count(readLog(t, rt, "stubborn"), "got TERM"); got != 1 {
		t.Errorf("replica saw SIGTERM %d times, want once", got)
	}
}

func TestAdoptionAfterServerRestart(t *testing.T) {
	dir := t.TempDir()
	rt1 := newRuntime(t, dir)
	work := t.TempDir()
	fifo := newFIFO(t)
	r := replica("survivor", sh(`echo run >> runs; echo ready > "$READY"; exec sleep 300`))
	r.WorkingDir = work
	r.Env = []string{"READY=" + fifo}
	first := start(t, rt1, r)
	waitFIFO(t, fifo)

	// A second runtime over the same directory stands for the server after
	// a crash: it must find the replica running and not start it again.
	rt2 := newRuntime(t, dir)
	list, err := rt2.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "survivor" || list[0].State != runtime.Running || list[0].PID != first.PID {
		t.Fatalf("List after restart = %+v, want survivor running as pid %d", list, first.PID)
	}
	again, err := rt2.Start(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if again.State != runtime.Running || again.PID != first.PID {
		t.Errorf("Start after restart = %+v, want the running replica (pid %d)", again, first.PID)
	}
	if err := rt2.Stop(context.Background(), "team-a", "survivor", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	st := waitExit(t, rt2, "survivor")
	if st.State != runtime.Exited || st.Reason != "Stopped" || st.PID != first.PID {
		t.Errorf("adopted exit = %+v, want Stopped", st)
	}
	if data, _ := os.ReadFile(filepath.Join(work, "runs")); string(data) != "run\n" {
		t.Errorf("runs = %q, want exactly one run", data)
	}
}

func TestServerKilled(t *testing.T) {
	dir := t.TempDir()
	srv := exec.Command(os.Args[0], serverMarker, dir)
	srv.Stderr = os.Stderr
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		t.Fatalf("server printed %q, want a pid", line)
	}
	if err := srv.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = srv.Wait()

	rt := newRuntime(t, dir)
	st, err := rt.Status(context.Background(), "team-a", "survivor")
	if err != nil || st.State != runtime.Running || st.PID != pid {
		t.Fatalf("after the server was killed: %+v, %v; want running as pid %d", st, err, pid)
	}
	if err := rt.Stop(context.Background(), "team-a", "survivor", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := waitExit(t, rt, "survivor"); st.Reason != "Stopped" || st.PID != pid {
		t.Errorf("exit = %+v, want Stopped", st)
	}
}

func TestLostWhenShimKilled(t *testing.T) {
	dir := t.TempDir()
	rt := newRuntime(t, dir)
	work := t.TempDir()
	fifo := newFIFO(t)
	r := replica("orphan", sh(`sleep 300 & echo $! > child.pid; echo ready > "$READY"; wait`))
	r.WorkingDir = work
	r.Env = []string{"READY=" + fifo}
	st := start(t, rt, r)
	waitFIFO(t, fifo)
	child := readPIDFile(t, filepath.Join(work, "child.pid"))
	shim := parentPID(t, st.PID)
	if err := syscall.Kill(shim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st = waitExit(t, rt, "orphan")
	if st.State != runtime.Lost || st.Message == "" {
		t.Errorf("status = %+v, want Lost with a message", st)
	}
	// Nothing of the lost replica may keep running beside its successor.
	gone(t, st.PID)
	gone(t, child)
	// A restarted server sees the same.
	st2, err := newRuntime(t, dir).Status(context.Background(), "team-a", "orphan")
	if err != nil || st2.State != runtime.Lost {
		t.Errorf("Status after restart = %+v, %v; want Lost", st2, err)
	}
}

func TestShutdown(t *testing.T) {
	rt := newRuntime(t, "")
	for _, name := range []string{"a", "b"} {
		start(t, rt, replica(name, []string{"sleep", "300"}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := rt.Shutdown(ctx, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		st, err := rt.Status(ctx, "team-a", name)
		if err != nil || st.State != runtime.Exited || st.Reason != "Shutdown" {
			t.Errorf("%s after Shutdown = %+v, %v; want Exited with Reason Shutdown", name, st, err)
		}
	}
	if _, err := rt.Start(ctx, replica("late", []string{"true"})); err == nil {
		t.Error("Start after Shutdown succeeded, want an error")
	}
}

func TestStartErrors(t *testing.T) {
	rt := newRuntime(t, "")
	notExec := filepath.Join(t.TempDir(), "script.sh")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\necho hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, want string
		r          runtime.Replica
	}{
		{"not-in-path", "no-such-command-skiff", replica("", []string{"no-such-command-skiff", "x"})},
		{"absolute", "/nonexistent/bin/tool", replica("", []string{"/nonexistent/bin/tool"})},
		{"not-executable", notExec, replica("", []string{notExec})},
		{"bad-workdir", "/nonexistent/work", runtime.Replica{Command: []string{"true"}, WorkingDir: "/nonexistent/work"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.Namespace, tc.r.Name = "team-a", tc.name
			st, err := rt.Start(context.Background(), tc.r)
			if err != nil {
				t.Fatalf("Start: %v, want success and a StartError exit", err)
			}
			if st.State == runtime.Running {
				st = waitExit(t, rt, tc.name)
			}
			if st.State != runtime.Exited || st.Reason != "StartError" || st.ExitCode != 127 || !strings.Contains(st.Message, tc.want) {
				t.Errorf("status = %+v, want StartError 127 naming %q", st, tc.want)
			}
		})
	}
	if _, err := rt.Start(context.Background(), replica("no-command", nil)); err == nil {
		t.Error("Start without a command succeeded")
	}
}

func TestPathEscapeRefused(t *testing.T) {
	rt := newRuntime(t, "")
	bad := [][2]string{
		{"..", "x"}, {"team-a", ".."}, {"team-a", "../../etc"}, {"team-a", "a/b"},
		{"/etc", "x"}, {"team-a", "/etc/passwd"}, {"", "x"}, {"team-a", ""},
		{"Team-A", "x"}, {"team-a", "x\x00y"}, {"a.b", "x"}, {"team-a", "."},
	}
	for _, b := range bad {
		if p, err := rt.LogPath(b[0], b[1]); err == nil {
			t.Errorf("LogPath(%q, %q) = %q, want an error", b[0], b[1], p)
		}
		if _, err := rt.Start(context.Background(), runtime.Replica{Namespace: b[0], Name: b[1], Command: []string{"true"}}); err == nil {
			t.Errorf("Start(%q, %q) succeeded, want an error", b[0], b[1])
		}
		if _, err := rt.Status(context.Background(), b[0], b[1]); err == nil || errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("Status(%q, %q) = %v, want a validation error", b[0], b[1], err)
		}
	}
	if _, err := rt.Status(context.Background(), "team-a", "never-started"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Status of an unknown replica = %v, want ErrNotFound", err)
	}
	if _, err := rt.LogPath("team-a", "never-started"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("LogPath of an unknown replica = %v, want ErrNotFound", err)
	}
	start(t, rt, replica("job-1.worker-0", []string{"true"}))
	waitExit(t, rt, "job-1.worker-0")
	p, err := rt.LogPath("team-a", "job-1.worker-0")
	if err != nil || !strings.HasSuffix(p, filepath.Join("team-a", "job-1.worker-0", "log")) {
		t.Errorf("LogPath = %q, %v", p, err)
	}
}

func TestRemove(t *testing.T) {
	rt := newRuntime(t, "")
	r := replica("rm", []string{"sleep", "300"})
	start(t, rt, r)
	if err := rt.Remove(context.Background(), "team-a", "rm"); err == nil {
		t.Error("Remove of a running replica succeeded")
	}
	if err := rt.Stop(context.Background(), "team-a", "rm", 0); err != nil {
		t.Fatal(err)
	}
	if st := waitExit(t, rt, "rm"); st.Signal != "SIGKILL" || st.Reason != "Stopped" {
		t.Errorf("Stop with no grace = %+v, want SIGKILL", st)
	}
	if err := rt.Remove(context.Background(), "team-a", "rm"); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Status(context.Background(), "team-a", "rm"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Status after Remove = %v, want ErrNotFound", err)
	}
	if err := rt.Remove(context.Background(), "team-a", "rm"); err != nil {
		t.Errorf("second Remove = %v, want nil", err)
	}
	// Removed means forgotten: the name can be started again.
	if st := start(t, rt, r); st.State != runtime.Running {
		t.Errorf("Start after Remove = %+v, want Running", st)
	}
}
