package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/cli"
	"skiff.dev/skiff/internal/store"
)

const whatIfToken = "skf_whatif-test"

// whatIfServer serves one node of 16 A100s, queue team-a with 4 GPUs, r1
// (4 GPUs, started 10m ago, estimate 1h), pending a1 (4 GPUs, estimate
// 30m) and a2 (2 GPUs, no estimate).
func whatIfServer(t *testing.T, now time.Time) (string, store.Store) {
	t.Helper()
	st := store.NewMemory(func() time.Time { return now })
	t.Cleanup(func() { st.Close() })
	gpus := func(n int64) *resource.Quantity { return resource.NewQuantity(n, resource.DecimalSI) }
	job := func(name string, n int64, est int64, created time.Duration) *v1alpha1.Job {
		j := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ml", Name: name, CreationTimestamp: metav1.NewTime(now.Add(created))},
			Spec: v1alpha1.JobSpec{Queue: "team-a", ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: 1,
				Template: v1alpha1.ReplicaTemplate{Command: []string{"train"}, Resources: v1alpha1.Resources{GPU: gpus(n)}}}}},
			Status: v1alpha1.JobStatus{Phase: v1alpha1.JobPending}}
		if est > 0 {
			j.Spec.RunPolicy.EstimatedSeconds = &est
		}
		return j
	}
	r1 := job("r1", 4, 3600, -time.Hour)
	started := metav1.NewTime(now.Add(-10 * time.Minute))
	r1.Status.Phase, r1.Status.StartTime = v1alpha1.JobRunning, &started
	r1.Status.Admission = &v1alpha1.Admission{Queue: "team-a", Flavor: "a100", Placements: []v1alpha1.Placement{
		{Group: "worker", Node: "n1", GPUs: []int32{0, 1, 2, 3}}}}
	objs := []v1alpha1.Object{
		&v1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: v1alpha1.NodeSpec{GPUModel: "a100",
			Capacity: v1alpha1.Resources{GPU: gpus(16)}}},
		&v1alpha1.Flavor{ObjectMeta: metav1.ObjectMeta{Name: "a100"}},
		&v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}, Spec: v1alpha1.QueueSpec{QueueingStrategy: v1alpha1.BestEffortFIFO,
			Flavors: []v1alpha1.FlavorQuota{{Name: "a100", Resources: []v1alpha1.ResourceQuota{{Name: v1alpha1.ResourceGPU, NominalQuota: *gpus(4)}}}}}},
		r1, job("a1", 4, 1800, -2*time.Minute), job("a2", 2, 0, -time.Minute),
	}
	for _, o := range objs {
		if err := st.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(apiserver.New(apiserver.Config{Store: st, Auth: auth.NewTokens(whatIfToken)}))
	t.Cleanup(srv.Close)
	return srv.URL, st
}

func runWhatIfCLI(url string, args ...string) (string, error) {
	root := cli.NewRoot("test", simCommand())
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(append([]string{"sim", "--from-cluster", "--server", url, "--token", whatIfToken}, args...))
	err := root.Execute()
	return out.String() + errb.String(), err
}

func TestSimFromCluster(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	whatIfClock = func() time.Time { return now }
	t.Cleanup(func() { whatIfClock = time.Now })
	url, st := whatIfServer(t, now)

	out, err := runWhatIfCLI(url, "--quota", "team-a:a100:gpu=8", "-o", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var rep struct {
		Jobs []struct {
			Name, Queue                              string
			ProjectedStart, ProjectedStartWithChange *time.Time
			RuntimeFrom                              string
		}
		Running        []struct{ Name, ExpectedEnd string }
		AssumedRuntime []string
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// Today a1 waits for r1 (+50m) and a2 for a1 (+80m); with 8 GPUs a1
	// starts now beside r1 and a2 when a1 ends (+30m).
	want := map[string][2]time.Duration{"a1": {50 * time.Minute, 0}, "a2": {80 * time.Minute, 30 * time.Minute}}
	if len(rep.Jobs) != 2 {
		t.Fatalf("jobs = %+v, want a1 and a2", rep.Jobs)
	}
	for _, j := range rep.Jobs {
		w := want[j.Name]
		if j.Queue != "team-a" || j.ProjectedStart == nil || !j.ProjectedStart.Equal(now.Add(w[0])) ||
			j.ProjectedStartWithChange == nil || !j.ProjectedStartWithChange.Equal(now.Add(w[1])) {
			t.Errorf("%s: %+v, want start now+%s, with the change now+%s", j.Name, j, w[0], w[1])
		}
	}
	if len(rep.AssumedRuntime) != 1 || rep.AssumedRuntime[0] != "ml/a2" || len(rep.Running) != 1 || rep.Running[0].ExpectedEnd != "2026-03-01T12:50:00Z" {
		t.Errorf("assumed = %v, running = %+v: want ml/a2 assumed and r1 ending at 12:50", rep.AssumedRuntime, rep.Running)
	}

	out, err = runWhatIfCLI(url, "--quota", "team-a:a100:gpu=8", "-o", "table", "--default-runtime", "2h")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, s := range []string{"50m earlier", "ml/a2", "assumed to run 2h", "2026-03-01T12:50:00Z"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--quota", "team-a:gpu=8"}, "QUEUE:FLAVOR:RESOURCE=NOMINAL"},
		{[]string{"--quota", "team-z:a100:gpu=8"}, `no queue "team-z"`},
		{[]string{"--default-runtime", "0s"}, "--default-runtime"},
		{[]string{"-o", "html"}, "json or table"},
	} {
		if _, err := runWhatIfCLI(url, bad.args...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: err = %v, want %q", bad.args, err, bad.want)
		}
	}
	if _, _, err := runSim(t, "--format", "synthetic", "--trace", "jobs=1", "--quota", "team-a:a100:gpu=8"); err == nil || !strings.Contains(err.Error(), "--from-cluster") {
		t.Errorf("--quota without --from-cluster: err = %v", err)
	}
	if _, err := runWhatIfCLI(url, "--format", "skiff"); err == nil || !strings.Contains(err.Error(), "drop --format") {
		t.Errorf("--from-cluster with --format: err = %v", err)
	}
	var q v1alpha1.Queue
	if err := st.Get(context.Background(), "", "team-a", &q); err != nil {
		t.Fatal(err)
	}
	if n := q.Spec.Flavors[0].Resources[0].NominalQuota; n.Value() != 4 {
		t.Errorf("the server's queue changed: nominal %s", n.String())
	}
}
