package kubebench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

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
	docs, err := crds.Documents()
	if err != nil {
		tb.Fatal(err)
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

// serve starts the node inventory (calling synced, when set, once every
// node is in Skiff's store), then runs the server over the cluster until
// ctx ends.
func (p *controlPlane) serve(ctx context.Context, dataDir string, opts server.Options, synced func()) error {
	if err := p.syncer.Start(ctx); err != nil {
		return err
	}
	if synced != nil {
		synced()
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

// cpuTimes is the CPU time (user+system) of this process and of each child
// process (etcd, kube-apiserver, kwok, ...), by command name, from /proc:
// where a run's CPU went.
func cpuTimes() map[string]time.Duration {
	out := map[string]time.Duration{}
	if name, d, ok := procCPU("self"); ok {
		out["skiff+bench ("+name+")"] = d
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	for _, f := range tasks {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, pid := range strings.Fields(string(raw)) {
			if name, d, ok := procCPU(pid); ok {
				out[name] += d
			}
		}
	}
	return out
}

// procCPU reads utime+stime of /proc/pid/stat.
func procCPU(pid string) (string, time.Duration, bool) {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "", 0, false
	}
	s := string(raw)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return "", 0, false
	}
	fields := strings.Fields(s[closing+1:])
	// After the name: state is field 3 of stat; utime and stime are 14, 15.
	if len(fields) < 13 {
		return "", 0, false
	}
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)
	st, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, false
	}
	const ticks = 100 // USER_HZ on Linux
	return s[open+1 : closing], time.Duration(ut+st) * time.Second / ticks, true
}

// cpuDelta formats after-before per process, largest first.
func cpuDelta(before, after map[string]time.Duration) string {
	type row struct {
		name string
		d    time.Duration
	}
	var rows []row
	for name, d := range after {
		rows = append(rows, row{name, d - before[name]})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].d > rows[j].d })
	var b strings.Builder
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %.1fs", r.name, r.d.Seconds())
	}
	return b.String()
}

// apiRequests reads the API server's apiserver_request_total for the
// skiff.dev group, summed by "VERB resource[/subresource]", with " (CODE)"
// added for those answered with an error: how many requests Skiff made of
// each kind, and how many were refused.
func apiRequests(ctx context.Context, c *kubetest.Cluster) (map[string]int, error) {
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return nil, err
	}
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the API server's metrics: %w", err)
	}
	out := map[string]int{}
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "apiserver_request_total{") || !strings.Contains(line, `group="skiff.dev"`) {
			continue
		}
		labels, value, ok := strings.Cut(line[len("apiserver_request_total{"):], "} ")
		if !ok {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		l := map[string]string{}
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			l[k] = strings.Trim(v, `"`)
		}
		key := l["verb"] + " " + l["resource"]
		if l["subresource"] != "" {
			key += "/" + l["subresource"]
		}
		if code := l["code"]; code != "" && !strings.HasPrefix(code, "2") {
			key += " (" + code + ")" // refused: 409 a conflict, 404 not found, 429 throttled
		}
		out[key] += int(n)
	}
	return out, nil
}

// requestDelta formats after-before per request kind, largest first, with
// the total and the count per workload.
func requestDelta(before, after map[string]int, workloads int) string {
	type row struct {
		key string
		n   int
	}
	var rows []row
	total := 0
	for k, n := range after {
		if d := n - before[k]; d > 0 {
			rows = append(rows, row{k, d})
			total += d
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].n > rows[j].n })
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests (%.1f per workload):", total, float64(total)/float64(max(workloads, 1)))
	for _, r := range rows {
		fmt.Fprintf(&b, " %s %d,", r.key, r.n)
	}
	return strings.TrimSuffix(b.String(), ",")
}
