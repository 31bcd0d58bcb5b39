package controller_test

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/controller"
	"skiff.dev/skiff/internal/runtime"
	"skiff.dev/skiff/internal/scheduler"
	"skiff.dev/skiff/internal/store"
)

// fakeRuntime keeps replicas in memory; tests decide when they exit.
type fakeRuntime struct {
	mu       sync.Mutex
	replicas map[string]*runtime.Status
	specs    map[string]runtime.Replica
	starts   map[string]int
	graces   map[string]time.Duration
	exits    chan runtime.Status
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{replicas: map[string]*runtime.Status{}, specs: map[string]runtime.Replica{}, starts: map[string]int{}, graces: map[string]time.Duration{}, exits: make(chan runtime.Status, 100)}
}

func (f *fakeRuntime) Start(_ context.Context, r runtime.Replica) (runtime.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.Namespace + "/" + r.Name
	if st, ok := f.replicas[key]; ok {
		return *st, nil
	}
	f.starts[key]++
	f.specs[key] = r
	st := &runtime.Status{Namespace: r.Namespace, Name: r.Name, State: runtime.Running, StartedAt: time.Now()}
	f.replicas[key] = st
	return *st, nil
}

func (f *fakeRuntime) Status(_ context.Context, ns, name string) (runtime.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.replicas[ns+"/"+name]; ok {
		return *st, nil
	}
	return runtime.Status{}, runtime.ErrNotFound
}

func (f *fakeRuntime) exit(ns, name string, code int, reason string) bool {
	f.mu.Lock()
	st, ok := f.replicas[ns+"/"+name]
	if !ok || st.State != runtime.Running {
		f.mu.Unlock()
		return false
	}
	st.State, st.ExitCode, st.Reason, st.FinishedAt = runtime.Exited, code, reason, time.Now()
	copy := *st
	f.mu.Unlock()
	f.exits <- copy
	return true
}

func (f *fakeRuntime) Stop(_ context.Context, ns, name string, grace time.Duration) error {
	f.mu.Lock()
	f.graces[ns+"/"+name] = grace
	f.mu.Unlock()
	f.exit(ns, name, 143, "Stopped")
	return nil
}

func (f *fakeRuntime) Remove(_ context.Context, ns, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.replicas, ns+"/"+name)
	return nil
}

func (f *fakeRuntime) List(context.Context) ([]runtime.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []runtime.Status
	for _, st := range f.replicas {
		out = append(out, *st)
	}
	return out, nil
}

func (f *fakeRuntime) LogPath(ns, name string) (string, error) { return "/dev/null", nil }
func (f *fakeRuntime) Exits() <-chan runtime.Status            { return f.exits }
func (f *fakeRuntime) Shutdown(context.Context, time.Duration) error {
	return nil
}

func (f *fakeRuntime) startCount(ns, name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts[ns+"/"+name]
}

type harness struct {
	t     *testing.T
	store store.Store
	rt    *fakeRuntime
	ctx   context.Context
}

func newHarness(t *testing.T) *harness { return newHarnessWith(t, 10*time.Millisecond) }

func newHarnessWith(t *testing.T, backoff time.Duration) *harness {
	t.Helper()
	return newHarnessConfigured(t, backoff, nil)
}

// newHarnessConfigured is newHarnessWith where edit, when set, adjusts the
// job controller before it runs.
func newHarnessConfigured(t *testing.T, backoff time.Duration, edit func(*controller.JobController)) *harness {
	t.Helper()
	return newHarnessFull(t, backoff, edit, nil)
}

// seedCapacity stores one node (8 CPUs, 32 GiB, 4 GPUs), the default
// flavor and a default queue (BestEffortFIFO) holding all of it.
func seedCapacity(t *testing.T, ctx context.Context, st store.Store) {
	t.Helper()
	gpus := resource.MustParse("4")
	node := &v1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: v1alpha1.NodeSpec{Capacity: v1alpha1.Resources{
		CPU: resource.NewQuantity(8, resource.DecimalSI), Memory: resource.NewQuantity(32<<30, resource.BinarySI), GPU: &gpus}}}
	flavor := &v1alpha1.Flavor{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	queue := &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha1.QueueSpec{
		QueueingStrategy: v1alpha1.BestEffortFIFO,
		Flavors: []v1alpha1.FlavorQuota{{Name: "default", Resources: []v1alpha1.ResourceQuota{
			{Name: "cpu", NominalQuota: resource.MustParse("8")}, {Name: "memory", NominalQuota: resource.MustParse("32Gi")},
			{Name: "gpu", NominalQuota: resource.MustParse("4")}}}}}}
	for _, o := range []v1alpha1.Object{node, flavor, queue} {
		v1alpha1.SetTypeMeta(o)
		if err := st.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}

// newHarnessFull is newHarnessConfigured where loopStore, when set, wraps
// the store the scheduling loop writes through.
func newHarnessFull(t *testing.T, backoff time.Duration, edit func(*controller.JobController), loopStore func(store.Store) store.Store) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	clk := clock.RealClock{}
	st := store.NewMemory(clk.Now)
	h := &harness{t: t, store: st, rt: newFakeRuntime(), ctx: ctx}
	seedCapacity(t, ctx, st)
	rec := &controller.Recorder{Store: st, Clock: clk, Source: "test"}
	jobs := &controller.JobController{Store: st, Runtime: h.rt, Clock: clk, Recorder: rec, BackoffBase: backoff, StopGrace: time.Second}
	if edit != nil {
		edit(jobs)
	}
	var schedStore store.Store = st
	if loopStore != nil {
		schedStore = loopStore(st)
	}
	sched := &controller.SchedulingLoop{Store: schedStore, Clock: clk, Recorder: rec, Interval: 100 * time.Millisecond}
	go func() { _ = jobs.Run(ctx) }()
	go func() { _ = sched.Run(ctx) }()
	return h
}

func (h *harness) create(name string, replicas, backoff int32, gpus string) {
	h.t.Helper()
	g := resource.MustParse(gpus)
	job := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: v1alpha1.JobSpec{
		ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: replicas, Template: v1alpha1.ReplicaTemplate{
			Command: []string{"train"}, Env: []v1alpha1.EnvVar{{Name: "A", Value: "b"}}, Resources: v1alpha1.Resources{GPU: &g}}}},
		RunPolicy: v1alpha1.RunPolicy{BackoffLimit: &backoff},
	}}
	v1alpha1.Default(job)
	if err := h.store.Create(h.ctx, job); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) job(name string) *v1alpha1.Job {
	h.t.Helper()
	j := &v1alpha1.Job{}
	if err := h.store.Get(h.ctx, "default", name, j); err != nil {
		h.t.Fatal(err)
	}
	return j
}

func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) waitPhase(name string, phase v1alpha1.JobPhase) *v1alpha1.Job {
	h.t.Helper()
	var j *v1alpha1.Job
	h.waitFor(name+" "+string(phase), func() bool { j = h.job(name); return j.Status.Phase == phase })
	return j
}

func TestGangStartsWithIdentityEnvAndExclusiveGPUs(t *testing.T) {
	h := newHarness(t)
	h.create("gang", 2, 0, "2")
	h.waitPhase("gang", v1alpha1.JobRunning)
	seen := map[string]bool{}
	for i, name := range []string{"gang-worker-0-0", "gang-worker-1-0"} {
		h.rt.mu.Lock()
		spec := h.rt.specs["default/"+name]
		h.rt.mu.Unlock()
		env := strings.Join(spec.Env, " ")
		for _, want := range []string{"SKIFF_JOB=gang", "SKIFF_GROUP=worker", "SKIFF_ATTEMPT=0", "A=b", "SKIFF_REPLICA_INDEX=" + string(rune('0'+i))} {
			if !strings.Contains(env, want) {
				t.Errorf("%s env %q lacks %s", name, env, want)
			}
		}
		if len(spec.GPUs) != 2 {
			t.Errorf("%s got GPUs %v, want 2", name, spec.GPUs)
		}
		for _, g := range spec.GPUs {
			if seen[string(rune(g))] {
				t.Errorf("GPU %d given to two replicas", g)
			}
			seen[string(rune(g))] = true
		}
	}
	h.rt.exit("default", "gang-worker-0-0", 0, "")
	h.rt.exit("default", "gang-worker-1-0", 0, "")
	j := h.waitPhase("gang", v1alpha1.JobSucceeded)
	if j.Status.CompletionTime == nil {
		t.Error("no completion time")
	}
}

func TestOneFailureRestartsTheWholeGangUntilBackoffLimit(t *testing.T) {
	h := newHarness(t)
	h.create("flaky", 2, 1, "0")
	h.waitPhase("flaky", v1alpha1.JobRunning)
	h.rt.exit("default", "flaky-worker-0-0", 1, "")
	// The healthy peer is stopped and the gang comes back as attempt 1.
	h.waitFor("attempt 1 running", func() bool {
		return h.rt.startCount("default", "flaky-worker-0-1") == 1 && h.rt.startCount("default", "flaky-worker-1-1") == 1
	})
	if st, _ := h.rt.Status(h.ctx, "default", "flaky-worker-1-0"); st.Reason != "Stopped" {
		t.Errorf("peer of the failed replica: %+v, want it stopped", st)
	}
	h.waitPhase("flaky", v1alpha1.JobRunning)
	h.rt.exit("default", "flaky-worker-1-1", 2, "")
	j := h.waitPhase("flaky", v1alpha1.JobFailed)
	if j.Status.Restarts != 1 {
		t.Errorf("restarts = %d, want 1", j.Status.Restarts)
	}
	if c := j.Status.Conditions; !strings.Contains(conditionText(j), "replica worker-1 exited with code 2") {
		t.Errorf("conditions = %+v", c)
	}
	if h.rt.startCount("default", "flaky-worker-0-2") != 0 {
		t.Error("a third attempt started past backoffLimit 1")
	}
}

func conditionText(j *v1alpha1.Job) string {
	var s []string
	for _, c := range j.Status.Conditions {
		s = append(s, c.Type+"="+string(c.Status)+": "+c.Message)
	}
	return strings.Join(s, "\n")
}

func TestSuspendReleasesResourcesAndResumeStartsANewAttempt(t *testing.T) {
	h := newHarness(t)
	h.create("big", 1, 0, "4")
	h.waitPhase("big", v1alpha1.JobRunning)
	h.create("waiter", 1, 0, "4")
	h.waitFor("waiter pending with a reason", func() bool {
		return strings.Contains(conditionText(h.job("waiter")), "gpu")
	})
	yes := true
	h.update("big", func(j *v1alpha1.Job) { j.Spec.RunPolicy.Suspend = &yes })
	j := h.waitPhase("big", v1alpha1.JobSuspended)
	if j.Status.Admission != nil {
		t.Error("a suspended job keeps its admission")
	}
	h.waitPhase("waiter", v1alpha1.JobRunning)
	h.rt.exit("default", "waiter-worker-0-0", 0, "")
	h.waitPhase("waiter", v1alpha1.JobSucceeded)

	no := false
	h.update("big", func(j *v1alpha1.Job) { j.Spec.RunPolicy.Suspend = &no })
	h.waitFor("big resumed as attempt 1", func() bool { return h.rt.startCount("default", "big-worker-0-1") == 1 })
	if j := h.job("big"); j.Status.Restarts != 0 {
		t.Errorf("suspend counted as a restart: %d", j.Status.Restarts)
	}
}

func TestTTLDeletesAFinishedJobAndItsEvents(t *testing.T) {
	h := newHarness(t)
	h.create("short", 1, 0, "0")
	ttl := int32(0)
	h.update("short", func(j *v1alpha1.Job) { j.Spec.RunPolicy.TTLSecondsAfterFinished = &ttl })
	h.waitPhase("short", v1alpha1.JobRunning)
	h.rt.exit("default", "short-worker-0-0", 0, "")
	h.waitFor("job deleted", func() bool {
		err := h.store.Get(h.ctx, "default", "short", &v1alpha1.Job{})
		return err != nil && strings.Contains(err.Error(), "not found")
	})
	if _, err := h.rt.Status(h.ctx, "default", "short-worker-0-0"); err == nil {
		t.Error("the replica's files outlived the job")
	}
	h.waitFor("events garbage-collected", func() bool {
		var evs v1alpha1.EventList
		if err := h.store.List(h.ctx, &evs, store.ListOptions{Namespace: "default"}); err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == "short" {
				return false
			}
		}
		return true
	})
}

func TestShutdownInterruptionRestartsWithoutCounting(t *testing.T) {
	h := newHarness(t)
	h.create("interrupted", 1, 0, "0")
	h.waitPhase("interrupted", v1alpha1.JobRunning)
	h.rt.exit("default", "interrupted-worker-0-0", 143, "Shutdown")
	h.waitFor("attempt 1", func() bool { return h.rt.startCount("default", "interrupted-worker-0-1") == 1 })
	if j := h.job("interrupted"); j.Status.Restarts != 0 || j.Status.Phase == v1alpha1.JobFailed {
		t.Errorf("status after a shutdown interruption: phase %s restarts %d", j.Status.Phase, j.Status.Restarts)
	}
}

func TestPreemptionStopsTheAttemptAndRequeues(t *testing.T) {
	h := newHarness(t)
	h.create("victim", 1, 0, "4")
	h.waitPhase("victim", v1alpha1.JobRunning)
	if adm := h.job("victim").Status.Admission; adm == nil || adm.Time == nil {
		t.Fatalf("admission %+v: want the scheduler to record its time", adm)
	}
	// The scheduler records a preemption; the controller carries it out.
	// The admission is dated an hour back (the store's clock is real), so
	// its 4 GPUs have held about 4 GPU-hours when it is released.
	h.update("victim", func(j *v1alpha1.Job) {
		j.Status.AttainedGPUSeconds = 100
		back := metav1.NewTime(time.Now().Add(-time.Hour))
		j.Status.Admission.Time = &back
		j.Status.Preemption = &v1alpha1.PreemptionNotice{Reason: "InQueue", By: "default/urgent", Message: "priority 100 > 0", Time: metav1.Now()}
	})
	h.waitFor("requeued as attempt 1", func() bool { return h.rt.startCount("default", "victim-worker-0-1") == 1 })
	if st, _ := h.rt.Status(h.ctx, "default", "victim-worker-0-0"); st.Reason != "Stopped" {
		t.Errorf("preempted replica: %+v, want it stopped", st)
	}
	j := h.job("victim")
	if j.Status.Preemptions != 1 || j.Status.Restarts != 0 || j.Status.Preemption != nil {
		t.Errorf("status after preemption: preemptions %d restarts %d notice %v", j.Status.Preemptions, j.Status.Restarts, j.Status.Preemption)
	}
	// The released admission's service is added to what earlier ones had
	// (the next admission, if it came, counts from its own time).
	if got := j.Status.AttainedGPUSeconds; got < 100+4*3600 || got > 100+4*3600+4*120 {
		t.Errorf("attainedGPUSeconds = %d, want the earlier 100 plus about 4 GPUs x 1h = 14,500", got)
	}
	var evs v1alpha1.EventList
	if err := h.store.List(h.ctx, &evs, store.ListOptions{Namespace: "default"}); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs.Items {
		found = found || (e.Reason == "Preempted" && strings.Contains(e.Message, "default/urgent"))
	}
	if !found {
		t.Error("no Preempted event naming the preemptor")
	}
}

// update changes a job, retrying while the controllers write it too.
func (h *harness) update(name string, change func(*v1alpha1.Job)) {
	h.t.Helper()
	for i := 0; ; i++ {
		j := h.job(name)
		change(j)
		err := h.store.Update(h.ctx, j)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) || i > 50 {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) withDeadline(name string, seconds int64) {
	h.update(name, func(j *v1alpha1.Job) { j.Spec.RunPolicy.ActiveDeadlineSeconds = &seconds })
}

func TestDeadlineCountsFromAReplicaStartedBeforeACrash(t *testing.T) {
	h := newHarness(t)
	// A previous server started the replica, then died before recording it.
	if _, err := h.rt.Start(h.ctx, runtime.Replica{Namespace: "default", Name: "crashy-worker-0-0", Command: []string{"train"}}); err != nil {
		t.Fatal(err)
	}
	deadline := int64(1)
	g := resource.MustParse("0")
	job := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: "crashy", Namespace: "default"}, Spec: v1alpha1.JobSpec{
		ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: 1, Template: v1alpha1.ReplicaTemplate{Command: []string{"train"}, Resources: v1alpha1.Resources{GPU: &g}}}},
		RunPolicy:     v1alpha1.RunPolicy{ActiveDeadlineSeconds: &deadline},
	}}
	v1alpha1.Default(job)
	if err := h.store.Create(h.ctx, job); err != nil {
		t.Fatal(err)
	}
	j := h.waitPhase("crashy", v1alpha1.JobFailed)
	if j.Status.StartTime == nil || !strings.Contains(conditionText(j), "activeDeadlineSeconds") {
		t.Errorf("startTime %v, conditions %s", j.Status.StartTime, conditionText(j))
	}
	if n := h.rt.startCount("default", "crashy-worker-0-0"); n != 1 {
		t.Errorf("the adopted replica was started %d times", n)
	}
}

func TestDeadlineDuringBackoffFailsWithoutStartingAnotherAttempt(t *testing.T) {
	h := newHarnessWith(t, 5*time.Second)
	h.create("slowfail", 1, 5, "0")
	h.withDeadline("slowfail", 1)
	h.waitPhase("slowfail", v1alpha1.JobRunning)
	h.rt.exit("default", "slowfail-worker-0-0", 1, "")
	start := time.Now()
	j := h.waitPhase("slowfail", v1alpha1.JobFailed)
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("the deadline was noticed after %v, behind the 5s backoff", waited)
	}
	if !strings.Contains(conditionText(j), "activeDeadlineSeconds") {
		t.Errorf("conditions: %s", conditionText(j))
	}
	time.Sleep(100 * time.Millisecond)
	if n := h.rt.startCount("default", "slowfail-worker-0-1"); n != 0 {
		t.Errorf("a failed job started attempt 1 (%d times)", n)
	}
	for _, r := range h.job("slowfail").Status.Replicas {
		if r.State == v1alpha1.ReplicaPending {
			t.Errorf("finished job keeps a Pending replica: %+v", r)
		}
	}
}

func TestJobOfReplica(t *testing.T) {
	for name, want := range map[string]string{"a-b-c-0-0": "a-b", "train-worker-12-3": "train", "x-w-0-0": "x"} {
		if got, ok := controller.JobOfReplica(name); !ok || got != want {
			t.Errorf("JobOfReplica(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	if _, ok := controller.JobOfReplica("short-0-0"); ok {
		t.Error("JobOfReplica accepted a name with too few parts")
	}
}

func TestHigherPriorityJobPreemptsThroughTheLiveLoop(t *testing.T) {
	h := newHarness(t)
	for i := 0; ; i++ {
		q := &v1alpha1.Queue{}
		if err := h.store.Get(h.ctx, "", "default", q); err != nil {
			t.Fatal(err)
		}
		q.Spec.Preemption = &v1alpha1.QueuePreemption{WithinQueue: v1alpha1.PreemptLowerPriority}
		if err := h.store.Update(h.ctx, q); err == nil {
			break
		} else if !apierrors.IsConflict(err) || i > 50 {
			t.Fatal(err)
		}
	}
	h.create("low", 1, 0, "4")
	h.waitPhase("low", v1alpha1.JobRunning)
	h.create("high", 1, 0, "4")
	h.update("high", func(j *v1alpha1.Job) { j.Spec.Priority = 100 })
	h.waitPhase("high", v1alpha1.JobRunning)
	low := h.job("low")
	if low.Status.Phase != v1alpha1.JobPending || low.Status.Preemptions != 1 {
		t.Errorf("victim: phase %s preemptions %d, want requeued once", low.Status.Phase, low.Status.Preemptions)
	}
	if st, _ := h.rt.Status(h.ctx, "default", "low-worker-0-0"); st.Reason != "Stopped" {
		t.Errorf("victim replica: %+v, want stopped", st)
	}
	if !strings.Contains(conditionText(low), "for default/high") {
		t.Errorf("victim conditions do not name the preemptor:\n%s", conditionText(low))
	}
	// The preemptor's own events say whom it preempted.
	h.waitFor("the preemptor's event", func() bool {
		var evs v1alpha1.EventList
		if err := h.store.List(h.ctx, &evs, store.ListOptions{Namespace: "default"}); err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == "high" && e.Reason == "Preemptor" && strings.Contains(e.Message, "default/low") {
				return true
			}
		}
		return false
	})
	// When the preemptor finishes, the victim runs again as a new attempt.
	h.rt.exit("default", "high-worker-0-0", 0, "")
	h.waitFor("victim re-admitted", func() bool { return h.rt.startCount("default", "low-worker-0-1") == 1 })
}

func TestNamespaceLimitsKeepJobsPendingOnTopOfQuota(t *testing.T) {
	h := newHarness(t)
	two := int32(2)
	ns := &v1alpha1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha1.NamespaceSpec{Limits: v1alpha1.NamespaceLimits{RunningJobs: &two}}}
	v1alpha1.SetTypeMeta(ns)
	if err := h.store.Create(h.ctx, ns); err != nil {
		t.Fatal(err)
	}
	names := []string{"one", "three", "two"} // the order the scheduler takes equal jobs in
	for _, n := range names {
		h.create(n, 1, 0, "0")
	}
	h.waitPhase("one", v1alpha1.JobRunning)
	h.waitPhase("three", v1alpha1.JobRunning)
	h.waitFor("two held by the namespace limit", func() bool {
		return strings.Contains(conditionText(h.job("two")), "spec.limits.runningJobs")
	})
	if h.job("two").Status.Admission != nil {
		t.Fatal("a third job was admitted past runningJobs: 2")
	}
	h.waitQueueCounts(1, 2) // a job held by its namespace still waits in the queue
	h.rt.exit("default", "one-worker-0-0", 0, "")
	h.waitPhase("two", v1alpha1.JobRunning)
	h.waitQueueCounts(0, 2)
}

// waitQueueCounts waits for the default queue's status to count pending
// and admitted jobs as given.
func (h *harness) waitQueueCounts(pending, admitted int32) {
	h.t.Helper()
	var st v1alpha1.QueueStatus
	deadline := time.Now().Add(10 * time.Second)
	for {
		q := &v1alpha1.Queue{}
		if err := h.store.Get(h.ctx, "", "default", q); err != nil {
			h.t.Fatal(err)
		}
		st = q.Status
		if st.PendingJobs == pending && st.AdmittedJobs == admitted {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("queue status counts %d pending and %d admitted, want %d and %d", st.PendingJobs, st.AdmittedJobs, pending, admitted)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestQueueStatusCountsJobsWaitingOnQuota: jobs the queue's quota keeps
// waiting count as pending in its status until they are admitted.
func TestQueueStatusCountsJobsWaitingOnQuota(t *testing.T) {
	h := newHarness(t)
	h.create("a", 1, 0, "4")
	h.waitPhase("a", v1alpha1.JobRunning)
	h.create("b", 1, 0, "4")
	h.create("c", 1, 0, "2")
	h.waitQueueCounts(2, 1)
	h.rt.exit("default", "a-worker-0-0", 0, "")
	h.waitPhase("b", v1alpha1.JobRunning)
	h.waitQueueCounts(1, 1)
}

func TestSameShape(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"position 3 in queue q", "position 12 in queue q", true},
		{"queue a uses 12/16, cohort has 0 free", "queue a uses 4/16, cohort has 10 free", true},
		{"waiting for quota", "waiting for node room", false},
		{"position 3 in queue q", "position 3 in queue q2", false},
		{"a1", "a", false},
	}
	for _, c := range cases {
		if got := controller.SameShapeForTest(c.a, c.b); got != c.want {
			t.Errorf("sameShape(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestPreemptionStopsReplicasWhoseListingWasLost(t *testing.T) {
	h := newHarness(t)
	h.create("lost", 1, 0, "4")
	h.waitPhase("lost", v1alpha1.JobRunning)
	// The pass that started the replica lost its status write: the stored
	// job has an admission but no replica list when the preemption lands.
	h.update("lost", func(j *v1alpha1.Job) {
		j.Status.Replicas = nil
		j.Status.Preemption = &v1alpha1.PreemptionNotice{Reason: "InQueue", By: "default/other", Time: metav1.Now()}
	})
	h.waitFor("the running replica stopped", func() bool {
		st, _ := h.rt.Status(h.ctx, "default", "lost-worker-0-0")
		return st.State == runtime.Exited && st.Reason == "Stopped"
	})
	h.waitFor("requeued as a new attempt", func() bool { return h.job("lost").Status.Preemptions == 1 })
	if a := h.job("lost").Status.Attempt; a < 1 {
		t.Errorf("attempt %d after preemption: the next admission would reuse the old replica names", a)
	}
}

func TestSuspendStopsAfterBackoffReplicasWhoseListingWasLost(t *testing.T) {
	h := newHarnessWith(t, 10*time.Millisecond)
	h.create("late", 1, 3, "4")
	h.waitPhase("late", v1alpha1.JobRunning)
	h.rt.exit("default", "late-worker-0-0", 1, "")
	h.waitFor("attempt 1 started", func() bool { return h.rt.startCount("default", "late-worker-0-1") == 1 })
	// The pass that started attempt 1 after its backoff lost its status
	// write: the stored job still has the (past) next-attempt time and no
	// replica list when the suspend lands.
	h.update("late", func(j *v1alpha1.Job) {
		past := metav1.NewTime(time.Now().Add(-time.Second))
		j.Status.Replicas, j.Status.NextAttemptTime = nil, &past
		s := true
		j.Spec.RunPolicy.Suspend = &s
	})
	h.waitPhase("late", v1alpha1.JobSuspended)
	if st, _ := h.rt.Status(h.ctx, "default", "late-worker-0-1"); st.State != runtime.Exited || st.Reason != "Stopped" {
		t.Errorf("attempt 1's replica is %s (%s) after the suspend: it would keep its GPUs with no job owning them", st.State, st.Reason)
	}
}

// countingStore counts the reads that go to the store.
type countingStore struct {
	store.Store
	mu   sync.Mutex
	gets int
}

func (c *countingStore) Get(ctx context.Context, ns, name string, obj v1alpha1.Object) error {
	c.mu.Lock()
	c.gets++
	c.mu.Unlock()
	return c.Store.Get(ctx, ns, name, obj)
}

func TestJobControllerReadsJobsFromItsInformer(t *testing.T) {
	counting := &countingStore{}
	h := newHarnessConfigured(t, 10*time.Millisecond, func(c *controller.JobController) {
		counting.Store = c.Store
		c.Store = counting
	})
	const jobs = 5
	for i := 0; i < jobs; i++ {
		h.create(fmt.Sprintf("r%d", i), 1, 0, "0")
	}
	for i := 0; i < jobs; i++ {
		name := fmt.Sprintf("r%d", i)
		h.waitPhase(name, v1alpha1.JobRunning)
		h.rt.exit("default", name+"-worker-0-0", 0, "")
		h.waitPhase(name, v1alpha1.JobSucceeded)
	}
	counting.mu.Lock()
	defer counting.mu.Unlock()
	// Each job passes through about six reconciles (created, first status,
	// admitted, running, exited, succeeded); a store read is only the
	// fallback after a write conflict. On Kubernetes every read is a GET on
	// the API server.
	if counting.gets >= 2*jobs {
		t.Errorf("the job controller read the store %d times for %d jobs: passes should start from the informer's copy", counting.gets, jobs)
	}
}

func TestPreemptionOfAJobThatAlreadySucceededKeepsTheSuccess(t *testing.T) {
	h := newHarness(t)
	h.create("done", 1, 0, "4")
	h.waitPhase("done", v1alpha1.JobRunning)
	// The replica finishes, and before the controller hears of it the
	// scheduler's preemption notice lands.
	h.rt.mu.Lock()
	st := h.rt.replicas["default/done-worker-0-0"]
	st.State, st.ExitCode, st.FinishedAt = runtime.Exited, 0, time.Now()
	h.rt.mu.Unlock()
	h.update("done", func(j *v1alpha1.Job) {
		j.Status.Preemption = &v1alpha1.PreemptionNotice{Reason: "InQueue", By: "default/other", Time: metav1.Now()}
	})
	// Whichever the controller sees first, the exit or the notice, the job
	// ends Succeeded with no notice left and is never requeued.
	h.waitFor("the job succeeds or is requeued", func() bool {
		j := h.job("done")
		return (j.Status.Phase == v1alpha1.JobSucceeded && j.Status.Preemption == nil) || j.Status.Preemptions > 0
	})
	got := h.job("done")
	if got.Status.Phase != v1alpha1.JobSucceeded || got.Status.Preemptions != 0 || got.Status.Preemption != nil {
		t.Errorf("phase %s, preemptions %d, notice %v: a job whose replicas all succeeded before its preemption must succeed, not run again",
			got.Status.Phase, got.Status.Preemptions, got.Status.Preemption)
	}
}

// A victim of another namespace is not told the preemptor's name, but is
// told which queue took its place and under which policy.
func TestPreemptionNoticeAcrossNamespacesNamesTheQueue(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		p    scheduler.Preemption
		want string
	}{
		{scheduler.Preemption{Reason: scheduler.PreemptReclaim, By: "team-b/big", ByQueue: "qb", Flavor: "h100"},
			"queue qb reclaimed h100 capacity that this job's queue was borrowing (reclaimWithinCohort)"},
		{scheduler.Preemption{Reason: scheduler.PreemptInQueue, By: "team-b/big", ByQueue: "shared"},
			"a job of queue shared outranks it (withinQueue: LowerPriority)"},
	} {
		n := controller.PreemptionNotice("team-a", c.p, now)
		if n.By != "a job of another namespace" || n.Message != c.want || strings.Contains(n.Message, "big") {
			t.Errorf("notice for %s: by %q message %q, want the queue named and not the job: %q", c.p.Reason, n.By, n.Message, c.want)
		}
	}
}
