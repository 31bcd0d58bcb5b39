package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"

	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/gateway"
)

const benchToken = "skf_bench"

// startGateway serves a gateway on loopback with one service, keeping its
// Prometheus metrics as the server does.
func startGateway(svc gateway.Service, eps []gateway.Endpoint) (*gateway.Gateway, string, func(), error) {
	gw := gateway.New(gateway.Config{Auth: auth.NewTokenCache(benchToken, nil), Metrics: gateway.NewMetrics()})
	gw.SetService(svc)
	if err := gw.SetEndpoints(svc.Namespace, svc.Name, eps); err != nil {
		return nil, "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, err
	}
	srv := &http.Server{Handler: gw}
	go func() { _ = srv.Serve(ln) }()
	return gw, "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// simBinary builds llm-d-inference-sim from tools/llmsim once, into the
// same cache the tests use.
func simBinary() (string, error) {
	sum, err := os.ReadFile("tools/llmsim/go.sum")
	if err != nil {
		return "", fmt.Errorf("run from the repository root (reading tools/llmsim/go.sum): %w", err)
	}
	h := sha256.Sum256(sum)
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	bin := filepath.Join(dir, "skiff-test", "llm-d-inference-sim-v0.10.2-"+hex.EncodeToString(h[:6]))
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, "github.com/llm-d/llm-d-inference-sim/cmd/llm-d-inference-sim")
	cmd.Dir = "tools/llmsim"
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building llm-d-inference-sim: %w", err)
	}
	return bin, os.Rename(tmp, bin)
}
