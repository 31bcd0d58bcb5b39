package local

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"skiff.dev/skiff/internal/runtime"
)

// validateName checks namespace and name before they become path elements:
// a namespace is a DNS label and a name a DNS subdomain, which rules out
// "..", slashes, absolute paths and empty strings.
func validateName(namespace, name string) error {
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return fmt.Errorf("invalid replica namespace %q: %s", namespace, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("invalid replica name %q: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

// replicaDir resolves the directory of a replica inside root and refuses
// anything that would land outside it.
func replicaDir(root, namespace, name string) (string, error) {
	if err := validateName(namespace, name); err != nil {
		return "", err
	}
	dir := filepath.Join(root, namespace, name)
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel != filepath.Join(namespace, name) || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("replica %s/%s resolves outside the runtime directory %s", namespace, name, root)
	}
	return dir, nil
}

func validateReplica(r runtime.Replica) error {
	if err := validateName(r.Namespace, r.Name); err != nil {
		return err
	}
	if len(r.Command) == 0 || r.Command[0] == "" {
		return fmt.Errorf("replica %s/%s has no command: set the command to run", r.Namespace, r.Name)
	}
	if r.CPUMilli < 0 || r.MemoryBytes < 0 {
		return fmt.Errorf("replica %s/%s: cpu and memory limits must not be negative", r.Namespace, r.Name)
	}
	for i, g := range r.GPUs {
		if g < 0 {
			return fmt.Errorf("replica %s/%s: gpus[%d] = %d is not a device index", r.Namespace, r.Name, i, g)
		}
	}
	for i, kv := range r.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("replica %s/%s: env[%d] %q is not KEY=VALUE", r.Namespace, r.Name, i, kv)
		}
	}
	return nil
}

// defaultPath is used when the server itself has no PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// replicaEnv builds the replica's environment: a minimal base taken from
// getenv, then r.Env, then CUDA_VISIBLE_DEVICES, which always wins so that a
// replica only sees the GPUs it was given. Later duplicates replace earlier
// ones.
func replicaEnv(r runtime.Replica, getenv func(string) string) []string {
	var env []string
	path := getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	env = append(env, "PATH="+path)
	for _, k := range []string{"HOME", "LANG", "TMPDIR"} {
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, r.Env...)
	gpus := make([]string, len(r.GPUs))
	for i, g := range r.GPUs {
		gpus[i] = strconv.Itoa(g)
	}
	env = append(env, "CUDA_VISIBLE_DEVICES="+strings.Join(gpus, ","))
	return dedupEnv(env)
}

// dedupEnv keeps the last value of every key, in the position of its first
// appearance.
func dedupEnv(env []string) []string {
	idx := make(map[string]int, len(env))
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// findExecutable resolves the replica's command the way a shell would, but
// with the replica's PATH rather than the shim's: a name with a slash is
// taken relative to dir, anything else is searched in path.
func findExecutable(cmd, path, dir string) (string, error) {
	if strings.Contains(cmd, "/") {
		p := cmd
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if err := checkExecutable(p); err != nil {
			return "", err
		}
		return p, nil
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d)
		}
		p := filepath.Join(d, cmd)
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("executable %q not found in PATH %q", cmd, path)
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", p)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not executable (mode %v)", p, fi.Mode().Perm())
	}
	return nil
}
