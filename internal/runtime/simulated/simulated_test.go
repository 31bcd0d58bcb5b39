package simulated

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"

	"skiff.dev/skiff/internal/runtime"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newReplica(name string, env ...string) runtime.Replica {
	return runtime.Replica{Namespace: "team-a", Name: name, Command: []string{"train"}, Env: env}
}

func nextExit(t *testing.T, rt *Runtime) runtime.Status {
	t.Helper()
	select {
	case st := <-rt.Exits():
		return st
	case <-time.After(5 * time.Second):
		t.Fatal("no exit delivered within 5s")
		return runtime.Status{}
	}
}

func noExit(t *testing.T, rt *Runtime) {
	t.Helper()
	select {
	case st := <-rt.Exits():
		t.Fatalf("unexpected exit %+v", st)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestReplicaExitsAfterItsDuration(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	rt := New(Options{Clock: clk})
	ctx := context.Background()
	st, err := rt.Start(ctx, newReplica("job-main-0-0", "A=1", DurationEnv+"=250"))
	if err != nil {
		t.Fatal(err)
	}
	if st.State != runtime.Running || !st.StartedAt.Equal(t0) {
		t.Fatalf("after Start: %+v, want Running since %v", st, t0)
	}
	clk.Step(249 * time.Millisecond)
	noExit(t, rt)
	clk.Step(time.Millisecond)
	got := nextExit(t, rt)
	want := runtime.Status{Namespace: "team-a", Name: "job-main-0-0", State: runtime.Exited, ExitCode: 0,
		StartedAt: t0, FinishedAt: t0.Add(250 * time.Millisecond)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("exit (-want +got):\n%s", diff)
	}
	if st, _ := rt.Status(ctx, "team-a", "job-main-0-0"); st.State != runtime.Exited {
		t.Fatalf("Status after exit = %+v", st)
	}
	if rt.Running() != 0 {
		t.Fatalf("Running() = %d after the exit", rt.Running())
	}
}

func TestStartIsIdempotent(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	rt := New(Options{Clock: clk})
	ctx := context.Background()
	if _, err := rt.Start(ctx, newReplica("r", DurationEnv+"=100")); err != nil {
		t.Fatal(err)
	}
	clk.Step(50 * time.Millisecond)
	// A second Start, even with another duration, starts nothing new.
	st, err := rt.Start(ctx, newReplica("r", DurationEnv+"=1"))
	if err != nil || st.State != runtime.Running || !st.StartedAt.Equal(t0) {
		t.Fatalf("second Start = %+v, %v; want the first replica, still running", st, err)
	}
	clk.Step(50 * time.Millisecond)
	if got := nextExit(t, rt); got.FinishedAt != t0.Add(100*time.Millisecond) {
		t.Fatalf("finished at %v, want %v", got.FinishedAt, t0.Add(100*time.Millisecond))
	}
	noExit(t, rt)
	// After exiting, the name is still taken.
	st, err = rt.Start(ctx, newReplica("r", DurationEnv+"=1"))
	if err != nil || st.State != runtime.Exited {
		t.Fatalf("Start after exit = %+v, %v; want the exited replica", st, err)
	}
	noExit(t, rt)
}

func TestStopEndsEarly(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	rt := New(Options{Clock: clk})
	ctx := context.Background()
	if _, err := rt.Start(ctx, newReplica("r", DurationEnv+"=1000")); err != nil {
		t.Fatal(err)
	}
	clk.Step(10 * time.Millisecond)
	if err := rt.Stop(ctx, "team-a", "r", time.Second); err != nil {
		t.Fatal(err)
	}
	got := nextExit(t, rt)
	if got.Reason != "Stopped" || got.ExitCode != ExitSignaled || got.Signal != "SIGTERM" || got.State != runtime.Exited {
		t.Fatalf("stopped replica = %+v", got)
	}
	// The timer no longer fires; stopping again or stopping an unknown
	// replica is not an error.
	clk.Step(2 * time.Second)
	noExit(t, rt)
	if err := rt.Stop(ctx, "team-a", "r", 0); err != nil {
		t.Fatal(err)
	}
	if err := rt.Stop(ctx, "team-a", "never", 0); err != nil {
		t.Fatal(err)
	}
	noExit(t, rt)
}

func TestDefaultDurationAndRunUntilStopped(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	rt := New(Options{Clock: clk, DefaultDuration: time.Second})
	ctx := context.Background()
	if _, err := rt.Start(ctx, newReplica("default")); err != nil {
		t.Fatal(err)
	}
	clk.Step(time.Second)
	if got := nextExit(t, rt); got.Name != "default" {
		t.Fatalf("exit of %q", got.Name)
	}

	forever := New(Options{Clock: clk})
	if _, err := forever.Start(ctx, newReplica("server")); err != nil {
		t.Fatal(err)
	}
	clk.Step(time.Hour)
	noExit(t, forever)
	if err := forever.Shutdown(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	if got := nextExit(t, forever); got.Reason != "Shutdown" {
		t.Fatalf("shutdown exit = %+v", got)
	}
	if _, err := forever.Start(ctx, newReplica("late")); err == nil {
		t.Fatal("Start after Shutdown succeeded")
	}
}

func TestBadDurationIsRejected(t *testing.T) {
	rt := New(Options{Clock: clocktesting.NewFakeClock(t0)})
	for _, v := range []string{"abc", "-5", "1.5"} {
		_, err := rt.Start(context.Background(), newReplica("r", DurationEnv+"="+v))
		if err == nil {
			t.Fatalf("%s=%s accepted", DurationEnv, v)
		}
	}
	if _, err := rt.Status(context.Background(), "team-a", "r"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("a rejected replica is recorded: %v", err)
	}
}

func TestRemoveListAndLogPath(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	rt := New(Options{Clock: clk})
	ctx := context.Background()
	for _, n := range []string{"b", "a"} {
		if _, err := rt.Start(ctx, newReplica(n, DurationEnv+"=5")); err != nil {
			t.Fatal(err)
		}
	}
	if err := rt.Remove(ctx, "team-a", "a"); err == nil {
		t.Fatal("removed a running replica")
	}
	list, _ := rt.List(ctx)
	if len(list) != 2 || list[0].Name != "a" || list[1].Name != "b" {
		t.Fatalf("List = %+v", list)
	}
	clk.Step(5 * time.Millisecond)
	nextExit(t, rt)
	nextExit(t, rt)
	if err := rt.Remove(ctx, "team-a", "a"); err != nil {
		t.Fatal(err)
	}
	if err := rt.Remove(ctx, "team-a", "a"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("second Remove = %v, want ErrNotFound", err)
	}
	if _, err := rt.LogPath("team-a", "b"); err == nil {
		t.Fatal("LogPath of a simulated replica succeeded")
	}
}

func TestSlowReaderLosesNoExit(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	rt := New(Options{Clock: clk, ExitBuffer: 1})
	ctx := context.Background()
	const n = 20
	for i := 0; i < n; i++ {
		if _, err := rt.Start(ctx, newReplica("r"+string(rune('a'+i)), DurationEnv+"=1")); err != nil {
			t.Fatal(err)
		}
	}
	clk.Step(time.Millisecond)
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		seen[nextExit(t, rt).Name] = true
	}
	if len(seen) != n {
		t.Fatalf("got %d distinct exits, want %d", len(seen), n)
	}
}
