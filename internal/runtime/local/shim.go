package local

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"
)

// File descriptors the runtime passes to the shim (see doc.go).
const (
	shimLockFD  = 3
	shimReadyFD = 4
)

// exitStartError is the exit code of a replica whose command could not be
// started, as a shell reports a command it cannot run.
const exitStartError = 127

// ShimMain is the replica supervisor. The skiff binary calls it for its
// hidden "shim" subcommand with the arguments after it: "--dir
// <replicaDir>". It runs the replica described in the directory, waits for
// it and records how it ended; it returns the process exit code. It must
// be started by the runtime, which passes the replica's lock as fd 3 and a
// readiness pipe as fd 4.
func ShimMain(args []string) int {
	fset := flag.NewFlagSet("shim", flag.ContinueOnError)
	dir := fset.String("dir", "", "the replica's directory")
	if err := fset.Parse(args); err != nil {
		return 2
	}
	if *dir == "" || fset.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: shim --dir <replicaDir> (started by the skiff runtime, not by hand)")
		return 2
	}
	// The replica gets Pdeathsig, which the kernel sends when the thread
	// that forked it exits; pinning this goroutine keeps that thread alive
	// for as long as the shim.
	goruntime.LockOSThread()
	logf := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "%s shim: %s\n", time.Now().UTC().Format(time.RFC3339Nano), fmt.Sprintf(format, a...))
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		logf("%v", err)
		return 1
	}
	if err := runShim(abs, logf); err != nil {
		logf("%v", err)
		return 1
	}
	return 0
}

func runShim(dir string, logf func(string, ...any)) error {
	lock, err := inheritedLock(dir)
	if err != nil {
		return err
	}
	defer lock.Close() // releasing the lock tells the runtime the shim is gone
	ready := inheritedPipe()
	signalReady := func() {
		if ready != nil {
			_, _ = ready.WriteString("ok\n") // the server may be gone; that is fine
			ready.Close()
			ready = nil
		}
	}
	defer signalReady()

	for _, f := range []string{pidFile, exitFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("refusing to run: %s exists, the replica was already started once", f)
		}
	}
	var sp spec
	if err := readJSON(filepath.Join(dir, specFile), &sp); err != nil {
		return startError(dir, time.Now(), nil, fmt.Sprintf("cannot read the replica spec: %v", err))
	}
	r := sp.Replica
	if len(r.Command) == 0 {
		return startError(dir, time.Now(), nil, "the replica spec has no command")
	}
	log, err := os.OpenFile(filepath.Join(dir, logFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return startError(dir, time.Now(), nil, fmt.Sprintf("cannot open the replica log: %v", err))
	}
	defer log.Close()

	cg, warnings := setupCgroup(sp.CgroupRoot, dir, r.Namespace, r.Name, r.CPUMilli, r.MemoryBytes)
	for _, w := range warnings {
		logf("warning: %s", w)
	}
	cleanupCgroup := func() {
		if cg != nil {
			if err := cg.remove(); err != nil {
				logf("%v", err)
			}
		}
	}

	exe, err := findExecutable(r.Command[0], envValue(sp.Env, "PATH"), sp.WorkingDir)
	if err != nil {
		cleanupCgroup()
		return startError(dir, time.Now(), warnings, fmt.Sprintf("cannot start command %q: %v; check that it is installed and executable, or give its absolute path", r.Command[0], err))
	}
	cmd := &exec.Cmd{
		Path:   exe,
		Args:   append(append([]string{r.Command[0]}, r.Command[1:]...), r.Args...),
		Env:    sp.Env,
		Dir:    sp.WorkingDir,
		Stdout: log,
		Stderr: log,
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:   true,
			Pdeathsig: syscall.SIGKILL,
		},
	}
	if cg != nil {
		if err := cg.enter(); err != nil {
			warnings = append(warnings, "cgroup limits not applied: "+err.Error())
			_ = cg.leave()
			cleanupCgroup()
			cg = nil
		}
	}
	err = cmd.Start()
	if cg != nil {
		if lerr := cg.leave(); lerr != nil {
			logf("leaving the replica's cgroup: %v", lerr)
		}
	}
	startedAt := time.Now()
	if err != nil {
		cleanupCgroup()
		return startError(dir, startedAt, warnings, fmt.Sprintf("cannot start command %q: %v; check the command and the working directory %q", r.Command[0], err, sp.WorkingDir))
	}

	pid := cmd.Process.Pid
	pi := pidInfo{PID: pid, ShimPID: os.Getpid(), StartedAt: startedAt, Warnings: warnings}
	pi.PIDStartTime, _ = procStartTime(pid)
	pi.ShimStartTime, _ = procStartTime(os.Getpid())
	if cg != nil {
		pi.Cgroups = cg.leaves
	}
	// Not fsynced: pid.json only matters while this boot's processes live.
	if err := writeJSON(filepath.Join(dir, pidFile), pi, false); err != nil {
		logf("%v", err)
	}
	signalReady()

	waitErr := cmd.Wait()
	finishedAt := time.Now()
	ex := exitInfo{PID: pid, StartedAt: startedAt, FinishedAt: finishedAt, Warnings: warnings}
	var ee *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		ex.ExitCode, ex.Signal = exitCode(ws)
		if ex.Signal != "" {
			ex.Message = "terminated by " + ex.Signal
		}
	default:
		ex.ExitCode = 1
		ex.Message = fmt.Sprintf("waiting for the replica failed: %v", waitErr)
	}
	// A replica ends with its main process, as a container does: nothing
	// it left behind keeps running (or holding its GPUs).
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	oom := cg != nil && cg.oomKilled()
	cleanupCgroup()

	var sr stopReason
	if err := readJSON(filepath.Join(dir, stopReasonFile), &sr); err == nil && sr.Reason != "" {
		ex.Reason = sr.Reason
	} else if oom && ex.Signal == "SIGKILL" {
		ex.Reason = ReasonOOMKilled
		ex.Message = fmt.Sprintf("killed by the kernel for exceeding its memory limit of %d bytes; raise the replica's memory limit", r.MemoryBytes)
	}
	return writeJSON(filepath.Join(dir, exitFile), ex, true)
}

// startError records that the replica could not be started.
func startError(dir string, at time.Time, warnings []string, msg string) error {
	ex := exitInfo{
		ExitCode:   exitStartError,
		Reason:     ReasonStartError,
		Message:    msg,
		FinishedAt: at,
		Warnings:   warnings,
	}
	if err := writeJSON(filepath.Join(dir, exitFile), ex, true); err != nil {
		return fmt.Errorf("%s; recording that failed too: %w", msg, err)
	}
	return nil
}

// inheritedLock checks that fd 3 is dir's lock file (so that a shim
// started by hand cannot run a replica nobody holds the lock for) and
// keeps it from leaking into the replica.
func inheritedLock(dir string) (*os.File, error) {
	var fdStat, fileStat syscall.Stat_t
	if err := syscall.Fstat(shimLockFD, &fdStat); err != nil {
		return nil, fmt.Errorf("fd %d is not the replica's lock (%v): the shim must be started by the skiff runtime", shimLockFD, err)
	}
	if err := syscall.Stat(filepath.Join(dir, lockFile), &fileStat); err != nil {
		return nil, fmt.Errorf("replica lock: %w", err)
	}
	if fdStat.Dev != fileStat.Dev || fdStat.Ino != fileStat.Ino {
		return nil, fmt.Errorf("fd %d is not %s: the shim must be started by the skiff runtime", shimLockFD, filepath.Join(dir, lockFile))
	}
	syscall.CloseOnExec(shimLockFD)
	f := os.NewFile(shimLockFD, lockFile)
	// Same open file description as the server's lock, so this succeeds
	// at once and only confirms the lock is held by us.
	if err := syscall.Flock(shimLockFD, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking the replica: %w", err)
	}
	return f, nil
}

// inheritedPipe returns the readiness pipe, or nil when fd 4 is not one.
func inheritedPipe() *os.File {
	var st syscall.Stat_t
	if err := syscall.Fstat(shimReadyFD, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		return nil
	}
	syscall.CloseOnExec(shimReadyFD)
	return os.NewFile(shimReadyFD, "ready")
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}
