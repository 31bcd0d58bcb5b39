package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
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
)

var skiffBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "skiff-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	skiffBin = filepath.Join(dir, "skiff")
	build := exec.Command("go", "build", "-o", skiffBin, "../../cmd/skiff")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building skiff:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one `skiff up` process.
type server struct {
	t       *testing.T
	dataDir string
	home    string
	addr    string
	url     string
	// gateway is the OpenAI-compatible gateway's base URL.
	gateway string
	token   string
	cmd     *exec.Cmd
	out     *syncBuffer
}

// The lines of `skiff up`'s banner that say where it listens.
var (
	bannerAPI     = regexp.MustCompile(`Skiff is up at (http://[^\s]+)`)
	bannerGateway = regexp.MustCompile(`OpenAI-compatible gateway: (http://[^\s]+)/v1`)
)

// syncBuffer collects a server's output; tests read it while the process
// still writes.
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

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServer runs skiff up on dataDir and waits for /healthz.
func startServer(t *testing.T, dataDir, home string, extra ...string) *server {
	t.Helper()
	return startServerEnv(t, dataDir, home, nil, extra...)
}

// startServerEnv is startServer with extra environment variables (KEY=VALUE).
func startServerEnv(t *testing.T, dataDir, home string, env []string, extra ...string) *server {
	t.Helper()
	// Both listeners bind port 0 and the server's banner says where they
	// are: ports picked here and passed in could be taken by a parallel
	// test in between.
	s := &server{t: t, dataDir: dataDir, home: home, out: &syncBuffer{}}
	args := append([]string{"up", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0", "--gpus", "2", "--gpu-model", "test-gpu", "--log-level", "warn"}, extra...)
	s.cmd = exec.Command(skiffBin, args...)
	s.cmd.Env = append(append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config")), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stop(syscall.SIGTERM) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := s.out.String()
		if m := bannerAPI.FindStringSubmatch(out); m != nil {
			if g := bannerGateway.FindStringSubmatch(out); g != nil {
				s.url, s.gateway = m[1], g[1]
				s.addr = strings.TrimPrefix(s.url, "http://")
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not become healthy:\n%s", s.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	tok, err := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	if err != nil {
		t.Fatalf("reading admin token: %v", err)
	}
	s.token = strings.TrimSpace(string(tok))
	return s
}

// stop sends sig and waits for the process to exit.
func (s *server) stop(sig syscall.Signal) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// skiff runs the CLI against the server and returns stdout, stderr and the exit code.
func (s *server) skiff(stdin string, args ...string) (string, string, int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, skiffBin, args...)
	cmd.Env = append(os.Environ(), "SKIFF_SERVER="+s.url, "SKIFF_TOKEN="+s.token, "HOME="+s.home)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("running skiff %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// mustSkiff runs the CLI and fails the test on a non-zero exit.
func (s *server) mustSkiff(stdin string, args ...string) string {
	s.t.Helper()
	out, errOut, code := s.skiff(stdin, args...)
	if code != 0 {
		s.t.Fatalf("skiff %s: exit %d\nstdout: %s\nstderr: %s\nserver log:\n%s", strings.Join(args, " "), code, out, errOut, s.out.String())
	}
	return out
}

func (s *server) getJob(ns, name string) *v1alpha1.Job {
	s.t.Helper()
	out := s.mustSkiff("", "get", "job", name, "-n", ns, "-o", "json")
	job := &v1alpha1.Job{}
	if err := json.Unmarshal([]byte(out), job); err != nil {
		s.t.Fatalf("decoding job JSON: %v\n%s", err, out)
	}
	return job
}

// waitPhase polls until the job reaches phase.
func (s *server) waitPhase(ns, name string, phase v1alpha1.JobPhase, timeout time.Duration) *v1alpha1.Job {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		job := s.getJob(ns, name)
		if job.Status.Phase == phase {
			return job
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("job %s is %s, want %s\n%+v", name, job.Status.Phase, phase, job.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
