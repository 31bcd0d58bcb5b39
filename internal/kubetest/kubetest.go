package kubetest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// EnvVar is the environment variable that turns the Kubernetes tests on.
const EnvVar = "SKIFF_KUBE_TEST"

// Enabled reports whether SKIFF_KUBE_TEST=1, that is whether tests that
// need a real control plane run.
func Enabled() bool { return os.Getenv(EnvVar) == "1" }

// Options says which components run besides etcd and kube-apiserver.
type Options struct {
	// Kwok also runs the kwok controller: fake nodes (AddNodes) and the
	// pod lifecycle described in the package documentation.
	Kwok bool
	// ControllerManager also runs kube-controller-manager: garbage
	// collection through owner references, namespace deletion, a default
	// service account in each namespace, node lifecycle.
	ControllerManager bool
	// Logs (with Kwok) makes kwok serve container logs to the API server,
	// as a kubelet does, from files that WritePodLogs fills.
	Logs bool
	// Profiling serves kube-apiserver's /debug/pprof (off otherwise), for
	// benchmarks that profile the API server (APIServerProfile).
	Profiling bool
}

// Cluster is a running control plane.
type Cluster struct {
	// Config is an admin (group system:masters) bearer-token config for
	// client-go, verifying the server with the cluster's CA.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file with the same
	// credentials (for kwok, the operator, the CLI).
	Kubeconfig string
	// Dir holds certificates, etcd data, configuration and one log file per
	// component. It is removed after a passing test and kept after a
	// failing one (or always, with SKIFF_KUBE_KEEP=1).
	Dir string

	opts    Options
	bin     string
	pki     *pki
	etcdURL string
	apiPort int
	procs   map[string]*process

	buildTime time.Duration // how long build.sh took in this Start
}

// startTimeout bounds how long Start waits for the control plane; a cold
// start takes seconds, so reaching it means something is broken.
const startTimeout = 3 * time.Minute

// Start builds the binaries (via test/kube/build.sh, once per process),
// starts etcd and kube-apiserver (and kwok and kube-controller-manager when
// asked), waits until /readyz is ok and the default namespace is there (and,
// with the controller manager, its default service account), and stops
// everything in t.Cleanup. Logs go to files under Dir; when the test failed
// their tails are printed and Dir is kept. (New is the form for a
// TestMain that shares one cluster among tests.)
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if !Enabled() {
		t.Skip("needs a real Kubernetes control plane: set " + EnvVar + "=1 or run make test-kube")
	}
	began := time.Now()
	c, err := newCluster(opts)
	if c != nil {
		t.Cleanup(func() { c.cleanup(t) })
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubetest: control plane up in %v (build check %v) at %s, dir %s",
		time.Since(began).Round(time.Millisecond), c.buildTime.Round(time.Millisecond), c.Config.Host, c.Dir)
	return c
}

// New starts a cluster as Start does, for a TestMain that shares one
// cluster among a package's tests; it does not look at SKIFF_KUBE_TEST,
// and the caller stops the cluster with Stop.
func New(opts Options) (*Cluster, error) {
	c, err := newCluster(opts)
	if err != nil {
		if c != nil {
			// err carries the tails of the logs; what Stop finds adds nothing.
			_ = c.Stop()
		}
		return nil, err
	}
	return c, nil
}

// newCluster builds what opts needs and starts it. On an error after the
// directory was made it returns the partial cluster too, for cleanup.
func newCluster(opts Options) (*Cluster, error) {
	began := time.Now()
	names := []string{binEtcd, binAPIServer}
	if opts.Kwok {
		names = append(names, binKwok)
	}
	if opts.ControllerManager {
		names = append(names, binControllerManager)
	}
	bin, err := binaries.ensure(names...)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kubetest-")
	if err != nil {
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	c := &Cluster{Dir: dir, opts: opts, bin: bin, procs: map[string]*process{}, buildTime: time.Since(began)}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	return c, c.start(ctx, time.Now())
}

// Stop stops every component, clients of the API server first, and
// removes Dir unless SKIFF_KUBE_KEEP=1. It reports components that had
// exited before it was called, with the tail of their logs.
func (c *Cluster) Stop() error {
	var errs []error
	for _, name := range c.stopAll() {
		errs = append(errs, fmt.Errorf("kubetest: %s had exited:\n%s", name, c.procs[name].logTail(6144)))
	}
	if os.Getenv("SKIFF_KUBE_KEEP") != "1" {
		if err := os.RemoveAll(c.Dir); err != nil {
			errs = append(errs, fmt.Errorf("kubetest: %w", err))
		}
	}
	return errors.Join(errs...)
}

// stopAll stops every component and returns those that had already
// exited.
func (c *Cluster) stopAll() []string {
	var died []string
	for _, name := range stopOrder {
		p := c.procs[name]
		if p == nil {
			continue
		}
		if done, _ := p.exited(); done {
			died = append(died, name)
		}
		p.stop(10 * time.Second)
	}
	return died
}

func (c *Cluster) start(ctx context.Context, now time.Time) error {
	if c.opts.Logs && !c.opts.Kwok {
		return errors.New("kubetest: Options.Logs needs Options.Kwok: kwok serves the logs")
	}
	var err error
	if c.pki, err = newPKI(c.Dir, now); err != nil {
		return err
	}
	if err := c.startEtcd(ctx); err != nil {
		return err
	}
	if err := c.startAPIServer(ctx); err != nil {
		return err
	}
	if err := c.writeKubeconfig(); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return fmt.Errorf("kubetest: client: %w", err)
	}
	if err := waitFor(ctx, "the default namespace", func() (bool, error) {
		_, err := cs.CoreV1().Namespaces().Get(ctx, metav1.NamespaceDefault, metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	}); err != nil {
		return c.withLogs(err)
	}
	if c.opts.ControllerManager {
		if err := c.startControllerManager(); err != nil {
			return err
		}
		if err := waitFor(ctx, "kube-controller-manager to create the default service account", func() (bool, error) {
			if err := c.checkAlive(binControllerManager); err != nil {
				return false, err
			}
			_, err := cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
			return err == nil, ignoreNotFound(err)
		}); err != nil {
			return c.withLogs(err)
		}
	}
	if c.opts.Logs {
		if err := c.installLogsCRD(ctx); err != nil {
			return c.withLogs(err)
		}
	}
	if c.opts.Kwok {
		if err := c.startKwok(); err != nil {
			return err
		}
	}
	return nil
}

// startEtcd starts etcd on free ports, trying new ones when the ones picked
// were taken in the meantime.
func (c *Cluster) startEtcd(ctx context.Context) error {
	var lastErr error
	for range 3 {
		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		client := "http://127.0.0.1:" + strconv.Itoa(ports[0])
		peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
		p, err := startProcess(binEtcd, filepath.Join(c.bin, binEtcd), c.Dir, []string{
			"--name=kubetest",
			"--data-dir=" + filepath.Join(c.Dir, "etcd"),
			"--listen-client-urls=" + client,
			"--advertise-client-urls=" + client,
			"--listen-peer-urls=" + peer,
			"--initial-advertise-peer-urls=" + peer,
			"--initial-cluster=kubetest=" + peer,
			// Test data need not survive a power cut; fsync on every write
			// would make the shared test machines the bottleneck.
			"--unsafe-no-fsync",
			"--log-level=warn",
		})
		if err != nil {
			return err
		}
		c.procs[binEtcd] = p
		lastErr = waitFor(ctx, "etcd /health", func() (bool, error) {
			if err := c.checkAlive(binEtcd); err != nil {
				return false, err
			}
			return httpOK(ctx, http.DefaultClient, client+"/health", "", `"health":"true"`), nil
		})
		if lastErr == nil {
			c.etcdURL = client
			return nil
		}
		p.stop(5 * time.Second)
		if !strings.Contains(p.logTail(8192), "address already in use") {
			break
		}
	}
	return c.withLogs(fmt.Errorf("kubetest: etcd did not start: %w", lastErr))
}

// apiServerArgs are kube-apiserver's flags for a cluster whose files are
// in c.pki, serving on port.
func (c *Cluster) apiServerArgs(port int) []string {
	return []string{
		"--etcd-servers=" + c.etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + c.Dir,
		"--tls-cert-file=" + c.pki.certFile,
		"--tls-private-key-file=" + c.pki.keyFile,
		"--client-ca-file=" + c.pki.caFile,
		"--token-auth-file=" + c.pki.tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + c.pki.saKeyFile,
		"--service-account-signing-key-file=" + c.pki.saKeyFile,
		"--service-cluster-ip-range=10.96.0.0/16",
		// The pods are fake: they need no service account token, and
		// without kube-controller-manager no namespace but the ones a test
		// fills itself would have a default service account to admit
		// them against.
		"--disable-admission-plugins=ServiceAccount",
		// The "kubernetes" Service endpoints would be 127.0.0.1, which
		// endpoint validation refuses; nothing here dials it.
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--max-requests-inflight=1000",
		"--max-mutating-requests-inflight=500",
		"--profiling=" + strconv.FormatBool(c.opts.Profiling),
		// Logs of pods on kwok nodes come from kwok, which serves as every
		// node's kubelet on 127.0.0.1 with the API server's own
		// certificate (Options.Logs).
		"--kubelet-preferred-address-types=InternalIP",
		"--kubelet-certificate-authority=" + c.pki.caFile,
	}
}

// startAPIServer starts kube-apiserver on a free port (retrying on a port
// taken in the meantime) and waits for /readyz.
func (c *Cluster) startAPIServer(ctx context.Context) error {
	var lastErr error
	for range 3 {
		ports, err := freePorts(1)
		if err != nil {
			return err
		}
		c.apiPort = ports[0]
		c.setConfig()
		if lastErr = c.runAPIServer(ctx); lastErr == nil {
			return nil
		}
		if !strings.Contains(c.procs[binAPIServer].logTail(16384), "address already in use") {
			break
		}
		c.procs[binAPIServer].stop(5 * time.Second)
	}
	return c.withLogs(fmt.Errorf("kubetest: kube-apiserver did not start: %w", lastErr))
}

// runAPIServer starts kube-apiserver on c.apiPort and waits for /readyz.
func (c *Cluster) runAPIServer(ctx context.Context) error {
	p, err := startProcess(binAPIServer, filepath.Join(c.bin, binAPIServer), c.Dir, c.apiServerArgs(c.apiPort))
	if err != nil {
		return err
	}
	c.procs[binAPIServer] = p
	hc, err := c.httpClient()
	if err != nil {
		return err
	}
	return waitFor(ctx, "kube-apiserver /readyz", func() (bool, error) {
		if err := c.checkAlive(binAPIServer); err != nil {
			return false, err
		}
		return httpOK(ctx, hc, c.Config.Host+"/readyz", c.pki.adminToken, "ok"), nil
	})
}

// RestartAPIServer stops kube-apiserver and starts it again on the same
// port and etcd, as an API server rollout or crash does; clients see
// connection errors and then carry on. It returns once /readyz is ok.
func (c *Cluster) RestartAPIServer(t testing.TB) {
	t.Helper()
	c.procs[binAPIServer].stop(30 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := c.runAPIServer(ctx); err != nil {
		t.Fatal(c.withLogs(fmt.Errorf("kubetest: restarting kube-apiserver: %w", err)))
	}
}

func (c *Cluster) setConfig() {
	c.Config = &rest.Config{
		Host:            "https://127.0.0.1:" + strconv.Itoa(c.apiPort),
		BearerToken:     c.pki.adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.pki.caPEM},
		// Tests create many objects quickly; client-side throttling at
		// client-go's default 5 QPS would measure the client, not Skiff.
		QPS:   1000,
		Burst: 2000,
	}
}

func (c *Cluster) httpClient() (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.pki.caPEM) {
		return nil, errors.New("kubetest: CA certificate does not parse")
	}
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}, nil
}

func (c *Cluster) writeKubeconfig() error {
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kubetest"] = &clientcmdapi.Cluster{Server: c.Config.Host, CertificateAuthorityData: c.pki.caPEM}
	cfg.AuthInfos[adminUser] = &clientcmdapi.AuthInfo{Token: c.pki.adminToken}
	cfg.Contexts["kubetest"] = &clientcmdapi.Context{Cluster: "kubetest", AuthInfo: adminUser, Namespace: metav1.NamespaceDefault}
	cfg.CurrentContext = "kubetest"
	if err := clientcmd.WriteToFile(*cfg, c.Kubeconfig); err != nil {
		return fmt.Errorf("kubetest: kubeconfig: %w", err)
	}
	return nil
}

func (c *Cluster) startControllerManager() error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	p, err := startProcess(binControllerManager, filepath.Join(c.bin, binControllerManager), c.Dir, []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--authentication-kubeconfig=" + c.Kubeconfig,
		"--authorization-kubeconfig=" + c.Kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(ports[0]),
		"--leader-elect=false",
		"--service-account-private-key-file=" + c.pki.saKeyFile,
		"--root-ca-file=" + c.pki.caFile,
		"--use-service-account-credentials=false",
		"--profiling=false",
	})
	if err != nil {
		return err
	}
	c.procs[binControllerManager] = p
	return nil
}

//go:embed kwok.yaml
var kwokConfig []byte

func (c *Cluster) startKwok() error {
	cfg := filepath.Join(c.Dir, "kwok.yaml")
	if err := os.WriteFile(cfg, kwokConfig, 0o600); err != nil {
		return fmt.Errorf("kubetest: kwok config: %w", err)
	}
	args := []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--config=" + cfg,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + KwokNodeAnnotation + "=" + kwokNodeValue,
	}
	if c.opts.Logs {
		ports, err := freePorts(1)
		if err != nil {
			return err
		}
		port := strconv.Itoa(ports[0])
		args = append(args,
			"--node-ip=127.0.0.1",
			"--node-port="+port,
			"--server-address=127.0.0.1:"+port,
			"--tls-cert-file="+c.pki.certFile,
			"--tls-private-key-file="+c.pki.keyFile,
			"--enable-crds=Logs",
		)
	}
	p, err := startProcess(binKwok, filepath.Join(c.bin, binKwok), c.Dir, args)
	if err != nil {
		return err
	}
	c.procs[binKwok] = p
	return nil
}

// Clientset returns a kubernetes.Interface for c.Config.
func (c *Cluster) Clientset(t testing.TB) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatalf("kubetest: client: %v", err)
	}
	return cs
}

// stopOrder is the order in which components stop: clients of the API
// server first, etcd last.
var stopOrder = []string{binKwok, binControllerManager, binAPIServer, binEtcd}

func (c *Cluster) cleanup(t testing.TB) {
	// A component that died during the test is a finding even if the test
	// itself did not notice.
	for _, name := range c.stopAll() {
		t.Errorf("kubetest: %s exited during the test: %v", name, c.procs[name].err)
	}
	if t.Failed() {
		for _, name := range stopOrder {
			if p := c.procs[name]; p != nil {
				t.Logf("kubetest: last lines of %s:\n%s", p.logPath, p.logTail(6144))
			}
		}
	}
	if t.Failed() || os.Getenv("SKIFF_KUBE_KEEP") == "1" {
		t.Logf("kubetest: kept %s for inspection", c.Dir)
		return
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		t.Logf("kubetest: removing %s: %v", c.Dir, err)
	}
}

// checkAlive returns an error when the named component has exited.
func (c *Cluster) checkAlive(name string) error {
	if done, err := c.procs[name].exited(); done {
		return fmt.Errorf("%s exited: %v", name, err)
	}
	return nil
}

// withLogs adds the tail of every component's log to err, for failures
// that happen before a test has anything else to show.
func (c *Cluster) withLogs(err error) error {
	var b strings.Builder
	for _, name := range stopOrder {
		if p := c.procs[name]; p != nil {
			fmt.Fprintf(&b, "\n--- last lines of %s:\n%s", p.logPath, p.logTail(4096))
		}
	}
	return fmt.Errorf("%w%s", err, b.String())
}

// waitFor calls cond every 50ms until it returns true or an error, or ctx
// ends.
func waitFor(ctx context.Context, what string, cond func() (bool, error)) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("kubetest: waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kubetest: waiting for %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// httpOK reports whether GET url answers 200 with a body containing want.
func httpOK(ctx context.Context, hc *http.Client, url, token, want string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return err == nil && resp.StatusCode == http.StatusOK && strings.Contains(string(body), want)
}

// freePorts returns n distinct loopback ports that were free a moment ago.
// Another process may take one before the component binds it; the callers
// retry with new ports when that happens.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("kubetest: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
