package simulated

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"skiff.dev/skiff/internal/runtime"
)

// DurationEnv is the replica environment variable (KEY=VALUE in
// runtime.Replica.Env) that says how many milliseconds a simulated replica
// runs before it exits with code 0. It has no SKIFF_ prefix because job
// templates may not set variables with that reserved prefix.
const DurationEnv = "SIMULATED_RUNTIME_MS"

// ExitSignaled is the exit code of a replica ended by Stop or Shutdown: the
// code a process killed by SIGTERM reports (128+15).
const ExitSignaled = 143

// Options configure a Runtime.
type Options struct {
	// Clock drives the replicas' timers (default: the real clock); tests pass
	// a fake clock to make runs deterministic.
	Clock clock.WithDelayedExecution
	// DefaultDuration is how long a replica without DurationEnv runs; zero
	// means it runs until it is stopped, like a server.
	DefaultDuration time.Duration
	// ExitBuffer is the capacity of the Exits channel (default 65536).
	// Exits beyond it are still delivered, by a goroutine each, so a slow
	// reader loses none, only their order.
	ExitBuffer int
}

// Runtime is the simulated runtime. It is safe for concurrent use.
type Runtime struct {
	clock           clock.WithDelayedExecution
	defaultDuration time.Duration
	exits           chan runtime.Status
	done            chan struct{}

	mu       sync.Mutex
	replicas map[string]*replica
	closed   bool
}

type replica struct {
	status runtime.Status
	timer  clock.Timer // nil once exited or when it runs until stopped
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns an empty simulated runtime.
func New(opts Options) *Runtime {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.ExitBuffer <= 0 {
		opts.ExitBuffer = 1 << 16
	}
	return &Runtime{
		clock:           opts.Clock,
		defaultDuration: opts.DefaultDuration,
		exits:           make(chan runtime.Status, opts.ExitBuffer),
		done:            make(chan struct{}),
		replicas:        map[string]*replica{},
	}
}

func key(namespace, name string) string { return namespace + "/" + name }

// Duration is how long r runs: DurationEnv when present (the last one
// wins, as in a process environment), else def. ok is false when r runs
// until stopped.
func Duration(r runtime.Replica, def time.Duration) (d time.Duration, ok bool, err error) {
	d, ok = def, def > 0
	for _, kv := range r.Env {
		k, v, found := strings.Cut(kv, "=")
		if !found || k != DurationEnv {
			continue
		}
		ms, perr := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if perr != nil || ms < 0 {
			return 0, false, fmt.Errorf("replica %s: env %s=%q: give a whole number of milliseconds, 0 or more", r.Name, DurationEnv, v)
		}
		d, ok = time.Duration(ms)*time.Millisecond, true
	}
	return d, ok, nil
}

// Start records r as running and schedules its exit. A name started before
// is not started again: its current status is returned.
func (rt *Runtime) Start(_ context.Context, r runtime.Replica) (runtime.Status, error) {
	if r.Name == "" {
		return runtime.Status{}, fmt.Errorf("replica name is empty: give the replica a name")
	}
	d, timed, err := Duration(r, rt.defaultDuration)
	if err != nil {
		return runtime.Status{}, err
	}
	k := key(r.Namespace, r.Name)
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if existing, ok := rt.replicas[k]; ok {
		return existing.status, nil
	}
	if rt.closed {
		return runtime.Status{}, fmt.Errorf("starting replica %s: the runtime is shut down", r.Name)
	}
	rep := &replica{status: runtime.Status{
		Namespace: r.Namespace, Name: r.Name, State: runtime.Running, StartedAt: rt.clock.Now(),
	}}
	rt.replicas[k] = rep
	if timed {
		// The callback must not touch the clock: a fake clock runs it while
		// holding its own lock. The replica ends exactly when it was due.
		due := rep.status.StartedAt.Add(d)
		rep.timer = rt.clock.AfterFunc(d, func() { rt.exit(k, due, true, 0, "", "", "") })
	}
	return rep.status, nil
}

// exit ends a running replica at the given time and delivers its status;
// it does nothing to a replica that already exited (a timer racing Stop).
// fired says the replica's own timer called it, so there is no timer left
// to stop.
func (rt *Runtime) exit(k string, at time.Time, fired bool, code int, signal, reason, msg string) {
	rt.mu.Lock()
	rep, ok := rt.replicas[k]
	if !ok || rep.status.State != runtime.Running {
		rt.mu.Unlock()
		return
	}
	if fired {
		rep.timer = nil
	}
	rt.exitLocked(rep, at, code, signal, reason, msg)
	st := rep.status
	rt.mu.Unlock()
	rt.deliver(st)
}

func (rt *Runtime) exitLocked(rep *replica, at time.Time, code int, signal, reason, msg string) {
	if rep.timer != nil {
		rep.timer.Stop()
		rep.timer = nil
	}
	rep.status.State = runtime.Exited
	rep.status.ExitCode = code
	rep.status.Signal = signal
	rep.status.Reason = reason
	rep.status.Message = msg
	rep.status.FinishedAt = at
}

func (rt *Runtime) deliver(st runtime.Status) {
	select {
	case rt.exits <- st:
	default:
		go func() {
			select {
			case rt.exits <- st:
			case <-rt.done:
			}
		}()
	}
}

// Status reports a replica; runtime.ErrNotFound when it was never started
// (or was removed).
func (rt *Runtime) Status(_ context.Context, namespace, name string) (runtime.Status, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rep, ok := rt.replicas[key(namespace, name)]
	if !ok {
		return runtime.Status{}, fmt.Errorf("replica %s/%s: %w", namespace, name, runtime.ErrNotFound)
	}
	return rep.status, nil
}

// Stop ends a running replica at once with Reason "Stopped": a simulated
// process honours SIGTERM immediately, so grace is never needed.
func (rt *Runtime) Stop(_ context.Context, namespace, name string, _ time.Duration) error {
	rt.exit(key(namespace, name), rt.clock.Now(), false, ExitSignaled, "SIGTERM", "Stopped", "stopped by the control plane")
	return nil
}

// Remove forgets an exited replica. Removing a running replica is an error;
// removing an unknown one returns runtime.ErrNotFound.
func (rt *Runtime) Remove(_ context.Context, namespace, name string) error {
	k := key(namespace, name)
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rep, ok := rt.replicas[k]
	if !ok {
		return fmt.Errorf("replica %s: %w", k, runtime.ErrNotFound)
	}
	if rep.status.State == runtime.Running {
		return fmt.Errorf("replica %s is still running: stop it first", k)
	}
	delete(rt.replicas, k)
	return nil
}

// List reports every replica the runtime knows, ordered by namespace and
// name.
func (rt *Runtime) List(context.Context) ([]runtime.Status, error) {
	rt.mu.Lock()
	out := make([]runtime.Status, 0, len(rt.replicas))
	for _, rep := range rt.replicas {
		out = append(out, rep.status)
	}
	rt.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// LogPath always fails: simulated replicas print nothing.
func (rt *Runtime) LogPath(namespace, name string) (string, error) {
	return "", fmt.Errorf("replica %s/%s is simulated and writes no log", namespace, name)
}

// Exits delivers the status of each replica as it exits.
func (rt *Runtime) Exits() <-chan runtime.Status { return rt.exits }

// Running counts the replicas that run now.
func (rt *Runtime) Running() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	n := 0
	for _, rep := range rt.replicas {
		if rep.status.State == runtime.Running {
			n++
		}
	}
	return n
}

// Shutdown ends every running replica with Reason "Shutdown" and refuses
// later Starts. Simulated replicas exit at once, so it never waits.
func (rt *Runtime) Shutdown(context.Context, time.Duration) error {
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return nil
	}
	rt.closed = true
	now := rt.clock.Now()
	var ended []runtime.Status
	for _, rep := range rt.replicas {
		if rep.status.State == runtime.Running {
			rt.exitLocked(rep, now, ExitSignaled, "SIGTERM", "Shutdown", "the server shut down")
			ended = append(ended, rep.status)
		}
	}
	rt.mu.Unlock()
	for _, st := range ended {
		select {
		case rt.exits <- st:
		default: // nobody reads any more; List still reports them
		}
	}
	close(rt.done)
	return nil
}
