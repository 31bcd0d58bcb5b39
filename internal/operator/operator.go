package operator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/deploy/crds"
	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/controller"
	"skiff.dev/skiff/internal/inventory"
	podrt "skiff.dev/skiff/internal/runtime/kube"
	"skiff.dev/skiff/internal/server"
	kubestore "skiff.dev/skiff/internal/store/kube"
)

// Config is `skiff operator`'s settings beyond the server's.
type Config struct {
	// Kubeconfig is a kubeconfig file; empty means in-cluster.
	Kubeconfig string
	// Namespace holds the leader lease and the credentials Secret.
	Namespace string
	// Identity names this replica in the lease (default: host name + a
	// random suffix).
	Identity string
	// InstallCRDs creates or upgrades the skiff.dev CRDs at start.
	InstallCRDs bool
	// Lease timing (defaults 15s, 10s, 2s, client-go's usual values).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// DefaultImage runs replicas whose template names no image.
	DefaultImage string
	// ReplicaAPIURL is the operator's API as replicas reach it, e.g.
	// http://skiff.skiff-system.svc:7400; empty gives them none.
	ReplicaAPIURL string
	// RendezvousPort of the training presets (default 29500).
	RendezvousPort int
}

// SecretName is the Secret with the admin token and the job-token key.
const SecretName = "skiff-credentials"

// LeaseName is the leader election lease.
const LeaseName = "skiff-operator"

// Run runs the operator until ctx ends or this replica loses the lease.
func Run(ctx context.Context, cfg Config, srv server.Config, opts server.Options) error {
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	log := opts.Log
	if cfg.Namespace == "" {
		return errors.New("--namespace is empty: name the namespace for the leader lease and credentials, e.g. skiff-system")
	}
	if srv.DataDir == "" {
		return errors.New("no data directory: pass --data-dir (scratch space for metrics and the request log)")
	}
	restCfg, err := restConfig(cfg.Kubeconfig)
	if err != nil {
		return err
	}
	if cfg.InstallCRDs {
		docs, err := crds.Documents()
		if err != nil {
			return err
		}
		if err := kubestore.InstallCRDs(ctx, restCfg, docs); err != nil {
			return err
		}
		log.Info("installed the skiff.dev CRDs", "count", len(docs))
	}
	core, err := corev1client.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	if err := writeCredentials(ctx, core, cfg.Namespace, srv.DataDir); err != nil {
		return err
	}
	coord, err := coordinationv1client.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	identity := cfg.Identity
	if identity == "" {
		host, _ := os.Hostname()
		identity = host + "-" + randomHex(4)
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: LeaseName, Namespace: cfg.Namespace},
		Client:     coord,
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	}
	// The elector's context outlives ctx while this replica leads: the
	// lease is given up only once the control plane has stopped, so a new
	// leader never overlaps a shutting-down one.
	electorCtx, giveUp := context.WithCancel(context.WithoutCancel(ctx))
	defer giveUp()
	var (
		leading  atomic.Bool
		runErr   error
		leadDone = make(chan struct{})
	)
	go func() {
		<-ctx.Done()
		if !leading.Load() {
			giveUp() // a follower just stops
		}
	}()
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   orDefault(cfg.LeaseDuration, 15*time.Second),
		RenewDeadline:   orDefault(cfg.RenewDeadline, 10*time.Second),
		RetryPeriod:     orDefault(cfg.RetryPeriod, 2*time.Second),
		ReleaseOnCancel: true,
		Name:            LeaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leadCtx context.Context) {
				leading.Store(true)
				defer close(leadDone)
				defer giveUp() // the control plane ended: release the lease
				// Stop on a lost lease (leadCtx) or a signal (ctx).
				runCtx, stop := context.WithCancel(leadCtx)
				defer stop()
				go func() {
					select {
					case <-ctx.Done():
						stop()
					case <-runCtx.Done():
					}
				}()
				log.Info("leading: starting the control plane", "identity", identity)
				runErr = lead(runCtx, restCfg, core, cfg, srv, opts)
			},
			OnStoppedLeading: func() {
				log.Info("no longer leading", "identity", identity)
			},
			OnNewLeader: func(id string) {
				if id != identity {
					log.Info("following", "leader", id)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	fmt.Fprintf(outOf(opts), "Skiff operator %s waiting to lead (lease %s/%s)\n", identity, cfg.Namespace, LeaseName)
	elector.Run(electorCtx)
	if leading.Load() {
		<-leadDone
	}
	if runErr != nil {
		return runErr
	}
	if ctx.Err() == nil {
		return errors.New("lost the leader lease: exiting so that this replica restarts as a follower")
	}
	return nil
}

// lead runs the control plane while this replica holds the lease.
func lead(ctx context.Context, restCfg *rest.Config, core corev1client.CoreV1Interface, cfg Config, srv server.Config, opts server.Options) error {
	st, err := kubestore.New(ctx, restCfg)
	if err != nil {
		return err
	}
	defer st.Close()
	inv := &inventory.Syncer{Client: core, Store: st, Log: opts.Log}
	if err := inv.Start(ctx); err != nil {
		return err
	}
	cpu, mem, gpus, model := inventory.Totals(inv.Nodes())
	rt, err := podrt.New(ctx, podrt.Options{Client: core, DefaultImage: cfg.DefaultImage,
		Logf: func(format string, args ...any) { opts.Log.Info(fmt.Sprintf(format, args...)) }})
	if err != nil {
		return err
	}
	port := cfg.RendezvousPort
	if port == 0 {
		port = 29500
	}
	opts.Runtime = rt
	opts.Cluster = &server.Cluster{
		Store:          st,
		Totals:         server.Machine{Name: "cluster", CPUMilli: cpu, MemoryBytes: mem, GPUs: make([]v1alpha1.GPUDevice, gpus), GPUModel: model},
		PeerAddress:    PeerAddress,
		RendezvousPort: port,
		ReplicaAPIURL:  cfg.ReplicaAPIURL,
	}
	return server.Run(ctx, srv, opts)
}

// PeerAddress is the DNS name of a replica's pod through its job's
// headless service: <pod>.<job>.<namespace>.svc.
func PeerAddress(job *v1alpha1.Job, group string, index int32, _ string) string {
	attempt := job.Status.Attempt
	for _, rs := range job.Status.Replicas {
		if rs.Group == group && rs.Index == index {
			attempt = rs.Attempt
		}
	}
	return controller.ReplicaName(job.Name, group, index, attempt) + "." + job.Name + "." + job.Namespace + ".svc"
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	var c *rest.Config
	var err error
	if kubeconfig == "" {
		if c, err = rest.InClusterConfig(); err != nil {
			return nil, fmt.Errorf("not running in a cluster (%w): pass --kubeconfig", err)
		}
	} else if c, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
		return nil, fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)
	}
	// No client-side rate limit (client-go's default of 5 requests a
	// second would pace a large gang's pod creates): the API server's
	// priority and fairness protects it, as for the kube store's client.
	c.QPS = -1
	c.UserAgent = "skiff-operator"
	return c, nil
}

// writeCredentials reads (or, the first time, creates) the credentials
// Secret and writes its keys where the server reads them in its data
// directory.
func writeCredentials(ctx context.Context, core corev1client.CoreV1Interface, ns, dataDir string) error {
	admin, err := auth.NewToken()
	if err != nil {
		return err
	}
	key, err := auth.NewToken()
	if err != nil {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: ns},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"admin.token": []byte(admin + "\n"), "job-token.key": []byte(key + "\n")},
	}
	created, err := core.Secrets(ns).Create(ctx, secret, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = core.Secrets(ns).Get(ctx, SecretName, metav1.GetOptions{})
	}
	if err != nil {
		return fmt.Errorf("the credentials secret %s/%s: %w", ns, SecretName, err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	for _, key := range []string{"admin.token", "job-token.key"} {
		v := created.Data[key]
		if len(v) == 0 {
			return fmt.Errorf("the credentials secret %s/%s has no %q: delete it and restart the operator to create a new one", ns, SecretName, key)
		}
		if err := os.WriteFile(filepath.Join(dataDir, key), v, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", key, err)
		}
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// outOf is where the start-up lines go.
func outOf(opts server.Options) io.Writer {
	if opts.Out == nil {
		return io.Discard
	}
	return opts.Out
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
