package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/client"
	"skiff.dev/skiff/internal/runtime/simulated"
	"skiff.dev/skiff/internal/server"
)

// Options configure a scheduler benchmark run.
type Options struct {
	Scenario *Scenario
	// DataDir holds the server's store; empty means a temporary directory
	// that is removed afterwards. It must not be in use by another server.
	DataDir string
	// Timeout bounds the run from the first submission (default 30m).
	Timeout time.Duration
	// Log receives the server's log (default: warnings to stderr).
	Log *slog.Logger
	// Progress, when set, gets a status line every ProgressEvery (default 10s).
	Progress      io.Writer
	ProgressEvery time.Duration
	// Version is reported by the embedded server.
	Version string

	// Serve, when set, runs the control plane the benchmark drives instead
	// of an embedded server in DataDir: it must block like server.Run
	// (which it usually calls, e.g. with opts.Cluster set for Kubernetes
	// mode), pass opts on (the simulated runtime, the log, OnReady) and
	// return once ctx ends. DataDir is then not used.
	Serve func(ctx context.Context, opts server.Options) error
	// AddNodes, when set, provides the scenario's nodes instead of
	// creating Node objects through the API (Kubernetes mode: fake nodes
	// that the node inventory mirrors). The benchmark then waits until the
	// API lists every one of them.
	AddNodes func(ctx context.Context, nodes []*v1alpha1.Node) error
}

// Result is what `skiff bench scheduler -o json` prints.
type Result struct {
	WallMs               int64              `json:"wallMs"`
	AvgTimeToAdmissionMs map[string]int64   `json:"avgTimeToAdmissionMs"`
	MinUsagePercent      map[string]float64 `json:"minUsagePercent"`
	// ClassUsagePercent is the usage of a queue class as Kueue's checker
	// computes it: the class's summed usage integrals over its summed
	// nominal quota times the wall time.
	ClassUsagePercent map[string]float64 `json:"classUsagePercent"`
	// Detail is shown by the table output only.
	Detail Detail `json:"-"`
}

// Detail are the numbers behind a Result.
type Detail struct {
	Workloads    int
	Queues       int
	Classes      map[string]*ClassStats
	QueueClasses map[string]*QueueClassStats
	Evictions    int
	WatchRelists int
	// JobWrites is how many job changes the watch delivered (per job:
	// JobWrites / Workloads).
	JobWrites      int
	SubmitLagMaxMs int64
	Warnings       []string
	// Ideal is set on a result of RunIdeal, a replay in virtual time.
	Ideal *IdealDetail
	// Timeline is the run second by second.
	Timeline *Timeline
}

// RunScheduler runs the scenario through a real embedded server and
// measures it.
func RunScheduler(ctx context.Context, opts Options) (*Result, error) {
	if opts.Scenario == nil {
		return nil, errors.New("no scenario: pass --scenario FILE")
	}
	setup, err := Build(opts.Scenario)
	if err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Minute
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 10 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	serve := opts.Serve
	if serve == nil {
		dataDir := opts.DataDir
		if dataDir == "" {
			dataDir, err = os.MkdirTemp("", "skiff-bench-")
			if err != nil {
				return nil, fmt.Errorf("creating a data directory: %w", err)
			}
			defer os.RemoveAll(dataDir)
		}
		serve = func(ctx context.Context, so server.Options) error {
			return server.Run(ctx, server.Config{DataDir: dataDir, Listen: "127.0.0.1:0", GatewayListen: "127.0.0.1:0", NodeName: "bench-server", StopGraceSeconds: 1}, so)
		}
	}

	srvCtx, stopServer := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServer()
	type ready struct{ url, tokenPath string }
	readyCh := make(chan ready, 1)
	srvDone := make(chan error, 1)
	go func() {
		srvDone <- serve(srvCtx, server.Options{
			Version: opts.Version, Log: opts.Log, Runtime: simulated.New(simulated.Options{}),
			OnReady: func(url, tokenPath string) { readyCh <- ready{url, tokenPath} },
		})
	}()
	var rd ready
	select {
	case rd = <-readyCh:
	case err := <-srvDone:
		return nil, fmt.Errorf("starting the server: %w", err)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() {
		stopServer()
		<-srvDone
	}()
	token, err := os.ReadFile(rd.tokenPath)
	if err != nil {
		return nil, fmt.Errorf("reading the admin token: %w", err)
	}
	// Many submitters share one host: keep their connections alive instead
	// of redialling the loopback for every request.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 512, 512
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	c := client.New(rd.url, strings.TrimSpace(string(token)), client.WithHTTPClient(&http.Client{Transport: tr}))

	if err := createSetup(ctx, c, setup, opts.AddNodes); err != nil {
		return nil, err
	}
	rec := newRecorder(setup)
	var jobs v1alpha1.JobList
	if err := c.List(ctx, &jobs, client.ListOptions{}); err != nil {
		return nil, fmt.Errorf("listing jobs before the run: %w", err)
	}
	runCtx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	w := &watcher{c: c, rec: rec, rv: jobs.ResourceVersion}
	watchErr := make(chan error, 1)
	go func() { watchErr <- w.run(runCtx) }()

	t0 := time.Now()
	rec.start(t0)
	sub := &submitter{c: c, rec: rec, t0: t0}
	subErr := make(chan error, 1)
	go func() { subErr <- sub.run(runCtx, setup) }()

	tick := time.NewTicker(opts.ProgressEvery)
	defer tick.Stop()
	var runErr error
wait:
	for {
		select {
		case <-rec.done:
			break wait
		case err := <-subErr:
			if err != nil {
				runErr = err
				break wait
			}
		case err := <-watchErr:
			runErr = fmt.Errorf("watching jobs: %w", err)
			break wait
		case <-tick.C:
			if opts.Progress != nil {
				fmt.Fprintf(opts.Progress, "%6.1fs  %s\n", time.Since(t0).Seconds(), rec.progress())
			}
		case <-runCtx.Done():
			if ctx.Err() != nil {
				runErr = ctx.Err()
			} else {
				runErr = fmt.Errorf("the run did not finish within --timeout %s: %s", opts.Timeout, rec.progress())
			}
			break wait
		}
	}
	cancel()
	if runErr != nil {
		return nil, runErr
	}
	rec.mu.Lock()
	end, failures := rec.lastFinish, rec.failures
	rec.mu.Unlock()
	if len(failures) > 0 {
		return nil, fmt.Errorf("%d jobs failed, so the run measures nothing useful; first: %s", len(failures), failures[0])
	}
	res := newResult(setup, rec, t0, end)
	res.Detail.WatchRelists = w.relists
	res.Detail.SubmitLagMaxMs = sub.maxLag().Milliseconds()
	return res, nil
}

// newResult turns what rec recorded between t0 and end into a Result: the
// one computation behind live runs and ideal replays.
func newResult(setup *Setup, rec *recorder, t0, end time.Time) *Result {
	classes, qclasses := rec.summary(t0, end)
	nominal := 0.0
	for _, q := range setup.Queues {
		nominal += q.Nominal
	}
	rec.mu.Lock()
	evictions, events := rec.evictions, rec.events
	timeline := rec.tl.timeline(end, nominal)
	rec.mu.Unlock()
	res := &Result{
		WallMs:               end.Sub(t0).Milliseconds(),
		AvgTimeToAdmissionMs: map[string]int64{},
		MinUsagePercent:      map[string]float64{},
		ClassUsagePercent:    map[string]float64{},
		Detail: Detail{Workloads: setup.Total, Queues: len(setup.Queues), Classes: classes, QueueClasses: qclasses,
			Evictions: evictions, JobWrites: events, Warnings: setup.Warnings, Timeline: timeline},
	}
	for name, cs := range classes {
		res.AvgTimeToAdmissionMs[name] = cs.AvgTimeToAdmissionMs
	}
	for name, qs := range qclasses {
		res.MinUsagePercent[name] = float64(int64(qs.MinUsagePercent*10+0.5)) / 10
		res.ClassUsagePercent[name] = float64(int64(qs.ClassUsagePercent*10+0.5)) / 10
	}
	return res
}

// createSetup creates the flavor, nodes and queues through the API, or
// has addNodes provide the nodes and waits until the API lists them.
func createSetup(ctx context.Context, c *client.Client, s *Setup, addNodes func(context.Context, []*v1alpha1.Node) error) error {
	objs := []v1alpha1.Object{s.Flavor}
	if addNodes == nil {
		for _, n := range s.Nodes {
			objs = append(objs, n)
		}
	} else {
		if err := addNodes(ctx, s.Nodes); err != nil {
			return fmt.Errorf("adding the scenario's %d nodes: %w", len(s.Nodes), err)
		}
		if err := waitForNodes(ctx, c, s.Nodes); err != nil {
			return err
		}
	}
	for _, q := range s.Queues {
		objs = append(objs, q.Queue)
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %s %s: %w", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), err)
		}
	}
	return nil
}

// nodesWait bounds how long provided nodes may take to appear in the API.
const nodesWait = 2 * time.Minute

// waitForNodes polls the API until it lists every node of want as
// schedulable.
func waitForNodes(ctx context.Context, c *client.Client, want []*v1alpha1.Node) error {
	ctx, cancel := context.WithTimeout(ctx, nodesWait)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	missing := fmt.Sprintf("none of the %d nodes listed yet", len(want))
	for {
		var list v1alpha1.NodeList
		err := c.List(ctx, &list, client.ListOptions{})
		if err == nil {
			if missing = nodesMissing(want, list.Items); missing == "" {
				return nil
			}
		} else if ctx.Err() == nil {
			return fmt.Errorf("listing nodes while waiting for the scenario's: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the scenario's %d nodes were not all schedulable in the API within %s (%s): %w", len(want), nodesWait, missing, ctx.Err())
		case <-tick.C:
		}
	}
}

// nodesMissing says which of want the API does not list as schedulable
// ("" when it lists all), naming the first.
func nodesMissing(want []*v1alpha1.Node, have []v1alpha1.Node) string {
	byName := make(map[string]*v1alpha1.Node, len(have))
	for i := range have {
		byName[have[i].Name] = &have[i]
	}
	n, first := 0, ""
	for _, w := range want {
		got := byName[w.Name]
		why := ""
		switch {
		case got == nil:
			why = "not listed"
		case got.Spec.Unschedulable:
			why = "unschedulable"
		}
		if why == "" {
			continue
		}
		if n == 0 {
			first = w.Name + " " + why
		}
		n++
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d not ready, first %s", n, first)
}

// submitter creates the workloads on the scenario's schedule: each stream
// (a workloads set of a queue) runs in its own goroutine, and its n-th job
// is due at t0 + n×interval (n from 1), on an absolute schedule so that
// slow requests do not stretch it.
type submitter struct {
	c   *client.Client
	rec *recorder
	t0  time.Time

	mu  sync.Mutex
	lag time.Duration
}

func (s *submitter) maxLag() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lag
}

func (s *submitter) run(ctx context.Context, setup *Setup) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, q := range setup.Queues {
		for _, st := range q.Streams {
			wg.Add(1)
			go func(q *QueueSetup, st Stream) {
				defer wg.Done()
				if err := s.stream(ctx, q, st); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}(q, st)
		}
	}
	wg.Wait()
	return first
}

func (s *submitter) stream(ctx context.Context, q *QueueSetup, st Stream) error {
	n := 0
	for round := 0; round < st.Rounds; round++ {
		for _, jt := range st.Jobs {
			n++
			due := s.t0.Add(time.Duration(n) * st.Interval)
			if d := time.Until(due); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-t.C:
				}
			} else if ctx.Err() != nil {
				return nil
			}
			job := newBenchJob(q, st, round, jt)
			key := job.Namespace + "/" + job.Name
			now := time.Now()
			s.noteLag(now.Sub(due))
			s.rec.submit(key, jt, q.Queue.Name, now)
			if err := s.c.Create(ctx, job); err != nil {
				s.rec.forget(key)
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("submitting job %s: %w", key, err)
			}
		}
	}
	return nil
}

// newBenchJob is the job a stream submits for template jt in round:
// named after them, in the queue's namespace, labelled with its class.
func newBenchJob(q *QueueSetup, st Stream, round int, jt JobTemplate) *v1alpha1.Job {
	job := &v1alpha1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: workloadName(jt.Class, st.SetIndex, round, jt.Index), Namespace: q.Queue.Name,
			Labels: map[string]string{ClassLabel: jt.Class}},
		Spec: *jt.Spec.DeepCopy(),
	}
	v1alpha1.SetTypeMeta(job)
	return job
}

func (s *submitter) noteLag(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d > s.lag {
		s.lag = d
	}
}

// watcher feeds every job change to the recorder, stamped with the time it
// arrived. When the server expires the watch (the benchmark fell behind
// the store's history) it lists the jobs again and carries on.
type watcher struct {
	c       *client.Client
	rec     *recorder
	rv      string
	relists int
}

func (w *watcher) run(ctx context.Context) error {
	for ctx.Err() == nil {
		wi, err := w.c.Watch(ctx, kindJob(), client.ListOptions{ResourceVersion: w.rv})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				if err := w.relist(ctx); err != nil {
					return err
				}
				continue
			}
			return err
		}
		expired, err := w.consume(ctx, wi)
		wi.Stop()
		if err != nil {
			return err
		}
		if expired {
			if err := w.relist(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *watcher) consume(ctx context.Context, wi watch.Interface) (expired bool, err error) {
	for ev := range wi.ResultChan() {
		now := time.Now()
		switch ev.Type {
		case watch.Error:
			st, _ := ev.Object.(*metav1.Status)
			if st != nil && (st.Code == http.StatusGone || st.Reason == metav1.StatusReasonExpired || st.Reason == metav1.StatusReasonGone) {
				return true, nil
			}
			if ctx.Err() != nil {
				return false, nil
			}
			msg := "unknown error"
			if st != nil {
				msg = st.Message
			}
			return false, errors.New(msg)
		case watch.Added, watch.Modified, watch.Deleted:
			job, ok := ev.Object.(*v1alpha1.Job)
			if !ok {
				continue
			}
			w.rv = job.ResourceVersion
			if ev.Type != watch.Deleted {
				w.rec.observe(job, now)
			}
		}
	}
	return false, nil
}

func (w *watcher) relist(ctx context.Context) error {
	w.relists++
	var jobs v1alpha1.JobList
	if err := w.c.List(ctx, &jobs, client.ListOptions{}); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("listing jobs after the watch expired: %w", err)
	}
	now := time.Now()
	for i := range jobs.Items {
		w.rec.observe(&jobs.Items[i], now)
	}
	w.rv = jobs.ResourceVersion
	return nil
}

func kindJob() v1alpha1.Kind {
	k, ok := v1alpha1.LookupKind("Job")
	if !ok {
		panic("the Job kind is not registered")
	}
	return k
}

// DataDirInUse reports whether dir already holds a skiff store, so the CLI
// can refuse to benchmark over someone's data.
func DataDirInUse(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "skiff.db"))
	return err == nil
}
