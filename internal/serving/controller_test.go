package serving

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/controller"
	"skiff.dev/skiff/internal/gateway"
	"skiff.dev/skiff/internal/runtime/simulated"
	"skiff.dev/skiff/internal/store"
)

const token = "skf_test_admin"

// replicaServers stand in for the model server processes the simulated
// runtime does not start: PickPort starts one listening on the port it
// returns, as a real replica would listen on $PORT.
type replicaServers struct {
	mu      sync.Mutex
	servers []*http.Server
	hold    chan struct{} // while non-nil, answers wait for a value
	served  atomic.Int64
	byPort  map[int]int
}

func (r *replicaServers) pick() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet {
			_, _ = io.WriteString(w, `{"object":"list","data":[]}`)
			return
		}
		r.mu.Lock()
		hold := r.hold
		r.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-req.Context().Done():
				return
			}
		}
		r.served.Add(1)
		r.mu.Lock()
		if r.byPort == nil {
			r.byPort = map[int]int{}
		}
		r.byPort[ln.Addr().(*net.TCPAddr).Port]++
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	})}
	r.mu.Lock()
	r.servers = append(r.servers, srv)
	r.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (r *replicaServers) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.servers {
		s.Close()
	}
}

type harness struct {
	t     *testing.T
	ctx   context.Context
	store store.Store
	gw    *gateway.Gateway
	url   string
	reps  *replicaServers
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	clk := clock.RealClock{}
	st := store.NewMemory(clk.Now)
	cpu := resource.MustParse("8")
	node := &v1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: v1alpha1.NodeSpec{Capacity: v1alpha1.Resources{
		CPU: &cpu, Memory: resource.NewQuantity(32<<30, resource.BinarySI)}}}
	flavor := &v1alpha1.Flavor{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	queue := &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha1.QueueSpec{
		QueueingStrategy: v1alpha1.BestEffortFIFO,
		Flavors: []v1alpha1.FlavorQuota{{Name: "default", Resources: []v1alpha1.ResourceQuota{
			{Name: "cpu", NominalQuota: resource.MustParse("8")}, {Name: "memory", NominalQuota: resource.MustParse("32Gi")}}}}}}
	for _, o := range []v1alpha1.Object{node, flavor, queue} {
		v1alpha1.SetTypeMeta(o)
		if err := st.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	reps := &replicaServers{}
	rec := &controller.Recorder{Store: st, Clock: clk, Source: "test"}
	rt := simulated.New(simulated.Options{})
	jobs := &controller.JobController{Store: st, Runtime: rt, Clock: clk, Recorder: rec, StopGrace: time.Second}
	sched := &controller.SchedulingLoop{Store: st, Clock: clk, Recorder: rec, Interval: 20 * time.Millisecond}
	sc := &Controller{Store: st, Clock: clk, Recorder: rec, PickPort: reps.pick, Interval: 20 * time.Millisecond}
	sc.Init()
	gw := gateway.New(gateway.Config{Auth: auth.NewTokenCache(token, nil), OnDemand: sc.OnDemand})
	sc.Gateway = gw
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gw}
	go func() { _ = srv.Serve(ln) }()
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{jobs.Run, sched.Run, sc.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		srv.Close()
		reps.close()
	})
	return &harness{t: t, ctx: ctx, store: st, gw: gw, url: "http://" + ln.Addr().String(), reps: reps}
}

func (h *harness) createService(mod func(*v1alpha1.InferenceService)) {
	h.t.Helper()
	zero := int32(0)
	svc := &v1alpha1.InferenceService{ObjectMeta: metav1.ObjectMeta{Name: "tiny", Namespace: "default"},
		Spec: v1alpha1.InferenceServiceSpec{Models: []string{"tiny-chat"}, MinReplicas: &zero, MaxReplicas: 3,
			Template: v1alpha1.ReplicaTemplate{Command: []string{"serve"}, Resources: v1alpha1.Resources{CPU: resource.NewMilliQuantity(500, resource.DecimalSI)}},
			Autoscaling: &v1alpha1.Autoscaling{TargetInFlight: 1,
				StableWindow:     &metav1.Duration{Duration: 2 * time.Second},
				PanicWindow:      &metav1.Duration{Duration: 500 * time.Millisecond},
				ScaleToZeroAfter: &metav1.Duration{Duration: time.Second}}}}
	if mod != nil {
		mod(svc)
	}
	v1alpha1.Default(svc)
	if err := v1alpha1.Validate(svc); err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.Create(h.ctx, svc); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) service() *v1alpha1.InferenceService {
	h.t.Helper()
	s := &v1alpha1.InferenceService{}
	if err := h.store.Get(h.ctx, "default", "tiny", s); err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) replicaJobs() []string {
	list := &v1alpha1.JobList{}
	if err := h.store.List(h.ctx, list, store.ListOptions{Namespace: "default"}); err != nil {
		h.t.Fatal(err)
	}
	var names []string
	for _, j := range list.Items {
		if j.Labels[LabelService] == "tiny" && j.DeletionTimestamp == nil {
			names = append(names, j.Name)
		}
	}
	return names
}

// waitFor polls cond; generous deadline, no timing assertion.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s (status %+v, jobs %v)", what, h.service().Status, h.replicaJobs())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) chat() (int, string) {
	req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/chat/completions",
		strings.NewReader(`{"model":"tiny-chat","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestScalesFromZeroToNAndBackToZero(t *testing.T) {
	h := newHarness(t)
	h.createService(nil)
	h.waitFor("the service scaled to zero with Ready=ScaledToZero", func() bool {
		s := h.service()
		return len(s.Status.Conditions) > 0 && s.Status.Conditions[0].Reason == "ScaledToZero"
	})
	if jobs := h.replicaJobs(); len(jobs) != 0 {
		t.Fatalf("minReplicas 0 without traffic started %v", jobs)
	}
	// A request wakes it: held by the gateway, answered once a replica is
	// admitted, started and ready.
	if code, body := h.chat(); code != 200 {
		t.Fatalf("first request: %d %s", code, body)
	}
	if jobs := h.replicaJobs(); len(jobs) != 1 || jobs[0] != "tiny-0" {
		t.Fatalf("after the first request: jobs %v, want [tiny-0]", jobs)
	}
	j := &v1alpha1.Job{}
	if err := h.store.Get(h.ctx, "default", "tiny-0", j); err != nil {
		t.Fatal(err)
	}
	if j.Spec.Priority != v1alpha1.DefaultServingPriority || len(j.OwnerReferences) != 1 || j.OwnerReferences[0].Kind != "InferenceService" {
		t.Errorf("replica job priority %d owners %+v", j.Spec.Priority, j.OwnerReferences)
	}

	// Six requests held in flight with a target of one each: it scales up
	// to maxReplicas (3), and no request fails.
	hold := make(chan struct{})
	h.reps.mu.Lock()
	h.reps.hold = hold
	h.reps.mu.Unlock()
	var wg sync.WaitGroup
	codes := make(chan int, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _ := h.chat()
			codes <- code
		}()
	}
	h.waitFor("3 ready replicas", func() bool { return h.service().Status.ReadyReplicas == 3 })
	h.reps.mu.Lock()
	h.reps.hold = nil
	h.reps.mu.Unlock()
	close(hold)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("a request under scale-up got %d", c)
		}
	}
	// Idle: back to zero, replicas drained and deleted.
	h.waitFor("scale to zero", func() bool {
		s := h.service()
		return s.Status.DesiredReplicas == 0 && len(h.replicaJobs()) == 0
	})
	if got := h.reps.served.Load(); got != 7 {
		t.Errorf("replicas served %d requests, want 7", got)
	}
	// It wakes again.
	if code, body := h.chat(); code != 200 {
		t.Fatalf("request after scale to zero: %d %s", code, body)
	}
}

func TestMinReplicasStartAndDeletingTheServiceRemovesThem(t *testing.T) {
	h := newHarness(t)
	two := int32(2)
	h.createService(func(s *v1alpha1.InferenceService) { s.Spec.MinReplicas = &two })
	h.waitFor("2 ready replicas", func() bool { return h.service().Status.ReadyReplicas == 2 })
	st, _ := h.gw.Stats("default", "tiny")
	if len(st.Replicas) != 2 {
		t.Errorf("gateway knows %v", st.Replicas)
	}
	svcKind, _ := v1alpha1.LookupKind("InferenceService")
	if err := h.store.Delete(h.ctx, svcKind, "default", "tiny", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("replica jobs gone", func() bool { return len(h.replicaJobs()) == 0 })
	h.waitFor("gateway forgot the service", func() bool { _, ok := h.gw.Stats("default", "tiny"); return !ok })
	if code, body := h.chat(); code != 404 {
		t.Errorf("request to a deleted service: %d %s", code, body)
	}
}

func TestReplicaJobCarriesPortAndTemplate(t *testing.T) {
	two := int32(2)
	svc := &v1alpha1.InferenceService{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns", UID: "u1"},
		Spec: v1alpha1.InferenceServiceSpec{Models: []string{"m"}, MinReplicas: &two, Template: v1alpha1.ReplicaTemplate{
			Command: []string{"serve"}, Env: []v1alpha1.EnvVar{{Name: "A", Value: "b"}}}}}
	v1alpha1.Default(svc)
	j := replicaJob(svc, currentRevision(svc), false, 1, 41234)
	if j.Name != "s-1" || j.Labels[LabelIndex] != "1" || jobPort(j) != 41234 || j.Spec.Queue != "default" {
		t.Errorf("job %s labels %v port %d queue %s", j.Name, j.Labels, jobPort(j), j.Spec.Queue)
	}
	if fmt.Sprint(j.Spec.ReplicaGroups[0].Template.Env) != "[{A b} {PORT 41234}]" {
		t.Errorf("env %v", j.Spec.ReplicaGroups[0].Template.Env)
	}
	if len(svc.Spec.Template.Env) != 1 {
		t.Errorf("the service's template was changed: %v", svc.Spec.Template.Env)
	}
	if err := v1alpha1.Validate(j); err != nil {
		t.Errorf("replica job is not valid: %v", err)
	}
	c := replicaJob(svc, currentRevision(svc), true, 1, 41235)
	if c.Name != "s-canary1" || c.Labels[LabelCanary] != "true" || c.Labels[LabelTemplate] != templateHash(svc) {
		t.Errorf("canary job %s labels %v", c.Name, c.Labels)
	}
}

func TestTemplateChangeReplacesReplicasOneAtATime(t *testing.T) {
	h := newHarness(t)
	two := int32(2)
	h.createService(func(s *v1alpha1.InferenceService) { s.Spec.MinReplicas = &two })
	h.waitFor("2 ready replicas", func() bool { return h.service().Status.ReadyReplicas == 2 })
	old := templateHash(h.service())

	// Traffic keeps flowing while the replicas are replaced.
	stop := make(chan struct{})
	failures := make(chan string, 1000)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if code, body := h.chat(); code != 200 {
				failures <- fmt.Sprintf("%d %s", code, body)
			}
		}
	}()
	svc := h.service()
	svc.Spec.Template.Env = append(svc.Spec.Template.Env, v1alpha1.EnvVar{Name: "MODEL_VERSION", Value: "2"})
	if err := h.store.Update(h.ctx, svc); err != nil {
		t.Fatal(err)
	}
	updated := templateHash(h.service())
	if updated == old {
		t.Fatal("the template hash did not change")
	}
	maxGone := 0
	h.waitFor("both replicas on the new template", func() bool {
		list := &v1alpha1.JobList{}
		if err := h.store.List(h.ctx, list, store.ListOptions{Namespace: "default"}); err != nil {
			t.Fatal(err)
		}
		fresh, live := 0, 0
		for _, j := range list.Items {
			if j.DeletionTimestamp != nil {
				continue
			}
			live++
			if j.Labels[LabelTemplate] == updated {
				fresh++
			}
		}
		maxGone = max(maxGone, 2-live)
		return fresh == 2 && live == 2 && h.service().Status.ReadyReplicas == 2
	})
	close(stop)
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Errorf("a request during the update failed: %s", f)
	}
	if maxGone > 1 {
		t.Errorf("%d replicas were gone at once; want one at a time", maxGone)
	}
}
