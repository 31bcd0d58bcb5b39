package server

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
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/controller"
	"skiff.dev/skiff/internal/experiment"
	"skiff.dev/skiff/internal/metrics"
	"skiff.dev/skiff/internal/monitoring"
	"skiff.dev/skiff/internal/reqlog"
	"skiff.dev/skiff/internal/runtime"
	"skiff.dev/skiff/internal/runtime/local"
	"skiff.dev/skiff/internal/store"
	"skiff.dev/skiff/internal/tracing"
	"skiff.dev/skiff/internal/ui"
	"skiff.dev/skiff/internal/watchcache"
)

// Config is everything `skiff up` can be told, by flags or a config file.
type Config struct {
	DataDir  string `json:"dataDir,omitempty"`
	Listen   string `json:"listen,omitempty"`
	GPUs     int    `json:"gpus,omitempty"`
	GPUModel string `json:"gpuModel,omitempty"`
	// NodeName overrides the node name derived from the host name.
	NodeName string `json:"nodeName,omitempty"`
	// StopGraceSeconds is how long replicas get between SIGTERM and SIGKILL.
	StopGraceSeconds int `json:"stopGraceSeconds,omitempty"`
	// BackoffBaseSeconds is the delay before a job's first restart.
	BackoffBaseSeconds float64 `json:"backoffBaseSeconds,omitempty"`
	// ElasticGrowAfterSeconds is how long an elastic job admitted below
	// its full size runs before it may be restarted larger (default 10).
	ElasticGrowAfterSeconds float64 `json:"elasticGrowAfterSeconds,omitempty"`
	// OTLPEndpoint turns on trace export over OTLP/HTTP (e.g.
	// http://127.0.0.1:4318); empty falls back to OTEL_EXPORTER_OTLP_ENDPOINT,
	// and with neither nothing is sent.
	OTLPEndpoint string `json:"otlpEndpoint,omitempty"`
	// GPUSampleSeconds is how often GPU telemetry is read (default 10).
	GPUSampleSeconds float64 `json:"gpuSampleSeconds,omitempty"`
	// GatewayListen is the OpenAI-compatible gateway's address.
	GatewayListen string `json:"gatewayListen,omitempty"`
	// GatewayMaxBodyBytes refuses larger request bodies with 413.
	GatewayMaxBodyBytes int64 `json:"gatewayMaxBodyBytes,omitempty"`
}

// DefaultListen is loopback only: reaching the API from elsewhere is a
// deliberate choice made with --listen.
const DefaultListen = "127.0.0.1:7400"

// Options are the parts of a server that come from the binary, not the user.
type Options struct {
	Version string
	// ShimCommand re-executes the binary as a replica supervisor.
	ShimCommand []string
	// Out receives the start-up banner.
	Out io.Writer
	Log *slog.Logger
	// OnReady is called with the API URL once the server accepts requests.
	OnReady func(url, tokenPath string)
	// Runtime, when set, runs replicas instead of the local process runtime
	// (`skiff bench` passes a simulated one); Run still shuts it down.
	Runtime runtime.Runtime
	// Cluster, when set, runs the control plane over a Kubernetes cluster
	// (`skiff operator`) instead of this machine.
	Cluster *Cluster
}

// Cluster is what Kubernetes mode changes: objects live on the API server,
// replicas are pods (Options.Runtime), nodes are the cluster's (kept in
// sync by the caller), and replicas reach each other and the API by DNS.
type Cluster struct {
	// Store is the API server's; Run does not close it.
	Store store.Store
	// Totals sizes the default queue created on the first start.
	Totals Machine
	// PeerAddress is where a replica's peers reach it (its pod's DNS name).
	PeerAddress func(job *v1alpha1.Job, group string, index int32, node string) string
	// RendezvousPort is the training presets' coordinator port; each pod
	// has its own network, so one fixed port serves every job.
	RendezvousPort int
	// ReplicaAPIURL is the API address replicas get as SKIFF_API (the
	// operator's Service); empty gives replicas no API access.
	ReplicaAPIURL string
	// ReasonRefresh bounds how often a pending job's waiting reason is
	// rewritten when only its numbers changed (default
	// DefaultClusterReasonRefresh).
	ReasonRefresh time.Duration
	// MaxReasonWrites caps the waiting reasons one scheduling cycle
	// writes (default DefaultClusterMaxReasonWrites).
	MaxReasonWrites int
	// EventWriters bounds the events the scheduling loop and the job
	// controller each write at once (default DefaultClusterEventWriters).
	EventWriters int
}

// DefaultClusterEventWriters keeps events, written in the background, from
// taking an API server's capacity from the status writes that admit and
// start jobs: with 16 writers each (embedded mode's default) the Kueue
// baseline's minimum usage on one cohort fell from 86% to 76% (bench/kube).
const DefaultClusterEventWriters = 2

// DefaultClusterMaxReasonWrites keeps a cycle's commit short on an API
// server (a few hundred writes a second on a small control plane), so that
// a burst of new pending jobs does not hold back admissions.
const DefaultClusterMaxReasonWrites = 200

// DefaultClusterReasonRefresh is Kubernetes mode's bound on rewriting a
// waiting reason whose numbers alone changed. Embedded mode rewrites every
// 30 s, which SQLite's group commit absorbs; on an API server each rewrite
// is a full write (and a watch event to every watcher), and with thousands
// of pending jobs the refreshes alone took most of the API server's CPU in
// the Kueue baseline (bench/kube).
const DefaultClusterReasonRefresh = 5 * time.Minute

// Run starts the control plane and blocks until ctx ends, then shuts down:
// the API stops accepting requests, controllers stop, replicas are stopped
// (SIGTERM, then SIGKILL after the grace period) and the store is closed.
func Run(ctx context.Context, cfg Config, opts Options) (err error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.StopGraceSeconds == 0 {
		cfg.StopGraceSeconds = 10
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	log := opts.Log
	if cfg.DataDir == "" {
		return errors.New("no data directory: pass --data-dir")
	}
	if cfg.DataDir, err = filepath.Abs(cfg.DataDir); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer unlock()

	tokenPath := filepath.Join(cfg.DataDir, "admin.token")
	token, err := auth.EnsureAdminToken(tokenPath)
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	// The key job tokens are signed with; kept so that replicas running
	// across a server restart keep working tokens.
	jobKey, err := auth.EnsureAdminToken(filepath.Join(cfg.DataDir, "job-token.key"))
	if err != nil {
		return fmt.Errorf("job token key: %w", err)
	}
	jobTokens := auth.NewJobTokens(jobKey)
	clk := clock.RealClock{}
	shutdownTracing, err := tracing.Setup(ctx, tracing.Endpoint(cfg.OTLPEndpoint, os.Getenv), opts.Version)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if terr := shutdownTracing(sctx); terr != nil {
			log.Warn("flushing traces", "err", terr)
		}
	}()
	tracer := tracing.Tracer()
	mx := monitoring.New()
	var backend store.Store
	if opts.Cluster != nil {
		backend = opts.Cluster.Store
	} else {
		sqlite, err := store.OpenSQLite(filepath.Join(cfg.DataDir, "skiff.db"), clk.Now)
		if err != nil {
			return fmt.Errorf("opening the store in %s: %w", cfg.DataDir, err)
		}
		defer func() {
			if cerr := sqlite.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("closing the store: %w", cerr)
			}
		}()
		backend = sqlite
	}
	st := &monitoring.Store{Store: backend, Metrics: mx, Now: clk.Now}

	metricStore, err := store.OpenSQLiteMetrics(filepath.Join(cfg.DataDir, "metrics.db"), 0)
	if err != nil {
		return fmt.Errorf("opening the metrics store in %s: %w", cfg.DataDir, err)
	}
	defer func() {
		if cerr := metricStore.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the metrics store: %w", cerr)
		}
	}()

	requestLog, err := reqlog.Open(filepath.Join(cfg.DataDir, "requests.db"), reqlog.Options{Now: clk.Now, Log: log})
	if err != nil {
		return fmt.Errorf("opening the request log in %s: %w", cfg.DataDir, err)
	}
	defer func() {
		if cerr := requestLog.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the request log: %w", cerr)
		}
	}()

	var machine Machine
	if opts.Cluster != nil {
		machine = opts.Cluster.Totals
	} else {
		detected, derr := local.DetectGPUs(ctx)
		if derr != nil {
			log.Warn("GPU detection failed; declare GPUs with --gpus", "err", derr)
		}
		if machine, err = describeMachine(cfg.NodeName, detected, cfg.GPUs, cfg.GPUModel); err != nil {
			return err
		}
		if err := registerNode(ctx, st, machine); err != nil {
			return fmt.Errorf("registering this machine: %w", err)
		}
	}
	// On a cluster the defaults are sized once, from the nodes there at the
	// first start: the nodes' totals change with every scale-up and their
	// GPU models may differ, and a failover should not resize the queue.
	if err := ensureDefaults(ctx, st, machine, opts.Cluster == nil, log); err != nil {
		return err
	}
	if err := st.CollectGarbage(ctx); err != nil {
		log.Warn("collecting garbage", "err", err)
	}

	rt := opts.Runtime
	if rt == nil {
		lrt, err := local.New(local.Options{
			Dir:         filepath.Join(cfg.DataDir, "replicas"),
			ShimCommand: opts.ShimCommand,
			Logf:        func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) },
		})
		if err != nil {
			return fmt.Errorf("starting the local runtime: %w", err)
		}
		rt = lrt
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("listen on %s: the address is in use: stop the other server or pass --listen with a free port", cfg.Listen)
		}
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	if host, _, _ := net.SplitHostPort(cfg.Listen); host != "127.0.0.1" && host != "localhost" && host != "::1" {
		log.Warn("the API listens beyond loopback; every request still needs a token", "listen", cfg.Listen)
	}

	rec := &controller.Recorder{Store: st, Clock: clk, Source: "skiff", Log: log, Observe: eventObserver(ctx, mx, tracer)}
	sched := &controller.SchedulingLoop{Store: st, Clock: clk, Recorder: rec, Log: log,
		Observer: cycleObserver{metrics: mx, tracer: tracer, clock: clk}}
	if c := opts.Cluster; c != nil {
		sched.ReasonRefresh = c.ReasonRefresh
		if sched.ReasonRefresh <= 0 {
			sched.ReasonRefresh = DefaultClusterReasonRefresh
		}
		sched.MaxReasonWrites = c.MaxReasonWrites
		if sched.MaxReasonWrites <= 0 {
			sched.MaxReasonWrites = DefaultClusterMaxReasonWrites
		}
		sched.EventWriters = c.EventWriters
		if sched.EventWriters <= 0 {
			sched.EventWriters = DefaultClusterEventWriters
		}
	}
	obs := observer{loop: sched}
	sampler := newSampler(obs, machine, clk)
	mx.Registry.MustRegister(monitoring.StateCollector{State: obs}, monitoring.FileSizeCollector{Paths: storeFiles(cfg.DataDir)}, sampler,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "skiff_request_log_dropped_total",
			Help: "Gateway request records the request log lost to a full buffer or a failed write."},
			func() float64 { return float64(requestLog.Dropped()) }))
	sampleEvery := time.Duration(cfg.GPUSampleSeconds * float64(time.Second))
	if sampleEvery <= 0 {
		sampleEvery = 10 * time.Second
	}
	go sampler.Run(ctx, sampleEvery)

	capacity, err := startCapacityCache(ctx, st)
	if err != nil {
		return fmt.Errorf("caching queues, flavors and nodes: %w", err)
	}
	ten, err := startTenancy(ctx, st, cfg.DataDir, token, clk.Now)
	if err != nil {
		return fmt.Errorf("starting tokens, policies and the audit log: %w", err)
	}
	defer ten.close()
	api := apiserver.New(apiserver.Config{
		Store:      st,
		Auth:       auth.Chain{Users: ten.tokens, Jobs: jobTokens},
		Audit:      ten.audit,
		AfterWrite: ten.afterWrite,
		Admit:      ten.admit((&admitter{store: st, capacity: capacity, dataDir: cfg.DataDir}).Admit),
		Metrics:    metricStore,
		Requests:   mx,
		Routes: map[string]http.Handler{
			MetricsPath:            metricsHandler(mx.Handler()),
			GPUsPath:               gpusHandler(sampler),
			apiserver.RequestsPath: apiserver.RequestsHandler(requestLog, clk.Now),
		},

		DefaultStopGrace: time.Duration(cfg.StopGraceSeconds) * time.Second,
		Logs:             &logSource{store: st, runtime: rt, poll: 100 * time.Millisecond},
		Version:          opts.Version,
		Logger:           log,
	})
	httpSrv := &http.Server{Handler: withDashboard(api, ui.New(ten.tokens, opts.Version)), ReadHeaderTimeout: 10 * time.Second}

	ctrlCtx, stopCtrl := context.WithCancel(context.Background())
	// The controllers share one informer per kind: each change to a job is
	// decoded once, however many controllers watch jobs.
	informers := watchcache.NewShared(ctrlCtx, st)
	sched.Informers = informers
	rt = monitoring.WrapRuntime(ctrlCtx, rt, mx)
	var wg sync.WaitGroup
	backoff := time.Duration(cfg.BackoffBaseSeconds * float64(time.Second))
	jobs := &controller.JobController{Store: st, Runtime: rt, Clock: clk, Recorder: rec, Log: log,
		WorkDir:   filepath.Join(cfg.DataDir, "jobs"),
		StopGrace: time.Duration(cfg.StopGraceSeconds) * time.Second, BackoffBase: backoff,
		APIURL: replicaAPIURL(ln.Addr()), Tokens: jobTokens, Metrics: metricStore, Informers: informers}
	if c := opts.Cluster; c != nil {
		jobs.PeerAddress, jobs.APIURL = c.PeerAddress, c.ReplicaAPIURL
		jobs.EventWriters = sched.EventWriters
		port := c.RendezvousPort
		jobs.PickPort = func() (int, error) { return port, nil }
	}
	exps := &experiment.Controller{Store: st, Metrics: metricStore, Clock: clk, Recorder: rec, Log: log, Informers: informers}
	runs := []func(context.Context) error{jobs.Run, sched.Run, exps.Run}
	if opts.Runtime == nil {
		// Only processes can use checkpoint directories.
		jobs.DataDir = cfg.DataDir
		// Replicas of the local runtime write log files to tail for
		// metric lines; a runtime passed in (the simulated one) has none.
		collector := &metrics.Collector{Replicas: rt, Metrics: metricStore, JobOf: controller.JobOfReplica, Now: clk.Now, Log: log}
		jobs.Logs, jobs.Metrics = collector, collector
		runs = append(runs, collector.Run)
		// Growing elastic jobs restarts real processes; `skiff bench`
		// (which passes its own runtime) measures the scheduler without it.
		grower := &controller.ElasticGrower{Store: st, Clock: clk, Log: log,
			MinRuntime: time.Duration(cfg.ElasticGrowAfterSeconds * float64(time.Second))}
		runs = append(runs, grower.Run)
	}
	for _, run := range runs {
		wg.Add(1)
		go func(run func(context.Context) error) {
			defer wg.Done()
			if err := run(ctrlCtx); err != nil {
				log.Error("controller stopped", "err", err)
			}
		}(run)
	}

	gwURL, stopGateway, err := startServing(ctrlCtx, &wg, cfg, servingParts{store: st, clock: clk, recorder: rec, tokens: ten.tokens, log: log, observe: requestLog.Observe, informers: informers, registry: mx.Registry})
	if err != nil {
		stopCtrl()
		wg.Wait()
		ln.Close()
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(opts.Out, "Skiff is up at %s\nDashboard: %s%s\nOpenAI-compatible gateway: %s/v1\nAdmin token: %s\nData: %s\n", url, url, ui.Prefix, gwURL, tokenPath, cfg.DataDir)
	if opts.OnReady != nil {
		opts.OnReady(url, tokenPath)
	}

	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("API server: %w", err)
	}
	fmt.Fprintln(opts.Out, "Shutting down: stopping replicas and flushing state")
	shutCtx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.StopGraceSeconds+10)*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(shutCtx)
	stopGateway(shutCtx)
	stopCtrl()
	wg.Wait()
	if serr := rt.Shutdown(shutCtx, time.Duration(cfg.StopGraceSeconds)*time.Second); serr != nil {
		log.Warn("stopping replicas", "err", serr)
	}
	return err
}

// replicaAPIURL is the API URL replicas get as SKIFF_API: the listen
// address, with loopback for a wildcard one.
func replicaAPIURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String()
	}
	host := tcp.IP
	if host == nil || host.IsUnspecified() {
		host = net.IPv4(127, 0, 0, 1)
	}
	return "http://" + net.JoinHostPort(host.String(), strconv.Itoa(tcp.Port))
}

// lockDataDir keeps two servers from sharing a data directory, which would
// run replicas twice.
func lockDataDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s is in use by another skiff server: stop it or pass a different --data-dir", dir)
	}
	return func() { f.Close() }, nil
}
