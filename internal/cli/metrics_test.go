package cli

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/store"
)

func TestMetricsCommand(t *testing.T) {
	st := store.NewMemory(func() time.Time { return epoch })
	t.Cleanup(func() { st.Close() })
	m := store.NewMemoryMetrics(0)
	srv := httptest.NewServer(apiserver.New(apiserver.Config{Store: st, Auth: auth.NewTokens(testToken), Metrics: m}))
	t.Cleanup(srv.Close)
	e := &env{t: t, url: srv.URL, store: st, now: epoch.Add(5 * time.Minute)}
	ctx := context.Background()
	job := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: "train", Namespace: "default"},
		Spec: v1alpha1.JobSpec{ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: 1, Template: v1alpha1.ReplicaTemplate{Command: []string{"x"}}}}}}
	v1alpha1.Default(job)
	if err := st.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := e.run("metrics", "job/train"); err != nil || !strings.Contains(stderr, "No metrics reported by job train yet") {
		t.Errorf("no metrics: %v %q", err, stderr)
	}
	pts := []v1alpha1.MetricPoint{{Name: "loss", Step: 1, Value: 0.5, Time: epoch}, {Name: "loss", Step: 2, Value: 0.25, Time: epoch.Add(time.Minute)},
		{Name: "progress", Step: 2, Value: 0.1, Time: epoch.Add(time.Minute)}}
	if err := m.Append(ctx, "default", "train", pts); err != nil {
		t.Fatal(err)
	}
	out := e.mustRun("metrics", "job/train", "-o", "json")
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("-o json is not a JSON array: %v\n%s", err, out)
	}
	want := []map[string]any{
		{"name": "loss", "step": 1.0, "value": 0.5, "time": "2026-03-01T12:00:00Z"},
		{"name": "loss", "step": 2.0, "value": 0.25, "time": "2026-03-01T12:01:00Z"},
		{"name": "progress", "step": 2.0, "value": 0.1, "time": "2026-03-01T12:01:00Z"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("-o json (-want +got):\n%s", d)
	}
	table := e.mustRun("metrics", "train", "--latest")
	if !strings.Contains(table, "NAME") || !strings.Contains(table, "loss       2      0.25    4m") || strings.Contains(table, "0.5 ") {
		t.Errorf("table:\n%s", table)
	}
	if out := e.mustRun("metrics", "job/train", "--name", "progress", "-o", "json"); strings.Contains(out, "loss") {
		t.Errorf("--name progress printed: %s", out)
	}
	if desc := e.mustRun("describe", "job", "train"); !strings.Contains(desc, "Metrics (latest):") || !strings.Contains(desc, "progress  2     0.1") {
		t.Errorf("describe:\n%s", desc)
	}
	for _, args := range [][]string{{"metrics", "queue/x"}, {"metrics", "job/train", "-o", "yaml"}, {"metrics", "job/nope"}} {
		if err := e.mustFail(args...); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}
