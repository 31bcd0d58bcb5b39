package kubebench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"k8s.io/client-go/kubernetes"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/deploy/crds"
	"skiff.dev/skiff/internal/inventory"
	"skiff.dev/skiff/internal/kubetest"
	"skiff.dev/skiff/internal/operator"
	"skiff.dev/skiff/internal/server"
	kubestore "skiff.dev/skiff/internal/store/kube"
)

// controlPlane is Skiff in Kubernetes mode, in this process: what the
// operator's leader runs (kube store, node inventory, server.Run with
// Cluster options), with the runtime the caller passes in server.Options
// (the benchmarks use the simulated one: no pods, as Kueue's runs have no
// kubelets) instead of the pod runtime.
type controlPlane struct {
	cluster *kubetest.Cluster
	store   *kubestore.Store
	// Syncer mirrors the cluster's nodes into Skiff Nodes; it runs from
	// the first serve on.
	syncer *inventory.Syncer
}

// newControlPlane installs the CRDs on c and connects a kube store.
func newControlPlane(ctx context.Context, tb testing.TB, c *kubetest.Cluster) *controlPlane {
	tb.Helper()
	files, names, err := crds.Manifests()
	if err != nil {
		tb.Fatal(err)
	}
	docs := make([][]byte, 0, len(names))
	for _, n := range names {
		docs = append(docs, files[n])
	}
	if err := kubestore.InstallCRDs(ctx, c.Config, docs); err != nil {
		tb.Fatal(err)
	}
	st, err := kubestore.New(ctx, c.Config)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		tb.Fatal(err)
	}
	return &controlPlane{cluster: c, store: st, syncer: &inventory.Syncer{Client: cs.CoreV1(), Store: st, Log: benchLog()}}
}

// serve has the shape of bench.Options.Serve: it starts the node
// inventory, then runs the server over the cluster until ctx ends.
func (p *controlPlane) serve(ctx context.Context, dataDir string, opts server.Options) error {
	if err := p.syncer.Start(ctx); err != nil {
		return err
	}
	cpu, mem, gpus, model := inventory.Totals(p.syncer.Nodes())
	opts.Cluster = &server.Cluster{
		Store:          p.store,
		Totals:         server.Machine{Name: "cluster", CPUMilli: cpu, MemoryBytes: mem, GPUs: make([]v1alpha1.GPUDevice, gpus), GPUModel: model},
		PeerAddress:    operator.PeerAddress,
		RendezvousPort: 29500,
	}
	return server.Run(ctx, server.Config{DataDir: dataDir, Listen: "127.0.0.1:0", GatewayListen: "127.0.0.1:0", StopGraceSeconds: 1}, opts)
}

// benchLog is the servers' log: warnings to stderr, or what
// SKIFF_BENCH_LOG=debug|info asks for.
func benchLog() *slog.Logger {
	level := slog.LevelWarn
	switch os.Getenv("SKIFF_BENCH_LOG") {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// loadAverage is /proc/loadavg's first three fields, for the report: the
// machine is shared and the numbers depend on what else runs.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	var a, b, c string
	if _, err := fmt.Sscan(string(raw), &a, &b, &c); err != nil {
		return "unknown"
	}
	return a + " " + b + " " + c
}
