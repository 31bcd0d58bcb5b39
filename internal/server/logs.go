package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/controller"
	"skiff.dev/skiff/internal/runtime"
	"skiff.dev/skiff/internal/store"
)

// logSource serves replica logs from the local runtime's files.
type logSource struct {
	store   store.Store
	runtime runtime.Runtime
	poll    time.Duration
}

var jobsResource = mustKind("Job").GroupResource()

func mustKind(name string) v1alpha1.Kind {
	k, ok := v1alpha1.LookupKind(name)
	if !ok {
		panic("unknown kind " + name)
	}
	return k
}

// OpenLog implements apiserver.LogSource. replica is "<group>-<index>".
func (l *logSource) OpenLog(ctx context.Context, namespace, jobName, replica string, opts apiserver.LogOptions) (io.ReadCloser, error) {
	job := &v1alpha1.Job{}
	if err := l.store.Get(ctx, namespace, jobName, job); err != nil {
		return nil, err
	}
	group, index, err := resolveReplica(job, replica)
	if err != nil {
		return nil, err
	}
	attempt := job.Status.Attempt
	// After a restart of one replica (failurePolicy.restartScope: Replica)
	// the current replicas carry different attempts: use the one listed.
	for _, rs := range job.Status.Replicas {
		if rs.Group == group && rs.Index == index {
			attempt = rs.Attempt
		}
	}
	current := attempt
	if opts.Attempt != nil {
		if *opts.Attempt < 0 || *opts.Attempt > job.Status.Attempt {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("attempt %d does not exist: job %s has attempts 0 to %d", *opts.Attempt, jobName, job.Status.Attempt))
		}
		attempt = *opts.Attempt
	}
	// Only the current attempt of a job still running may yet start a
	// replica worth waiting for.
	mayStart := attempt == current && job.Status.Phase != v1alpha1.JobSucceeded && job.Status.Phase != v1alpha1.JobFailed
	name := controller.ReplicaName(job.Name, group, index, attempt)
	if opener, ok := l.runtime.(runtime.LogOpener); ok {
		rc, err := opener.OpenLog(ctx, namespace, name, opts.Follow)
		if errors.Is(err, runtime.ErrNotFound) {
			return nil, apierrors.NewNotFound(jobsResource, fmt.Sprintf("%s (replica %s-%d has no log: it has not started)", jobName, group, index))
		}
		return rc, err
	}
	// A replica that has not started has no directory, so no log path yet.
	open := func() (*os.File, error) {
		path, err := l.runtime.LogPath(namespace, name)
		if err != nil {
			return nil, err
		}
		return os.Open(path)
	}
	notStarted := func(err error) bool {
		return errors.Is(err, os.ErrNotExist) || errors.Is(err, runtime.ErrNotFound)
	}
	f, err := open()
	for notStarted(err) && opts.Follow && mayStart {
		// The replica has not started yet: wait for it, as a follower expects.
		if !sleepCtx(ctx, l.poll) {
			return nil, ctx.Err()
		}
		f, err = open()
	}
	if notStarted(err) && !mayStart {
		return nil, apierrors.NewNotFound(jobsResource, fmt.Sprintf("%s (replica %s-%d never ran in attempt %d)", jobName, group, index, attempt))
	}
	if notStarted(err) {
		hint := "use -f to wait for it"
		if attempt > 0 {
			hint += fmt.Sprintf(", or --attempt %d for the previous attempt's log", attempt-1)
		}
		return nil, apierrors.NewNotFound(jobsResource, fmt.Sprintf("%s (replica %s-%d of attempt %d has no log yet: it has not started; %s)", jobName, group, index, attempt, hint))
	}
	if err != nil {
		return nil, fmt.Errorf("opening log of %s: %w", name, err)
	}
	if !opts.Follow {
		return f, nil
	}
	return &follower{ctx: ctx, f: f, done: func() bool {
		st, err := l.runtime.Status(ctx, namespace, name)
		return err != nil || st.State != runtime.Running
	}, poll: l.poll}, nil
}

// resolveReplica maps "worker-1" (or "" for the first replica) to a group
// and index of the job.
func resolveReplica(job *v1alpha1.Job, replica string) (string, int32, error) {
	if len(job.Spec.ReplicaGroups) == 0 {
		return "", 0, apierrors.NewBadRequest("job has no replica groups")
	}
	if replica == "" {
		return job.Spec.ReplicaGroups[0].Name, 0, nil
	}
	var names []string
	for _, g := range job.Spec.ReplicaGroups {
		for i := int32(0); i < g.Replicas; i++ {
			names = append(names, fmt.Sprintf("%s-%d", g.Name, i))
		}
		rest, ok := strings.CutPrefix(replica, g.Name+"-")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(rest)
		if err == nil && i >= 0 && int32(i) < g.Replicas {
			return g.Name, int32(i), nil
		}
	}
	if len(names) > 8 {
		names = append(names[:8], "...")
	}
	return "", 0, apierrors.NewBadRequest(fmt.Sprintf("replica %q is not part of job %s: use one of %s", replica, job.Name, strings.Join(names, ", ")))
}

// follower reads a growing log file until the replica has exited and the
// file is drained, or the request ends.
type follower struct {
	ctx  context.Context
	f    *os.File
	done func() bool
	poll time.Duration
}

func (r *follower) Read(p []byte) (int, error) {
	for {
		n, err := r.f.Read(p)
		if n > 0 || (err != nil && err != io.EOF) {
			return n, err
		}
		if r.done() {
			// Drain what the replica wrote just before it exited.
			n, err = r.f.Read(p)
			if n > 0 || (err != nil && err != io.EOF) {
				return n, err
			}
			return 0, io.EOF
		}
		if !sleepCtx(r.ctx, r.poll) {
			return 0, io.EOF
		}
	}
}

func (r *follower) Close() error { return r.f.Close() }

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
