package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/kubetest"
)

var skiffBin string

func TestMain(m *testing.M) {
	if !kubetest.Enabled() {
		os.Exit(m.Run()) // every test skips
	}
	dir, err := os.MkdirTemp("", "skiff-kube-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	skiffBin = filepath.Join(dir, "skiff")
	build := exec.Command("go", "build", "-o", skiffBin, "../../../cmd/skiff")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building skiff:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// operator is one `skiff operator` process.
type operator struct {
	t       *testing.T
	id      string
	dataDir string
	cmd     *exec.Cmd
	out     *syncBuffer
	done    chan struct{}
	url     string
	token   string
}

var bannerAPI = regexp.MustCompile(`Skiff is up at (http://[^\s]+)`)

// startOperator runs an operator replica with the credentials in
// kubeconfig; it leads or waits to.
func startOperator(t *testing.T, kubeconfig, id string, extra ...string) *operator {
	t.Helper()
	o := &operator{t: t, id: id, dataDir: t.TempDir(), out: &syncBuffer{}, done: make(chan struct{})}
	args := append([]string{"operator", "--kubeconfig", kubeconfig, "--namespace", "skiff-system",
		"--identity", id, "--data-dir", o.dataDir,
		"--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0",
		"--lease-duration", "4s", "--renew-deadline", "3s", "--retry-period", "500ms",
		"--stop-grace-seconds", "2", "--log-level", "info"}, extra...)
	o.cmd = exec.Command(skiffBin, args...)
	o.cmd.Stdout, o.cmd.Stderr = o.out, o.out
	if err := o.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = o.cmd.Wait(); close(o.done) }()
	t.Cleanup(func() {
		o.kill(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("operator %s output:\n%s", id, tail(o.out.String(), 6000))
		}
	})
	return o
}

// waitLeading waits until the replica serves the API.
func (o *operator) waitLeading(timeout time.Duration) {
	o.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := bannerAPI.FindStringSubmatch(o.out.String()); m != nil {
			o.url = m[1]
			break
		}
		select {
		case <-o.done:
			o.t.Fatalf("operator %s exited:\n%s", o.id, o.out.String())
		default:
		}
		if time.Now().After(deadline) {
			o.t.Fatalf("operator %s did not start leading within %s:\n%s", o.id, timeout, o.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	tok, err := os.ReadFile(filepath.Join(o.dataDir, "admin.token"))
	if err != nil {
		o.t.Fatal(err)
	}
	o.token = strings.TrimSpace(string(tok))
}

// kill sends sig and waits for the process to end.
func (o *operator) kill(sig syscall.Signal) {
	select {
	case <-o.done:
		return
	default:
	}
	_ = o.cmd.Process.Signal(sig)
	select {
	case <-o.done:
	case <-time.After(30 * time.Second):
		_ = o.cmd.Process.Kill()
		<-o.done
	}
}

// skiff runs the CLI against the operator's API.
func (o *operator) skiff(stdin string, args ...string) string {
	o.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, skiffBin, args...)
	cmd.Env = append(os.Environ(), "SKIFF_SERVER="+o.url, "SKIFF_TOKEN="+o.token, "HOME="+o.dataDir)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		o.t.Fatalf("skiff %s: %v\nstdout: %s\nstderr: %s\noperator:\n%s", strings.Join(args, " "), err, out.String(), errb.String(), tail(o.out.String(), 4000))
	}
	return out.String()
}

func (o *operator) job(ns, name string) *v1alpha1.Job {
	o.t.Helper()
	j := &v1alpha1.Job{}
	if err := json.Unmarshal([]byte(o.skiff("", "get", "job", name, "-n", ns, "-o", "json")), j); err != nil {
		o.t.Fatal(err)
	}
	return j
}

// waitJob polls the job until cond holds.
func (o *operator) waitJob(ns, name string, timeout time.Duration, what string, cond func(*v1alpha1.Job) bool) *v1alpha1.Job {
	o.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		j := o.job(ns, name)
		if cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			o.t.Fatalf("job %s/%s: not %s within %s: phase %s, conditions %+v\noperator:\n%s", ns, name, what, timeout, j.Status.Phase, j.Status.Conditions, tail(o.out.String(), 4000))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
