package kubebench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/client"
	"skiff.dev/skiff/internal/kubetest"
	"skiff.dev/skiff/internal/runtime/simulated"
	"skiff.dev/skiff/internal/server"
)

// The pending load of BenchmarkOperator1000Nodes: 16 queues in 4 cohorts,
// each with a nominal quota of 500 GPUs (8,000 in all, the cluster's), and
// jobsPerQueue jobs per queue of 1 to 32 GPUs (gangs of 8-GPU replicas
// want one rack), about twice what the cluster holds.
const (
	opQueues      = 16
	opCohortSize  = 4
	opJobsPerQ    = 250
	opQueueGPUs   = nodes * 8 / opQueues
	opSettleAfter = 20 * time.Second // after the last submission, before the measured window
	opWindow      = 60 * time.Second // the measured window of scheduling cycles
)

// OperatorResult is what BenchmarkOperator1000Nodes prints.
type OperatorResult struct {
	Nodes int `json:"nodes"`
	GPUs  int `json:"gpus"`
	Jobs  int `json:"jobs"`
	// InventorySyncMs: the node inventory's start (list of 1,000 nodes,
	// one Node written per node) until every node is in Skiff's store.
	InventorySyncMs int64 `json:"inventorySyncMs"`
	// SubmitMs: creating every job through Skiff's API.
	SubmitMs int64 `json:"submitMs"`
	Admitted int   `json:"admitted"`
	Pending  int   `json:"pending"`
	// Cycles over the measured window, from skiff_scheduler_cycle_duration_seconds.
	Cycles          int     `json:"cycles"`
	CycleMeanMs     float64 `json:"cycleMeanMs"`
	CycleP50UpperMs float64 `json:"cycleP50UpperBoundMs"`
	CycleP99UpperMs float64 `json:"cycleP99UpperBoundMs"`
	// Memory of this process, which runs the control plane (and the
	// benchmark's small client side): peak and current resident set from
	// /proc/self/status, Go heap in use from runtime.MemStats.
	PeakRSSMiB   float64 `json:"peakRssMiB"`
	RSSMiB       float64 `json:"rssMiB"`
	HeapInUseMiB float64 `json:"heapInUseMiB"`
	LoadAverage  string  `json:"loadAverage"`
}

// BenchmarkOperator1000Nodes runs Skiff's control plane in Kubernetes mode
// (kube store, node inventory, server.Run with Cluster options, as the
// operator's leader does; replicas in the simulated runtime, no pods) over
// 1,000 kwok nodes of 8 GPUs in racks of 32 and blocks of 256, submits
// 4,000 jobs across 16 queues, about twice what fits, and reports the
// inventory's sync time, the scheduling cycle time with the cluster full
// and thousands of jobs pending, and the control plane's memory.
//
//	SKIFF_KUBE_TEST=1 go test -run '^$' -bench Operator1000Nodes -benchtime 1x -timeout 30m ./bench/kube/
func BenchmarkOperator1000Nodes(b *testing.B) {
	c := kubetest.Start(b, kubetest.Options{Kwok: true, ControllerManager: true})
	ctx := context.Background()
	addNodes(ctx, b, c, "node")
	p := newControlPlane(ctx, b, c)
	b.ResetTimer()
	for range b.N {
		res := runOperator(ctx, b, p)
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.CycleMeanMs, "cycle-ms")
		b.ReportMetric(res.PeakRSSMiB, "peak-rss-MiB")
		b.ReportMetric(float64(res.InventorySyncMs)/1000, "inventory-sync-s")
	}
}

func runOperator(ctx context.Context, b *testing.B, p *controlPlane) *OperatorResult {
	res := &OperatorResult{Nodes: nodes, GPUs: nodes * 8, LoadAverage: loadAverage()}
	srvCtx, stop := context.WithCancel(ctx)
	type ready struct{ url, tokenPath string }
	readyCh := make(chan ready, 1)
	done := make(chan error, 1)
	dataDir := b.TempDir()
	go func() {
		began := time.Now()
		done <- p.serve(srvCtx, dataDir, server.Options{
			Log: benchLog(), Runtime: simulated.New(simulated.Options{}),
			OnReady: func(url, tokenPath string) { readyCh <- ready{url, tokenPath} },
		}, func() { res.InventorySyncMs = time.Since(began).Milliseconds() })
	}()
	var rd ready
	select {
	case rd = <-readyCh:
	case err := <-done:
		stop()
		b.Fatalf("the control plane did not start: %v", err)
	}
	defer func() {
		stop()
		if err := <-done; err != nil {
			b.Errorf("the control plane: %v", err)
		}
	}()
	token, err := os.ReadFile(rd.tokenPath)
	if err != nil {
		b.Fatal(err)
	}
	tok := strings.TrimSpace(string(token))
	cl := client.New(rd.url, tok)
	var listed v1alpha1.NodeList
	if err := cl.List(ctx, &listed, client.ListOptions{}); err != nil {
		b.Fatal(err)
	}
	if len(listed.Items) < nodes {
		b.Fatalf("the inventory synced %d nodes, want %d", len(listed.Items), nodes)
	}

	if err := createQueues(ctx, cl); err != nil {
		b.Fatal(err)
	}
	began := time.Now()
	jobs := opJobs()
	if err := submitAll(ctx, cl, jobs, 16); err != nil {
		b.Fatal(err)
	}
	res.Jobs = len(jobs)
	res.SubmitMs = time.Since(began).Milliseconds()

	time.Sleep(opSettleAfter)
	before, err := cycleHistogram(ctx, rd.url, tok)
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(opWindow)
	after, err := cycleHistogram(ctx, rd.url, tok)
	if err != nil {
		b.Fatal(err)
	}
	w := after.minus(before)
	res.Cycles = int(w.count)
	if w.count > 0 {
		res.CycleMeanMs = round1(w.sum / w.count * 1000)
		res.CycleP50UpperMs = w.quantileUpper(0.5) * 1000
		res.CycleP99UpperMs = w.quantileUpper(0.99) * 1000
	}
	var list v1alpha1.JobList
	if err := cl.List(ctx, &list, client.ListOptions{}); err != nil {
		b.Fatal(err)
	}
	for _, j := range list.Items {
		if j.Status.Admission != nil {
			res.Admitted++
		} else {
			res.Pending++
		}
	}
	res.PeakRSSMiB, res.RSSMiB = procStatusMiB("VmHWM"), procStatusMiB("VmRSS")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapInUseMiB = round1(float64(ms.HeapInuse) / (1 << 20))
	return res
}

func createQueues(ctx context.Context, cl *client.Client) error {
	fl := &v1alpha1.Flavor{ObjectMeta: metav1.ObjectMeta{Name: "h100"},
		Spec: v1alpha1.FlavorSpec{TopologyLevels: []string{"topology.skiff.dev/block", "topology.skiff.dev/rack", "kubernetes.io/hostname"}}}
	v1alpha1.SetTypeMeta(fl)
	if err := cl.Create(ctx, fl); err != nil {
		return fmt.Errorf("creating the flavor: %w", err)
	}
	borrow := resource.MustParse(strconv.Itoa(opQueueGPUs))
	for i := range opQueues {
		q := &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("team-%02d", i)},
			Spec: v1alpha1.QueueSpec{
				Namespaces: []string{fmt.Sprintf("team-%02d", i)}, Cohort: fmt.Sprintf("cohort-%d", i/opCohortSize),
				QueueingStrategy: v1alpha1.BestEffortFIFO,
				Preemption:       &v1alpha1.QueuePreemption{WithinQueue: v1alpha1.PreemptLowerPriority, ReclaimWithinCohort: v1alpha1.PreemptAny},
				Flavors: []v1alpha1.FlavorQuota{{Name: "h100", Resources: []v1alpha1.ResourceQuota{
					{Name: v1alpha1.ResourceGPU, NominalQuota: resource.MustParse(strconv.Itoa(opQueueGPUs)), BorrowingLimit: &borrow},
					{Name: v1alpha1.ResourceCPU, NominalQuota: resource.MustParse(strconv.Itoa(opQueueGPUs * 4))},
				}}},
			}}
		v1alpha1.SetTypeMeta(q)
		if err := cl.Create(ctx, q); err != nil {
			return fmt.Errorf("creating queue %s: %w", q.Name, err)
		}
	}
	return nil
}

// opJobs is the pending load: per queue, a repeating mix of 1-, 2- and
// 4-GPU single replicas, 8-GPU hosts, and gangs of 2 and 4 8-GPU replicas
// that require one rack; three priorities. Replicas run until stopped.
func opJobs() []*v1alpha1.Job {
	type shape struct {
		replicas int32
		gpus     int64
		rack     bool
	}
	shapes := []shape{{1, 1, false}, {1, 1, false}, {1, 2, false}, {1, 4, false}, {1, 8, false}, {2, 8, true}, {4, 8, true}, {1, 2, false}}
	var out []*v1alpha1.Job
	for q := range opQueues {
		for i := range opJobsPerQ {
			s := shapes[(i+q)%len(shapes)]
			j := &v1alpha1.Job{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("job-%04d", i), Namespace: fmt.Sprintf("team-%02d", q)},
				Spec: v1alpha1.JobSpec{
					Queue: fmt.Sprintf("team-%02d", q), Priority: int32(i % 3 * 100),
					ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: s.replicas, Template: v1alpha1.ReplicaTemplate{
						Command:   []string{"train"},
						Resources: v1alpha1.Resources{GPU: resource.NewQuantity(s.gpus, resource.DecimalSI), CPU: resource.NewQuantity(s.gpus*4, resource.DecimalSI)},
					}}},
				},
			}
			if s.rack {
				j.Spec.Topology = &v1alpha1.TopologyRequest{Required: "topology.skiff.dev/rack"}
			}
			v1alpha1.SetTypeMeta(j)
			out = append(out, j)
		}
	}
	return out
}

// submitAll creates jobs on workers goroutines.
func submitAll(ctx context.Context, cl *client.Client, jobs []*v1alpha1.Job, workers int) error {
	ch := make(chan *v1alpha1.Job)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range ch {
				if err := cl.Create(ctx, j); err != nil {
					errs <- fmt.Errorf("creating job %s/%s: %w", j.Namespace, j.Name, err)
					return
				}
			}
		})
	}
	var err error
feed:
	for _, j := range jobs {
		select {
		case ch <- j:
		case err = <-errs:
			break feed
		}
	}
	close(ch)
	wg.Wait()
	if err != nil {
		return err
	}
	select {
	case err = <-errs:
		return err
	default:
		return nil
	}
}

// histogram is skiff_scheduler_cycle_duration_seconds as scraped.
type histogram struct {
	sum, count float64
	buckets    []bucket // cumulative, by upper bound
}

type bucket struct {
	le, count float64
}

func (h histogram) minus(o histogram) histogram {
	out := histogram{sum: h.sum - o.sum, count: h.count - o.count}
	for i, b := range h.buckets {
		c := b.count
		if i < len(o.buckets) {
			c -= o.buckets[i].count
		}
		out.buckets = append(out.buckets, bucket{le: b.le, count: c})
	}
	return out
}

// quantileUpper is the upper bound of the bucket holding quantile q.
func (h histogram) quantileUpper(q float64) float64 {
	for _, b := range h.buckets {
		if b.count >= q*h.count {
			return b.le
		}
	}
	return math.Inf(1)
}

// cycleHistogram scrapes the server's /metrics with the admin token.
func cycleHistogram(ctx context.Context, url, token string) (histogram, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+server.MetricsPath, nil)
	if err != nil {
		return histogram{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return histogram{}, fmt.Errorf("scraping %s: %w", server.MetricsPath, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return histogram{}, fmt.Errorf("scraping %s: status %d, %v", server.MetricsPath, resp.StatusCode, err)
	}
	const name = "skiff_scheduler_cycle_duration_seconds"
	var h histogram
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(line, name+"_sum"):
			h.sum = v
		case strings.HasPrefix(line, name+"_count"):
			h.count = v
		case strings.HasPrefix(line, name+`_bucket{le="`):
			le := strings.TrimSuffix(strings.TrimPrefix(line[:i], name+`_bucket{le="`), `"}`)
			bound, err := strconv.ParseFloat(le, 64)
			if le == "+Inf" {
				bound, err = math.Inf(1), nil
			}
			if err == nil {
				h.buckets = append(h.buckets, bucket{le: bound, count: v})
			}
		}
	}
	if h.buckets == nil {
		return h, fmt.Errorf("%s has no %s", server.MetricsPath, name)
	}
	return h, nil
}

// procStatusMiB reads a kB field of /proc/self/status, in MiB.
func procStatusMiB(field string) float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err == nil {
				return round1(kb / 1024)
			}
		}
	}
	return 0
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
