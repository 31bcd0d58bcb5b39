package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"skiff.dev/skiff/internal/runtime"
)

// Options configure a Runtime.
type Options struct {
	// Dir holds one directory per replica, e.g. DATA/replicas.
	Dir string
	// ShimCommand starts the supervisor; "--dir <replicaDir>" is appended.
	// Typically the skiff binary itself: {os.Executable(), "shim"}.
	ShimCommand []string
	// Logf receives the runtime's diagnostics; nil discards them.
	Logf func(format string, args ...any)

	// CgroupRoot is where cgroup hierarchies are mounted; default
	// DefaultCgroupRoot.
	CgroupRoot string
	// PollInterval is how often replicas adopted after a restart are
	// checked for exit; default 200ms.
	PollInterval time.Duration
	// StartTimeout bounds how long Start waits for the shim to report the
	// replica running; default 10s. A slow shim is not an error: Start
	// then returns the replica as Running without a PID yet.
	StartTimeout time.Duration
	// Now is the clock for stop deadlines; default time.Now.
	Now func() time.Time
	// Getenv supplies the base environment (PATH, HOME, LANG, TMPDIR);
	// default os.Getenv.
	Getenv func(string) string
}

// killWait is how long Shutdown waits after SIGKILL for replicas to go.
const killWait = 5 * time.Second

// Runtime runs replicas as supervised local processes. It implements
// runtime.Runtime.
type Runtime struct {
	opts  Options
	exits chan runtime.Status

	mu           sync.Mutex
	replicas     map[key]*entry
	shuttingDown bool
}

var _ runtime.Runtime = (*Runtime)(nil)

type key struct{ namespace, name string }

// entry is what this process knows about a replica beyond its directory,
// which stays the source of truth.
type entry struct {
	dir string
	// started is closed once the replica's directory is complete enough to
	// be read (Start finished); until then readers wait.
	started chan struct{}
	// done is closed once the replica's exit (or loss) was observed.
	done chan struct{}
	// killAt and killTimer: the earliest pending SIGKILL of a Stop.
	killAt    time.Time
	killTimer *time.Timer
	// termSent: a Stop delivered SIGTERM. Later Stops send no other: a
	// replica that checkpoints on SIGTERM would start over on each one (or
	// re-enter its handler), and controllers call Stop on every pass.
	termSent bool
}

// New returns a runtime over opts.Dir and adopts the replicas found
// running there, so that their exits are delivered on Exits.
func New(opts Options) (*Runtime, error) {
	if opts.Dir == "" {
		return nil, errors.New("local runtime: Options.Dir is empty: set the directory replicas live in")
	}
	if len(opts.ShimCommand) == 0 {
		return nil, errors.New("local runtime: Options.ShimCommand is empty: set the command that runs the shim")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("local runtime: %w", err)
	}
	opts.Dir = dir
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.CgroupRoot == "" {
		opts.CgroupRoot = DefaultCgroupRoot
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local runtime: creating %s: %w", dir, err)
	}
	r := &Runtime{
		opts:     opts,
		exits:    make(chan runtime.Status, 1024),
		replicas: make(map[key]*entry),
	}
	if _, err := r.List(context.Background()); err != nil {
		return nil, fmt.Errorf("local runtime: adopting replicas in %s: %w", dir, err)
	}
	return r, nil
}

// Exits delivers the status of each replica this runtime watches as it
// exits or is lost.
func (r *Runtime) Exits() <-chan runtime.Status { return r.exits }

// Start claims the replica's directory and starts its shim, or returns the
// status of the replica that claimed it before.
func (r *Runtime) Start(ctx context.Context, rep runtime.Replica) (runtime.Status, error) {
	if err := validateReplica(rep); err != nil {
		return runtime.Status{}, err
	}
	dir, err := replicaDir(r.opts.Dir, rep.Namespace, rep.Name)
	if err != nil {
		return runtime.Status{}, err
	}
	k := key{rep.Namespace, rep.Name}
	r.mu.Lock()
	if _, ok := r.replicas[k]; ok {
		r.mu.Unlock()
		return r.Status(ctx, rep.Namespace, rep.Name)
	}
	if r.shuttingDown {
		r.mu.Unlock()
		return runtime.Status{}, fmt.Errorf("replica %s/%s not started: the runtime is shutting down", rep.Namespace, rep.Name)
	}
	e := &entry{dir: dir, started: make(chan struct{}), done: make(chan struct{})}
	r.replicas[k] = e
	r.mu.Unlock()

	st, err := r.start(ctx, rep, k, e)
	close(e.started)
	return st, err
}

func (r *Runtime) start(ctx context.Context, rep runtime.Replica, k key, e *entry) (runtime.Status, error) {
	nsDir := filepath.Dir(e.dir)
	if err := os.MkdirAll(nsDir, 0o700); err != nil {
		r.forget(k)
		return runtime.Status{}, fmt.Errorf("replica %s/%s: %w", k.namespace, k.name, err)
	}
	err := os.Mkdir(e.dir, 0o700)
	if errors.Is(err, fs.ErrExist) {
		// Started before, by this server before a restart or by another
		// runtime over the same directory: report it, start nothing.
		ds, err := readStatus(e.dir, k.namespace, k.name)
		if err != nil {
			r.forget(k)
			return runtime.Status{}, err
		}
		r.watch(k, e, ds, nil)
		return ds.Status, nil
	}
	if err != nil {
		r.forget(k)
		return runtime.Status{}, fmt.Errorf("replica %s/%s: claiming %s: %w", k.namespace, k.name, e.dir, err)
	}
	// The name is claimed. From here on every failure is recorded in
	// exit.json, so the replica reads as failed rather than lost.
	fail := func(format string, args ...any) (runtime.Status, error) {
		err := fmt.Errorf(format, args...)
		msg := fmt.Sprintf("the runtime could not start the replica: %v", err)
		if rerr := startError(e.dir, r.opts.Now(), nil, msg); rerr != nil {
			r.opts.Logf("replica %s/%s: %v", k.namespace, k.name, rerr)
		}
		ds, _ := readStatus(e.dir, k.namespace, k.name)
		r.watch(k, e, ds, nil)
		return ds.Status, fmt.Errorf("replica %s/%s: %w", k.namespace, k.name, err)
	}
	lock, err := os.OpenFile(filepath.Join(e.dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fail("creating the lock: %w", err)
	}
	defer lock.Close()
	// Blocking: a concurrent lockHeld probe holds LOCK_SH for an instant.
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fail("locking: %w", err)
	}
	workDir := rep.WorkingDir
	if workDir == "" {
		workDir = e.dir
	} else if !filepath.IsAbs(workDir) {
		workDir = filepath.Join(e.dir, workDir)
	}
	sp := spec{
		Replica:    rep,
		Env:        replicaEnv(rep, r.opts.Getenv),
		WorkingDir: workDir,
		CgroupRoot: r.opts.CgroupRoot,
		CreatedAt:  r.opts.Now(),
	}
	// Durable, with the directory entries: after a machine crash the name
	// must still read as used, or the replica could run twice.
	if err := writeJSON(filepath.Join(e.dir, specFile), sp, true); err != nil {
		return fail("%w", err)
	}
	if err := syncDir(nsDir); err != nil {
		return fail("%w", err)
	}
	shimLog, err := os.OpenFile(filepath.Join(e.dir, shimLogFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fail("opening the shim log: %w", err)
	}
	defer shimLog.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return fail("creating the readiness pipe: %w", err)
	}
	defer readyR.Close()
	args := append(append([]string{}, r.opts.ShimCommand[1:]...), "--dir", e.dir)
	cmd := exec.Command(r.opts.ShimCommand[0], args...)
	cmd.Stdout, cmd.Stderr = shimLog, shimLog
	// Not the server's working directory, which the shim would pin.
	cmd.Dir = e.dir
	cmd.ExtraFiles = []*os.File{lock, readyW} // fds 3 and 4
	// Its own session: the shim must survive the server's death and not
	// receive signals aimed at the server's process group or terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		return fail("starting the shim %q: %w; check Options.ShimCommand", r.opts.ShimCommand[0], err)
	}
	// The shim holds the lock now; closing ours (deferred) leaves it held.
	r.watch(k, e, diskStatus{Status: runtime.Status{State: runtime.Running}}, cmd.Wait)

	// Wait for the shim to report the replica running (or failing): it
	// writes a line and closes the pipe, or dies, which closes it too.
	_ = readyR.SetReadDeadline(time.Now().Add(r.opts.StartTimeout))
	stop := context.AfterFunc(ctx, func() { _ = readyR.SetReadDeadline(time.Unix(1, 0)) })
	_, rerr := readyR.Read(make([]byte, 8))
	stop()
	if rerr != nil && errors.Is(rerr, os.ErrDeadlineExceeded) {
		if ctx.Err() != nil {
			ds, _ := readStatus(e.dir, k.namespace, k.name)
			return ds.Status, fmt.Errorf("replica %s/%s was started but not yet seen running: %w", k.namespace, k.name, ctx.Err())
		}
		r.opts.Logf("replica %s/%s: shim did not report within %v; see %s", k.namespace, k.name, r.opts.StartTimeout, filepath.Join(e.dir, shimLogFile))
	}
	ds, err := readStatus(e.dir, k.namespace, k.name)
	return ds.Status, err
}

// forget drops an entry whose directory was never claimed.
func (r *Runtime) forget(k key) {
	r.mu.Lock()
	delete(r.replicas, k)
	r.mu.Unlock()
}

// watch starts observing a replica until it exits. wait, if not nil,
// blocks until the replica's shim exits (shims this process started);
// adopted replicas are polled instead. A replica that is not running is
// recorded as done at once, without a delivery on Exits.
func (r *Runtime) watch(k key, e *entry, ds diskStatus, wait func() error) {
	if ds.State != runtime.Running {
		if ds.State == runtime.Lost {
			go r.cleanupLost(ds)
		}
		close(e.done)
		return
	}
	if ds.stop != nil {
		r.scheduleKill(k, e, ds.stop.KillAt)
	}
	go func() {
		if wait != nil {
			_ = wait() // the shim's exit status says nothing; exit.json does
		}
		tick := time.NewTicker(r.opts.PollInterval)
		defer tick.Stop()
		for {
			ds, err := readStatus(e.dir, k.namespace, k.name)
			switch {
			case errors.Is(err, runtime.ErrNotFound):
				close(e.done) // removed behind our back
				return
			case err != nil:
				r.opts.Logf("replica %s/%s: %v", k.namespace, k.name, err)
			case ds.State != runtime.Running:
				r.finish(k, e, ds)
				return
			}
			<-tick.C
		}
	}()
}

func (r *Runtime) finish(k key, e *entry, ds diskStatus) {
	if ds.State == runtime.Lost {
		r.cleanupLost(ds)
	}
	r.mu.Lock()
	if e.killTimer != nil {
		e.killTimer.Stop()
	}
	r.mu.Unlock()
	r.opts.Logf("replica %s/%s: %s exit code %d %s %s", k.namespace, k.name, ds.State, ds.ExitCode, ds.Reason, ds.Message)
	close(e.done)
	select {
	case r.exits <- ds.Status:
	default:
		r.opts.Logf("replica %s/%s: exit not delivered, Exits is full; reconcile with List", k.namespace, k.name)
	}
}

// cleanupLost kills what is left of a replica whose shim died, so that it
// cannot run beside the replica that replaces it, and removes its cgroups.
func (r *Runtime) cleanupLost(ds diskStatus) {
	if ds.pid == nil {
		return
	}
	if err := signalGroup(ds.pid, syscall.SIGKILL); err != nil {
		r.opts.Logf("replica %s/%s: %v", ds.Namespace, ds.Name, err)
	}
	if err := removeCgroups(ds.pid.Cgroups, 2*time.Second); err != nil {
		r.opts.Logf("replica %s/%s: %v", ds.Namespace, ds.Name, err)
	}
}

// lookup returns the replica's directory status, adopting the replica if
// this runtime did not know it.
func (r *Runtime) lookup(ctx context.Context, namespace, name string) (*entry, diskStatus, error) {
	dir, err := replicaDir(r.opts.Dir, namespace, name)
	if err != nil {
		return nil, diskStatus{}, err
	}
	k := key{namespace, name}
	r.mu.Lock()
	e, ok := r.replicas[k]
	r.mu.Unlock()
	if ok {
		select { // a Start in progress completes the directory first
		case <-e.started:
		case <-ctx.Done():
			return nil, diskStatus{}, ctx.Err()
		}
		ds, err := readStatus(dir, namespace, name)
		return e, ds, err
	}
	ds, err := readStatus(dir, namespace, name)
	if err != nil {
		return nil, ds, err
	}
	r.mu.Lock()
	if prev, ok := r.replicas[k]; ok { // adopted concurrently
		r.mu.Unlock()
		return prev, ds, nil
	}
	e = &entry{dir: dir, started: make(chan struct{}), done: make(chan struct{})}
	close(e.started)
	r.replicas[k] = e
	r.mu.Unlock()
	if ds.State == runtime.Running {
		r.opts.Logf("replica %s/%s: adopted running replica (pid %d)", namespace, name, ds.PID)
	}
	r.watch(k, e, ds, nil)
	return e, ds, nil
}

// Status reports a replica; runtime.ErrNotFound when it was never started.
func (r *Runtime) Status(ctx context.Context, namespace, name string) (runtime.Status, error) {
	_, ds, err := r.lookup(ctx, namespace, name)
	return ds.Status, err
}

// List reports every replica in the runtime's directory, adopting running
// ones this runtime did not start.
func (r *Runtime) List(ctx context.Context) ([]runtime.Status, error) {
	namespaces, err := os.ReadDir(r.opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("listing replicas: %w", err)
	}
	var out []runtime.Status
	for _, ns := range namespaces {
		if !ns.IsDir() || validateName(ns.Name(), "x") != nil {
			continue
		}
		names, err := os.ReadDir(filepath.Join(r.opts.Dir, ns.Name()))
		if err != nil {
			return nil, fmt.Errorf("listing replicas: %w", err)
		}
		for _, n := range names {
			if !n.IsDir() || validateName(ns.Name(), n.Name()) != nil {
				continue
			}
			_, ds, err := r.lookup(ctx, ns.Name(), n.Name())
			if errors.Is(err, runtime.ErrNotFound) {
				continue // removed meanwhile
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err != nil {
				// One unreadable replica must not hide the others (or
				// keep the server from starting); Status and Start on
				// it report the error.
				r.opts.Logf("listing replicas: %v", err)
				continue
			}
			out = append(out, ds.Status)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Stop asks a replica to stop: SIGTERM to its process group now, SIGKILL
// after grace (at once when grace <= 0). A replica already sent SIGTERM
// gets no second one; the earliest SIGKILL asked for wins.
func (r *Runtime) Stop(ctx context.Context, namespace, name string, grace time.Duration) error {
	return r.stop(ctx, namespace, name, grace, ReasonStopped)
}

func (r *Runtime) stop(ctx context.Context, namespace, name string, grace time.Duration, reason string) error {
	e, ds, err := r.lookup(ctx, namespace, name)
	if errors.Is(err, runtime.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if ds.State != runtime.Running {
		return nil
	}
	now := r.opts.Now()
	killAt := now.Add(max(grace, 0))
	if ds.stop == nil {
		// The first reason wins; the shim reads it when the replica exits.
		// Not fsynced: it only matters while the replica's processes live.
		sr := stopReason{Reason: reason, At: now, KillAt: killAt}
		if err := writeJSON(filepath.Join(e.dir, stopReasonFile), sr, false); err != nil {
			return fmt.Errorf("stopping replica %s/%s: %w", namespace, name, err)
		}
	}
	sig := syscall.SIGTERM
	if grace <= 0 {
		sig = syscall.SIGKILL
	}
	r.mu.Lock()
	again := sig == syscall.SIGTERM && e.termSent
	r.mu.Unlock()
	if !again {
		if err := signalGroup(ds.pid, sig); err != nil {
			return fmt.Errorf("stopping replica %s/%s: %w", namespace, name, err)
		}
		if sig == syscall.SIGTERM && ds.pid != nil { // delivered: not again
			r.mu.Lock()
			e.termSent = true
			r.mu.Unlock()
		}
	}
	// Also when SIGKILL was just sent: a replica whose shim had not yet
	// written pid.json could not be signalled, and the timer retries.
	r.scheduleKill(key{namespace, name}, e, killAt)
	return nil
}

// scheduleKill arranges SIGKILL for the replica's group at killAt unless an
// earlier one is pending or the replica exits first.
func (r *Runtime) scheduleKill(k key, e *entry, killAt time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.killTimer != nil && !e.killAt.After(killAt) {
		return
	}
	if e.killTimer != nil {
		e.killTimer.Stop()
	}
	e.killAt = killAt
	var kill func()
	kill = func() {
		ds, err := readStatus(e.dir, k.namespace, k.name)
		if err != nil || ds.State != runtime.Running {
			return
		}
		if ds.pid == nil { // still starting: try again shortly
			r.mu.Lock()
			e.killTimer = time.AfterFunc(r.opts.PollInterval, kill)
			r.mu.Unlock()
			return
		}
		r.opts.Logf("replica %s/%s: grace period over, sending SIGKILL", k.namespace, k.name)
		if err := signalGroup(ds.pid, syscall.SIGKILL); err != nil {
			r.opts.Logf("replica %s/%s: %v", k.namespace, k.name, err)
		}
	}
	e.killTimer = time.AfterFunc(killAt.Sub(r.opts.Now()), kill)
}

// Remove deletes an exited (or lost) replica's directory, logs included.
// Removing an unknown replica is not an error.
func (r *Runtime) Remove(ctx context.Context, namespace, name string) error {
	e, ds, err := r.lookup(ctx, namespace, name)
	if errors.Is(err, runtime.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if ds.State == runtime.Running {
		return fmt.Errorf("replica %s/%s is still running: stop it before removing it", namespace, name)
	}
	select { // let the watcher deliver the exit first
	case <-e.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := os.RemoveAll(e.dir); err != nil {
		return fmt.Errorf("removing replica %s/%s: %w", namespace, name, err)
	}
	r.forget(key{namespace, name})
	return nil
}

// LogPath returns the replica's combined stdout/stderr log file.
func (r *Runtime) LogPath(namespace, name string) (string, error) {
	dir, err := replicaDir(r.opts.Dir, namespace, name)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("replica %s/%s: %w", namespace, name, runtime.ErrNotFound)
		}
		return "", fmt.Errorf("replica %s/%s: %w", namespace, name, err)
	}
	return filepath.Join(dir, logFile), nil
}

// Shutdown stops every running replica with Reason "Shutdown" and waits
// until they exited, SIGKILLing them after grace. Starts fail afterwards.
func (r *Runtime) Shutdown(ctx context.Context, grace time.Duration) error {
	r.mu.Lock()
	r.shuttingDown = true
	r.mu.Unlock()
	list, err := r.List(ctx)
	if err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	var errs []error
	var waiting []key
	for _, st := range list {
		if st.State != runtime.Running {
			continue
		}
		if err := r.stop(ctx, st.Namespace, st.Name, grace, ReasonShutdown); err != nil {
			errs = append(errs, err)
		}
		waiting = append(waiting, key{st.Namespace, st.Name})
	}
	timer := time.NewTimer(max(grace, 0) + killWait)
	defer timer.Stop()
	var left []string
	for _, k := range waiting {
		r.mu.Lock()
		e := r.replicas[k]
		r.mu.Unlock()
		if e == nil {
			continue
		}
		select {
		case <-e.done:
		case <-timer.C:
			timer.Reset(0) // everything after is reported, not awaited
			left = append(left, k.namespace+"/"+k.name)
		case <-ctx.Done():
			left = append(left, k.namespace+"/"+k.name)
		}
	}
	if len(left) > 0 {
		errs = append(errs, fmt.Errorf("replicas still running after shutdown: %s; they may be stuck in uninterruptible sleep", strings.Join(left, ", ")))
	}
	return errors.Join(errs...)
}
