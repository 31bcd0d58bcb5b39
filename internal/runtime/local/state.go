package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"skiff.dev/skiff/internal/runtime"
)

// Files in a replica directory; see doc.go.
const (
	lockFile       = "lock"
	specFile       = "spec.json"
	shimLogFile    = "shim.log"
	logFile        = "log"
	pidFile        = "pid.json"
	stopReasonFile = "stop-reason"
	exitFile       = "exit.json"
)

// Reasons the runtime sets on exits it caused.
const (
	ReasonStopped    = "Stopped"
	ReasonShutdown   = "Shutdown"
	ReasonStartError = "StartError"
	// ReasonOOMKilled: the kernel killed the replica because it exceeded
	// its memory limit.
	ReasonOOMKilled = "OOMKilled"
)

// spec is what Start writes for the shim.
type spec struct {
	Replica runtime.Replica `json:"replica"`
	// Env and WorkingDir are resolved by the server.
	Env        []string `json:"env"`
	WorkingDir string   `json:"workingDir"`
	// CgroupRoot is where cgroup hierarchies are mounted.
	CgroupRoot string    `json:"cgroupRoot"`
	CreatedAt  time.Time `json:"createdAt"`
}

// pidInfo is written by the shim once the replica runs.
type pidInfo struct {
	PID int `json:"pid"`
	// PIDStartTime is field 22 of /proc/<pid>/stat; with PID it names
	// the process even after the pid is reused.
	PIDStartTime  uint64    `json:"pidStartTime"`
	ShimPID       int       `json:"shimPid"`
	ShimStartTime uint64    `json:"shimStartTime"`
	StartedAt     time.Time `json:"startedAt"`
	Cgroups       []string  `json:"cgroups,omitempty"`
	Warnings      []string  `json:"warnings,omitempty"`
}

// exitInfo is written by the shim after the replica exited.
type exitInfo struct {
	PID        int       `json:"pid,omitempty"`
	ExitCode   int       `json:"exitCode"`
	Signal     string    `json:"signal,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Message    string    `json:"message,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt"`
	Warnings   []string  `json:"warnings,omitempty"`
}

// stopReason is written by Stop and Shutdown before they signal, so that
// the shim can tell why the replica ended and a server that restarts
// during the grace period can still send SIGKILL on time.
type stopReason struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	KillAt time.Time `json:"killAt"`
}

// writeFileAtomic replaces path with data: readers see the old file or the
// new one, never a part. With durable set the data and the directory entry
// are fsynced, so the file survives a machine crash.
func writeFileAtomic(path string, data []byte, durable bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if durable {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("syncing %s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s: %w", path, err)
	}
	if durable {
		return syncDir(dir)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

func writeJSON(path string, v any, durable bool) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return writeFileAtomic(path, append(data, '\n'), durable)
}

// readJSON decodes path into v; a missing file is reported as
// fs.ErrNotExist so callers can tell it from a corrupt one.
func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decoding %s: %w", path, err)
	}
	return nil
}

// lockHeld reports whether some process (the shim, or the server while it
// starts one) holds the replica's lock. A missing lock file means nobody
// ever held it.
func lockHeld(dir string) (bool, error) {
	f, err := os.Open(filepath.Join(dir, lockFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("probing replica lock: %w", err)
	}
	defer f.Close()
	// A shared probe never blocks another probe; the holder has LOCK_EX.
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("probing replica lock: %w", err)
	}
	return false, nil // closing f releases the probe
}

// diskStatus is what the replica directory says about a replica.
type diskStatus struct {
	runtime.Status
	pid  *pidInfo // nil before the shim wrote it
	stop *stopReason
}

// readStatus derives a replica's status from its directory. The order of
// the checks matters: the shim writes exit.json before it exits (and so
// before its lock is released), so exit.json is read again after finding
// the lock free.
func readStatus(dir, namespace, name string) (diskStatus, error) {
	ds := diskStatus{Status: runtime.Status{Namespace: namespace, Name: name}}
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ds, fmt.Errorf("replica %s/%s: %w", namespace, name, runtime.ErrNotFound)
		}
		return ds, fmt.Errorf("replica %s/%s: %w", namespace, name, err)
	}
	if ok, err := readExit(dir, &ds); ok || err != nil {
		return ds, err
	}
	held, err := lockHeld(dir)
	if err != nil {
		return ds, err
	}
	if err := readPid(dir, &ds); err != nil {
		return ds, err
	}
	var sr stopReason
	if err := readJSON(filepath.Join(dir, stopReasonFile), &sr); err == nil {
		ds.stop = &sr
	}
	if held {
		ds.State = runtime.Running
		return ds, nil
	}
	if ok, err := readExit(dir, &ds); ok || err != nil {
		return ds, err
	}
	ds.State = runtime.Lost
	if ds.pid == nil {
		ds.Message = "the replica's start was interrupted before it ran (the server or its supervisor died); its exit status is unknown"
	} else {
		ds.Message = fmt.Sprintf("the replica's supervisor (pid %d) died without recording an exit status; its processes were killed and its exit status is unknown", ds.pid.ShimPID)
	}
	return ds, nil
}

func readExit(dir string, ds *diskStatus) (bool, error) {
	var ex exitInfo
	err := readJSON(filepath.Join(dir, exitFile), &ex)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("replica %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	ds.State = runtime.Exited
	ds.PID = ex.PID
	ds.ExitCode = ex.ExitCode
	ds.Signal = ex.Signal
	ds.Reason = ex.Reason
	ds.Message = ex.Message
	ds.StartedAt = ex.StartedAt
	ds.FinishedAt = ex.FinishedAt
	ds.Warnings = ex.Warnings
	return true, nil
}

func readPid(dir string, ds *diskStatus) error {
	var pi pidInfo
	err := readJSON(filepath.Join(dir, pidFile), &pi)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("replica %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	ds.pid = &pi
	ds.PID = pi.PID
	ds.StartedAt = pi.StartedAt
	ds.Warnings = pi.Warnings
	return nil
}
