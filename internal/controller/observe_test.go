package controller_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/controller"
	"skiff.dev/skiff/internal/store"
)

// cycleLog records what the scheduling loop tells its observer.
type cycleLog struct {
	mu sync.Mutex
	n  cycleCounts
}

type cycleCounts struct{ started, ended, admitted, waiting int }

type ctxKey struct{}

func (c *cycleLog) StartCycle(ctx context.Context) (context.Context, func(error)) {
	c.mu.Lock()
	c.n.started++
	c.mu.Unlock()
	return context.WithValue(ctx, ctxKey{}, true), func(error) {
		c.mu.Lock()
		c.n.ended++
		c.mu.Unlock()
	}
}

func (c *cycleLog) ObservePlan(admitted, waiting int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n.admitted += admitted
	c.n.waiting += waiting
}

func (c *cycleLog) snapshot() cycleCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func TestSchedulingLoopReportsCyclesPlansAndEventsAndSharesItsCache(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clock.RealClock{}
	st := store.NewMemory(clk.Now)
	gpus := resource.MustParse("2")
	node := &v1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: v1alpha1.NodeSpec{Capacity: v1alpha1.Resources{
		CPU: resource.NewQuantity(8, resource.DecimalSI), Memory: resource.NewQuantity(32<<30, resource.BinarySI), GPU: &gpus}}}
	flavor := &v1alpha1.Flavor{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	queue := &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha1.QueueSpec{
		Flavors: []v1alpha1.FlavorQuota{{Name: "default", Resources: []v1alpha1.ResourceQuota{{Name: "gpu", NominalQuota: resource.MustParse("2")}}}}}}
	for _, o := range []v1alpha1.Object{node, flavor, queue} {
		v1alpha1.SetTypeMeta(o)
		if err := st.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	obs := &cycleLog{}
	var mu sync.Mutex
	reasons := map[string]int{}
	rec := &controller.Recorder{Store: st, Clock: clk, Source: "test", Observe: func(obj v1alpha1.Object, _, reason string, _ time.Time) {
		mu.Lock()
		reasons[reason]++
		mu.Unlock()
	}}
	sched := &controller.SchedulingLoop{Store: st, Clock: clk, Recorder: rec, Interval: 50 * time.Millisecond, Observer: obs}
	if sched.CachedJobs() != nil {
		t.Error("CachedJobs before the loop runs should be nil")
	}
	go func() { _ = sched.Run(ctx) }()

	for _, name := range []string{"a", "b"} {
		g := resource.MustParse("2")
		job := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: v1alpha1.JobSpec{
			ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: 1, Template: v1alpha1.ReplicaTemplate{
				Command: []string{"train"}, Resources: v1alpha1.Resources{GPU: &g}}}}}}
		v1alpha1.Default(job)
		if err := st.Create(ctx, job); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := obs.snapshot()
		mu.Lock()
		admittedEvents := reasons["Admitted"]
		mu.Unlock()
		if s.admitted == 1 && s.waiting >= 1 && s.ended >= 1 && admittedEvents == 1 && len(sched.CachedJobs()) == 2 && len(sched.CachedQueues()) == 1 {
			if s.started < s.ended || s.started > s.ended+1 {
				t.Errorf("cycles started %d, ended %d", s.started, s.ended)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("observer saw %+v, %d Admitted events, %d cached jobs", s, admittedEvents, len(sched.CachedJobs()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
