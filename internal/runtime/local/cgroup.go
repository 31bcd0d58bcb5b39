package local

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultCgroupRoot is where cgroup hierarchies are normally mounted.
const DefaultCgroupRoot = "/sys/fs/cgroup"

// cpuPeriodMicros is the CFS period CPU quotas are expressed in.
const cpuPeriodMicros = 100_000

// cgroup is the set of cgroup directories one replica lives in: a single
// directory with cgroup v2, one per controller with v1.
type cgroup struct {
	v2     bool
	leaves []string // one per hierarchy, with the limits written
	// origins are the shim's own cgroups (cgroup.procs paths), to return
	// to once the replica has been forked into leaves.
	origins []string
}

// setupCgroup creates the replica's cgroup(s) and writes its limits. It
// never fails: whatever cannot be applied is returned as a warning, and a
// nil cgroup means no limits are in force.
func setupCgroup(root, replicaDir, namespace, name string, cpuMilli, memBytes int64) (*cgroup, []string) {
	if cpuMilli <= 0 && memBytes <= 0 {
		return nil, nil
	}
	var need []string
	if cpuMilli > 0 {
		need = append(need, "cpu")
	}
	if memBytes > 0 {
		need = append(need, "memory")
	}
	leaf := leafName(replicaDir, namespace, name)
	const hint = "; the replica runs without it (run skiff as root on a host with a writable cgroup v2 or v1 hierarchy to enforce limits)"
	if v2root, ok := findV2(root, need); ok {
		cg, err := setupV2(v2root, leaf, cpuMilli, memBytes)
		if err != nil {
			return nil, []string{"cgroup limits not applied: " + err.Error() + hint}
		}
		return cg, nil
	}
	cg := &cgroup{}
	var warnings []string
	for _, c := range need {
		dir, origin, err := setupV1(root, c, leaf, cpuMilli, memBytes)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("cgroup %s limit not applied: %v%s", c, err, hint))
			continue
		}
		cg.leaves = append(cg.leaves, dir)
		cg.origins = append(cg.origins, origin)
	}
	if len(cg.leaves) == 0 {
		return nil, warnings
	}
	return cg, warnings
}

// leafName is the replica's cgroup directory name: <namespace>_<name> for
// people, then a hash of the replica's directory, because two skiff
// servers (or test runs) on one machine may both run team-a/worker-0 and
// must not share, or clean up, each other's cgroups. Long names are cut to
// stay under NAME_MAX; the hash keeps them unique.
func leafName(replicaDir, namespace, name string) string {
	s := namespace + "_" + name
	if len(s) > 200 {
		s = s[:200]
	}
	sum := sha256.Sum256([]byte(replicaDir))
	return s + "-" + hex.EncodeToString(sum[:6])
}

// findV2 returns the cgroup v2 mount under root if it offers every needed
// controller: root itself on unified hosts, root/unified on hybrid ones
// (where controllers are usually still bound to v1).
func findV2(root string, need []string) (string, bool) {
	for _, dir := range []string{root, filepath.Join(root, "unified")} {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		if err != nil {
			continue
		}
		have := strings.Fields(string(data))
		ok := true
		for _, c := range need {
			ok = ok && contains(have, c)
		}
		if ok {
			return dir, true
		}
	}
	return "", false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func setupV2(v2root, leaf string, cpuMilli, memBytes int64) (*cgroup, error) {
	origin, err := ownCgroup("")
	if err != nil {
		return nil, err
	}
	var enable []string
	if cpuMilli > 0 {
		enable = append(enable, "+cpu")
	}
	if memBytes > 0 {
		enable = append(enable, "+memory")
	}
	base := filepath.Join(v2root, "skiff")
	if err := mkdirCgroup(base); err != nil {
		return nil, err
	}
	// Controllers must be enabled on every level above the leaf.
	for _, dir := range []string{v2root, base} {
		for _, e := range enable {
			if err := writeCgroupFile(dir, "cgroup.subtree_control", e); err != nil {
				return nil, err
			}
		}
	}
	dir := filepath.Join(base, leaf)
	if err := mkdirCgroup(dir); err != nil {
		return nil, err
	}
	cg := &cgroup{v2: true, leaves: []string{dir}, origins: []string{filepath.Join(v2root, origin)}}
	if cpuMilli > 0 {
		v := fmt.Sprintf("%d %d", cpuQuota(cpuMilli), cpuPeriodMicros)
		if err := writeCgroupFile(dir, "cpu.max", v); err != nil {
			cg.remove()
			return nil, err
		}
	}
	if memBytes > 0 {
		if err := writeCgroupFile(dir, "memory.max", strconv.FormatInt(memBytes, 10)); err != nil {
			cg.remove()
			return nil, err
		}
		// Without swap the limit is a limit; absent without swap accounting.
		_ = writeCgroupFile(dir, "memory.swap.max", "0")
	}
	return cg, nil
}

func setupV1(root, controller, leaf string, cpuMilli, memBytes int64) (dir, origin string, err error) {
	mount := filepath.Join(root, controller)
	if _, err := os.Stat(filepath.Join(mount, "cgroup.procs")); err != nil {
		return "", "", fmt.Errorf("no cgroup v2 hierarchy with the %s controller under %s and no v1 %s hierarchy at %s", controller, root, controller, mount)
	}
	own, err := ownCgroup(controller)
	if err != nil {
		return "", "", err
	}
	if err := mkdirCgroup(filepath.Join(mount, "skiff")); err != nil {
		return "", "", err
	}
	dir = filepath.Join(mount, "skiff", leaf)
	if err := mkdirCgroup(dir); err != nil {
		return "", "", err
	}
	switch controller {
	case "cpu":
		err = writeCgroupFile(dir, "cpu.cfs_period_us", strconv.Itoa(cpuPeriodMicros))
		if err == nil {
			err = writeCgroupFile(dir, "cpu.cfs_quota_us", strconv.FormatInt(cpuQuota(cpuMilli), 10))
		}
	case "memory":
		err = writeCgroupFile(dir, "memory.limit_in_bytes", strconv.FormatInt(memBytes, 10))
		if err == nil {
			// memory+swap, so that the replica cannot swap past its limit;
			// the file is absent without swap accounting.
			_ = writeCgroupFile(dir, "memory.memsw.limit_in_bytes", strconv.FormatInt(memBytes, 10))
		}
	}
	if err != nil {
		_ = syscall.Rmdir(dir)
		return "", "", err
	}
	return dir, filepath.Join(mount, own), nil
}

func cpuQuota(cpuMilli int64) int64 {
	q := cpuMilli * cpuPeriodMicros / 1000
	return max(q, 1000) // the kernel's minimum quota is 1 ms
}

// ownCgroup reads this process's cgroup path for a v1 controller, or the
// v2 path when controller is "".
func ownCgroup(controller string) (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("reading own cgroup: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if controller == "" && parts[0] == "0" && parts[1] == "" {
			return parts[2], nil
		}
		if controller != "" && contains(strings.Split(parts[1], ","), controller) {
			return parts[2], nil
		}
	}
	return "", fmt.Errorf("own cgroup for %q not found in /proc/self/cgroup", controller)
}

func mkdirCgroup(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s not writable: %w", filepath.Dir(dir), err)
	}
	return nil
}

func writeCgroupFile(dir, file, value string) error {
	p := filepath.Join(dir, file)
	// No O_CREATE: cgroup files exist or the kernel does not offer them.
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(value)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("writing %q to %s: %w", value, p, err)
	}
	return nil
}

// enter moves the calling process (all its threads) into the replica's
// cgroups, so that a child forked now starts inside them.
func (cg *cgroup) enter() error {
	pid := strconv.Itoa(os.Getpid())
	for _, dir := range cg.leaves {
		if err := writeCgroupFile(dir, "cgroup.procs", pid); err != nil {
			return err
		}
	}
	return nil
}

// leave moves the calling process back to where it came from, so that the
// shim is neither charged for nor killed with the replica.
func (cg *cgroup) leave() error {
	pid := strconv.Itoa(os.Getpid())
	var errs []error
	for _, dir := range cg.origins {
		errs = append(errs, writeCgroupFile(dir, "cgroup.procs", pid))
	}
	return errors.Join(errs...)
}

// oomKilled reports whether the kernel OOM killer killed a process in the
// replica's memory cgroup.
func (cg *cgroup) oomKilled() bool {
	for _, dir := range cg.leaves {
		for _, f := range []string{"memory.events", "memory.oom_control"} {
			data, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				k, v, _ := strings.Cut(sc.Text(), " ")
				if k == "oom_kill" && v != "0" {
					return true
				}
			}
		}
	}
	return false
}

// remove kills whatever still runs in the replica's cgroups and deletes
// them. Processes take a moment to leave a cgroup after SIGKILL, so rmdir
// is retried for up to timeout.
func (cg *cgroup) remove() error {
	return removeCgroups(cg.leaves, 2*time.Second)
}

func removeCgroups(leaves []string, timeout time.Duration) error {
	var errs []error
	for _, dir := range leaves {
		deadline := time.Now().Add(timeout)
		for {
			killCgroup(dir)
			err := syscall.Rmdir(dir)
			if err == nil || errors.Is(err, syscall.ENOENT) {
				break
			}
			if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dir, err))
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return errors.Join(errs...)
}

func killCgroup(dir string) {
	if writeCgroupFile(dir, "cgroup.kill", "1") == nil {
		return
	}
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
