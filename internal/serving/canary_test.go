package serving

import (
	"fmt"
	"sync"
	"testing"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

func TestPlanRevisions(t *testing.T) {
	pct := func(p int32) *int32 { return &p }
	old := revision{hash: "old", template: v1alpha1.ReplicaTemplate{Command: []string{"v1"}}}
	cur := revision{hash: "new", template: v1alpha1.ReplicaTemplate{Command: []string{"v2"}}}
	rolledOld := &v1alpha1.RolledOutRevision{TemplateHash: "old", Template: old.template}
	type want struct {
		stableHash     string
		stable, canary int
		active         bool
		weights        string
		rolledOut      string
	}
	cases := []struct {
		name string
		in   planInput
		want want
	}{
		{"first reconcile records the rollout", planInput{current: cur, desired: 2, canaryPercent: pct(10)},
			want{"new", 2, 0, false, "map[]", "new"}},
		{"template change without a percent rolls out", planInput{current: cur, rolledOut: rolledOld, desired: 3},
			want{"new", 3, 0, false, "map[]", "new"}},
		{"canary at 25% of 4 replicas", planInput{current: cur, rolledOut: rolledOld, desired: 4, canaryPercent: pct(25)},
			want{"old", 3, 1, true, "map[new:25 old:75]", "old"}},
		{"shares round up and keep one each", planInput{current: cur, rolledOut: rolledOld, desired: 1, canaryPercent: pct(10)},
			want{"old", 1, 1, true, "map[new:10 old:90]", "old"}},
		{"a 0% canary still runs one replica", planInput{current: cur, rolledOut: rolledOld, desired: 2, canaryPercent: pct(0)},
			want{"old", 2, 1, true, "map[new:0 old:100]", "old"}},
		{"scaled to zero runs neither", planInput{current: cur, rolledOut: rolledOld, desired: 0, canaryPercent: pct(50)},
			want{"old", 0, 0, true, "map[new:50 old:50]", "old"}},
		{"100 promotes; the canary serves until the rollout settles", planInput{current: cur, rolledOut: rolledOld, desired: 2, canaryPercent: pct(100), canaryKept: 1},
			want{"new", 2, 1, false, "map[new:100]", "new"}},
		{"setting the template back ends the canary", planInput{current: old, rolledOut: rolledOld, desired: 2, canaryPercent: pct(30)},
			want{"old", 2, 0, false, "map[]", "old"}},
		{"after the rollout settles the canary slot empties", planInput{current: cur, rolledOut: rolledOld, desired: 2, canaryKept: 1, stableSettled: true},
			want{"new", 2, 0, false, "map[]", "new"}},
	}
	for _, c := range cases {
		p := planRevisions(c.in)
		w := map[string]int{}
		for k, v := range p.weights {
			w[k] = v
		}
		got := want{p.stable.rev.hash, p.stable.desired, p.canary.desired, p.canaryActive, fmt.Sprint(w), p.rolledOut.TemplateHash}
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
		if p.canaryActive && fmt.Sprint(p.stable.rev.template.Command) != "[v1]" {
			t.Errorf("%s: the rolled-out slot runs %v, want the rolled-out template", c.name, p.stable.rev.template.Command)
		}
	}
}

func TestRevisionHashFollowsTemplateQueueAndPriority(t *testing.T) {
	base := v1alpha1.ReplicaTemplate{Command: []string{"serve"}, Env: []v1alpha1.EnvVar{{Name: "A", Value: "1"}}}
	p1, p2 := int32(1), int32(2)
	h := hashRevision(base, "q", &p1)
	if h != hashRevision(*base.DeepCopy(), "q", &p1) {
		t.Error("equal templates hash differently")
	}
	changed := base.DeepCopy()
	changed.Env[0].Value = "2"
	for name, other := range map[string]string{
		"env":      hashRevision(*changed, "q", &p1),
		"queue":    hashRevision(base, "r", &p1),
		"priority": hashRevision(base, "q", &p2),
	} {
		if other == h {
			t.Errorf("changing the %s kept the revision hash", name)
		}
	}
	if len(h) != 16 {
		t.Errorf("hash %q: want 16 hex digits", h)
	}
}

// canaryServed returns how many requests the canary slot's and the
// rolled-out slot's replicas answered.
func (h *harness) servedBySlot() (canary, stable int) {
	list := &v1alpha1.JobList{}
	if err := h.store.List(h.ctx, list, store.ListOptions{Namespace: "default"}); err != nil {
		h.t.Fatal(err)
	}
	h.reps.mu.Lock()
	defer h.reps.mu.Unlock()
	for _, j := range list.Items {
		n := h.reps.byPort[jobPort(&j)]
		if j.Labels[LabelCanary] == "true" {
			canary += n
		} else {
			stable += n
		}
	}
	return canary, stable
}

func TestCanaryGetsItsPercentThenPromotionRetiresTheOldRevision(t *testing.T) {
	h := newHarness(t)
	two := int32(2)
	h.createService(func(s *v1alpha1.InferenceService) { s.Spec.MinReplicas = &two; s.Spec.MaxReplicas = 2 })
	h.waitFor("2 ready replicas", func() bool { return h.service().Status.ReadyReplicas == 2 })
	old := templateHash(h.service())
	if ro := h.service().Status.RolledOut; ro == nil || ro.TemplateHash != old {
		t.Fatalf("status.rolledOut %+v, want hash %s", ro, old)
	}

	svc := h.service()
	svc.Spec.CanaryTrafficPercent = ptr(int32(25))
	svc.Spec.Template.Env = append(svc.Spec.Template.Env, v1alpha1.EnvVar{Name: "MODEL_VERSION", Value: "2"})
	if err := h.store.Update(h.ctx, svc); err != nil {
		t.Fatal(err)
	}
	updated := templateHash(h.service())
	h.waitFor("the canary revision ready beside the old one", func() bool {
		revs := h.service().Status.Revisions
		return len(revs) == 2 && revs[0].TemplateHash == old && revs[0].ReadyReplicas == 2 && revs[0].TrafficPercent == 75 &&
			revs[1].TemplateHash == updated && revs[1].Canary && revs[1].ReadyReplicas == 1 && revs[1].TrafficPercent == 25
	})
	if got := fmt.Sprint(h.replicaJobs()); len(h.replicaJobs()) != 3 {
		t.Fatalf("jobs %s: want tiny-0, tiny-1 and tiny-canary0", got)
	}
	c0, s0 := h.servedBySlot()
	for i := 0; i < 200; i++ {
		if code, body := h.chat(); code != 200 {
			t.Fatalf("request %d: %d %s", i, code, body)
		}
	}
	c1, s1 := h.servedBySlot()
	if c, s := c1-c0, s1-s0; c < 45 || c > 55 || c+s != 200 {
		t.Errorf("of 200 requests the canary answered %d and the old revision %d; want 25%% (50±5)", c, s)
	}

	// Promote under steady traffic: no request may fail.
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
	svc = h.service()
	svc.Spec.CanaryTrafficPercent = ptr(int32(100))
	if err := h.store.Update(h.ctx, svc); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the new revision rolled out and the canary slot gone", func() bool {
		list := &v1alpha1.JobList{}
		if err := h.store.List(h.ctx, list, store.ListOptions{Namespace: "default"}); err != nil {
			t.Fatal(err)
		}
		for _, j := range list.Items {
			if j.Labels[LabelTemplate] != updated || j.Labels[LabelCanary] == "true" {
				return false
			}
		}
		st := h.service().Status
		return len(list.Items) == 2 && st.ReadyReplicas == 2 && len(st.Revisions) == 1 && st.Revisions[0].TemplateHash == updated &&
			st.Revisions[0].TrafficPercent == 100 && st.RolledOut != nil && st.RolledOut.TemplateHash == updated
	})
	close(stop)
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Errorf("a request during the promotion failed: %s", f)
	}
	events := &v1alpha1.EventList{}
	if err := h.store.List(h.ctx, events, store.ListOptions{Namespace: "default"}); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]bool{}
	for _, e := range events.Items {
		reasons[e.Reason] = true
	}
	if !reasons["CanaryStarted"] || !reasons["CanaryPromoted"] {
		t.Errorf("events %v: want CanaryStarted and CanaryPromoted", reasons)
	}
}
