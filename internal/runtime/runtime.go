package runtime

import (
	"context"
	"errors"
	"io"
	"time"
)

// Replica is one process to run. Name is deterministic
// (<job>-<group>-<index>-<attempt>) and, with Namespace, identifies the
// replica forever: a runtime starts a given (Namespace, Name) at most once.
type Replica struct {
	Namespace string
	Name      string
	// Owner is informational: the job the replica belongs to.
	Owner      string
	Command    []string
	Args       []string
	Env        []string // KEY=VALUE, appended to a minimal base environment
	WorkingDir string
	// CPUMilli and MemoryBytes are limits applied with cgroups where the
	// hierarchy is writable; zero means no limit.
	CPUMilli    int64
	MemoryBytes int64
	// GPUs are device indices given exclusively to this replica; they become
	// CUDA_VISIBLE_DEVICES (set to "" when empty so no GPU is visible).
	// The pod runtime requests len(GPUs) nvidia.com/gpu instead: on a
	// cluster the device plugin picks the devices.
	GPUs []int

	// What the pod runtime (Kubernetes mode) uses; the local runtime
	// ignores it.

	// Image is the container image.
	Image string
	// Node is the node the scheduler placed the replica on.
	Node string
	// OwnerUID is the uid of the job (Owner), for owner references.
	OwnerUID string
	// Subdomain names the job's headless service; the replica is reached
	// at <Name>.<Subdomain>.<Namespace>.svc.
	Subdomain string
	// Annotations are copied onto the pod.
	Annotations map[string]string
}

// LogOpener is implemented by runtimes whose logs are not files (the pod
// runtime reads them through the Kubernetes API); LogPath fails for them.
type LogOpener interface {
	// OpenLog streams a replica's log; follow keeps it open until the
	// replica exits or ctx ends.
	OpenLog(ctx context.Context, namespace, name string, follow bool) (io.ReadCloser, error)
}

// State of a replica process.
type State string

// Replica states a runtime reports.
const (
	Running State = "Running"
	Exited  State = "Exited"
	// Lost means the process is gone and its exit status is unknown (for
	// example its supervisor was killed).
	Lost State = "Lost"
)

// Status is what a runtime knows about a replica.
type Status struct {
	Namespace string
	Name      string
	State     State
	PID       int
	// ExitCode is the process's exit code; 128+N when killed by signal N.
	ExitCode int
	// Signal names the signal that ended the process, if any.
	Signal string
	// Reason is set by the runtime for exits it caused: "Stopped" (Stop was
	// called), "Shutdown" (the server shut down cleanly), "StartError".
	Reason     string
	Message    string
	StartedAt  time.Time
	FinishedAt time.Time
	// Warnings are things the user should know, e.g. that cgroup limits
	// could not be applied and why.
	Warnings []string
}

// ErrNotFound is returned for a replica the runtime never started.
var ErrNotFound = errors.New("replica not found")

// Runtime runs replicas. Implementations: local (child processes) and, in
// Kubernetes mode, pods.
type Runtime interface {
	// Start runs r unless a replica with that Namespace/Name was ever started,
	// in which case it returns the existing replica's status and starts
	// nothing (idempotent; this is what keeps a replica from running twice
	// after a crash).
	Start(ctx context.Context, r Replica) (Status, error)
	// Status reports a replica; ErrNotFound when it was never started.
	Status(ctx context.Context, namespace, name string) (Status, error)
	// Stop sends SIGTERM to the replica's process group and SIGKILL after
	// grace. It returns at once; the exit is reported like any other.
	// Stopping a replica again sends no second SIGTERM (controllers call it
	// on every pass); the earliest SIGKILL deadline wins. Stopping an
	// exited or unknown replica is not an error.
	Stop(ctx context.Context, namespace, name string, grace time.Duration) error
	// Remove forgets an exited replica and deletes its files (logs included).
	Remove(ctx context.Context, namespace, name string) error
	// List reports every replica the runtime knows, running or exited,
	// including ones started before a server restart.
	List(ctx context.Context) ([]Status, error)
	// LogPath is the replica's combined stdout/stderr log file, resolved
	// inside the runtime's directory (no path escapes).
	LogPath(namespace, name string) (string, error)
	// Exits delivers the status of each replica as it exits (buffered; a
	// slow reader may miss some and must reconcile with List).
	Exits() <-chan Status
	// Shutdown stops every running replica with Reason "Shutdown" and waits
	// up to grace for them to exit.
	Shutdown(ctx context.Context, grace time.Duration) error
}
