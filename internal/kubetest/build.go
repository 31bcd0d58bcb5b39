package kubetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
)

// Binary names, as test/kube/build.sh knows them.
const (
	binEtcd              = "etcd"
	binAPIServer         = "kube-apiserver"
	binControllerManager = "kube-controller-manager"
	binKwok              = "kwok"
)

// buildScript is the path of the build script relative to the repository root.
const buildScript = "test/kube/build.sh"

// builder runs build.sh at most once per binary per test process: the
// script itself is cheap when its cache is warm, but several tests in one
// package each calling it would still print and hash for nothing.
type builder struct {
	mu    sync.Mutex
	built map[string]bool
	dir   string // where the binaries are, once one build succeeded
}

var binaries = &builder{built: map[string]bool{}}

// ensure builds the named binaries when this process has not already, and
// returns the directory that holds them.
func (b *builder) ensure(names ...string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var missing []string
	for _, n := range names {
		if !b.built[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return b.dir, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	dir := os.Getenv("SKIFF_KUBE_BIN")
	if dir == "" {
		dir = filepath.Join(root, "bin", "kube")
	}
	slices.Sort(missing)
	cmd := exec.Command("bash", append([]string{filepath.Join(root, buildScript)}, missing...)...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("kubetest: %s %v failed (run it by hand to see the whole build): %w\n%s", buildScript, missing, err, tail(out.Bytes(), 4096))
	}
	for _, n := range missing {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			return "", fmt.Errorf("kubetest: %s ran but %s is missing: %w", buildScript, n, err)
		}
		b.built[n] = true
	}
	b.dir = dir
	return dir, nil
}

// repoRoot walks up from the working directory (a test runs in its
// package's directory) to the directory that holds the build script.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("kubetest: working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, buildScript)); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("kubetest: looking for %s: %w", buildScript, err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("kubetest: no %s above the working directory; run the tests from inside the skiff repository", buildScript)
		}
		dir = parent
	}
}

// tail returns at most the last n bytes of b, starting at a line boundary
// when there is one.
func tail(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	b = b[len(b)-n:]
	if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
		b = b[i+1:]
	}
	return b
}
