package kubebench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/bench"
	"skiff.dev/skiff/internal/kubetest"
	"skiff.dev/skiff/internal/server"
)

// scenarioEnv names the generator file BenchmarkKueueBaseline runs
// (default: Kueue's baseline, bench/scheduler/kueue-baseline.yaml).
const scenarioEnv = "SKIFF_BENCH_SCENARIO"

// profileEnv names a file for a CPU profile of kube-apiserver taken during
// the run; profileWindowEnv says when and for how long, as START+LENGTH
// from the start of the run (default 30s+30s).
const (
	profileEnv       = "SKIFF_BENCH_APISERVER_PROFILE"
	profileWindowEnv = "SKIFF_BENCH_PROFILE_WINDOW"
)

// BenchmarkKueueBaseline runs Kueue's scheduler performance scenario
// through Skiff in Kubernetes mode: every object is a custom resource on a
// real kube-apiserver (etcd behind it), the scenario's nodes are kwok nodes
// mirrored into Skiff by the node inventory, and workloads run in the
// simulated runtime (no pods, as Kueue's own run has no kubelets). It
// prints the result as `skiff bench scheduler -o json` does, then the
// detail table.
//
//	SKIFF_KUBE_TEST=1 go test -run '^$' -bench KueueBaseline -benchtime 1x -timeout 60m ./bench/kube/
//
// With SKIFF_BENCH_APISERVER_PROFILE=FILE it also writes a CPU profile of
// kube-apiserver over SKIFF_BENCH_PROFILE_WINDOW of the run.
func BenchmarkKueueBaseline(b *testing.B) {
	path := os.Getenv(scenarioEnv)
	if path == "" {
		path = filepath.Join("..", "scheduler", "kueue-baseline.yaml")
	}
	sc, err := bench.LoadScenario(path)
	if err != nil {
		b.Fatal(err)
	}
	// The controller manager's node lifecycle controller lifts the
	// not-ready taint the API server puts on every new node once kwok
	// reports it Ready; without it no node would ever be schedulable.
	profile, from, length, err := profileRequest()
	if err != nil {
		b.Fatal(err)
	}
	c := kubetest.Start(b, kubetest.Options{Kwok: true, ControllerManager: true, Profiling: profile != ""})
	ctx := context.Background()
	p := newControlPlane(ctx, b, c)
	b.ResetTimer()
	for range b.N {
		load, dataDir, cpu0 := loadAverage(), b.TempDir(), cpuTimes()
		req0, err := apiRequests(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		// The profile ends with the run at the latest: the benchmark waits
		// for it before it returns.
		profCtx, stopProfile := context.WithCancel(ctx)
		profDone := make(chan struct{})
		go func() {
			defer close(profDone)
			if profile != "" {
				profileAPIServer(profCtx, b, c, profile, from, length)
			}
		}()
		res, err := bench.RunScheduler(ctx, bench.Options{
			Scenario: sc, Timeout: 30 * time.Minute, Log: benchLog(),
			Progress: os.Stderr, ProgressEvery: 10 * time.Second,
			Serve: func(ctx context.Context, opts server.Options) error {
				return p.serve(ctx, dataDir, opts, nil)
			},
			AddNodes: func(ctx context.Context, nodes []*v1alpha1.Node) error {
				return c.AddNodes(ctx, kwokNodes(nodes)...)
			},
		})
		stopProfile()
		<-profDone
		if err != nil {
			b.Fatal(err)
		}
		if err := bench.WriteJSON(os.Stdout, res); err != nil {
			b.Fatal(err)
		}
		if err := bench.WriteTable(os.Stdout, res); err != nil {
			b.Fatal(err)
		}
		b.Logf("load average before the run: %s; after: %s", load, loadAverage())
		b.Logf("CPU time of the run (setup included): %s", cpuDelta(cpu0, cpuTimes()))
		if req1, err := apiRequests(ctx, c); err == nil {
			b.Logf("skiff.dev requests to the API server: %s", requestDelta(req0, req1, res.Detail.Workloads))
		}
		b.ReportMetric(float64(res.WallMs)/1000, "wall-s")
		for class, u := range res.MinUsagePercent {
			b.ReportMetric(u, "usage-%-"+class)
		}
	}
}

// kwokNodes turns the scenario's nodes into fake nodes of the same labels
// and capacity.
func kwokNodes(nodes []*v1alpha1.Node) []kubetest.Node {
	out := make([]kubetest.Node, 0, len(nodes))
	for _, n := range nodes {
		kn := kubetest.Node{Name: n.Name, Labels: n.Labels}
		if q := n.Spec.Capacity.CPU; q != nil {
			kn.CPU = q.String()
		}
		if q := n.Spec.Capacity.Memory; q != nil {
			kn.Memory = q.String()
		}
		if q := n.Spec.Capacity.GPU; q != nil {
			kn.GPUs = int(q.Value())
		}
		out = append(out, kn)
	}
	return out
}

// profileRequest reads profileEnv and profileWindowEnv.
func profileRequest() (file string, from, length time.Duration, err error) {
	file = os.Getenv(profileEnv)
	window := os.Getenv(profileWindowEnv)
	if window == "" {
		window = "30s+30s"
	}
	a, l, ok := strings.Cut(window, "+")
	if ok {
		if from, err = time.ParseDuration(a); err == nil {
			length, err = time.ParseDuration(l)
		}
	}
	if !ok || err != nil || from < 0 || length < time.Second {
		return "", 0, 0, fmt.Errorf("%s=%q: want START+LENGTH, e.g. 45s+30s (LENGTH at least 1s)", profileWindowEnv, window)
	}
	return file, from, length, nil
}

// profileAPIServer writes a CPU profile of kube-apiserver over
// [from, from+length) of the run to file.
func profileAPIServer(ctx context.Context, b *testing.B, c *kubetest.Cluster, file string, from, length time.Duration) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(from):
	}
	prof, err := c.APIServerProfile(ctx, length)
	if err == nil {
		err = os.WriteFile(file, prof, 0o644)
	}
	if err != nil {
		b.Logf("kube-apiserver profile: %v", err)
		return
	}
	b.Logf("kube-apiserver CPU profile of %s from %s into the run: %s", length, from, file)
}
