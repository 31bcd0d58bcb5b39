package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/store"
)

// progressFixture serves jobs "train" and "other" in team-a with metrics,
// and authenticates job tokens too.
func progressFixture(t *testing.T) (*fixture, *auth.JobTokens, store.Metrics) {
	t.Helper()
	jobs := auth.NewJobTokens("test-key")
	m := store.NewMemoryMetrics(0)
	f := newFixture(t, func(c *Config) {
		c.Auth = auth.Chain{Users: c.Auth, Jobs: jobs}
		c.Metrics = m
		c.DefaultStopGrace = 10 * time.Second
	})
	for _, name := range []string{"train", "other"} {
		job := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a"},
			Spec: v1alpha1.JobSpec{ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: 1, Template: v1alpha1.ReplicaTemplate{Command: []string{"true"}}}}}}
		v1alpha1.Default(job)
		if err := f.store.Create(context.Background(), job); err != nil {
			t.Fatal(err)
		}
	}
	return f, jobs, m
}

func jobToken(t *testing.T, f *fixture, jobs *auth.JobTokens, name string) string {
	t.Helper()
	job := &v1alpha1.Job{}
	if err := f.store.Get(context.Background(), "team-a", name, job); err != nil {
		t.Fatal(err)
	}
	return jobs.Issue("team-a", name, string(job.UID))
}

const metricsPath = APIPrefix + "/namespaces/team-a/jobs/train/metrics"

func TestMetricsPostAndRead(t *testing.T) {
	f, jobs, _ := progressFixture(t)
	tok := jobToken(t, f, jobs, "train")
	r := f.do(http.MethodPost, metricsPath, `{"points": [{"name": "loss", "step": 1, "value": 0.5}, {"name": "loss", "step": 2, "value": 0.25},
		{"name": "acc", "step": 2, "value": 0.75, "time": "2026-01-02T03:00:00Z"}]}`, "Authorization", "Bearer "+tok)
	if r.code != http.StatusNoContent {
		t.Fatalf("POST with the job's token: %d %s", r.code, r.body)
	}
	// A user of the namespace reads them; the server stamped the missing times.
	r = f.do(http.MethodGet, metricsPath, "", "Authorization", "Bearer "+userToken)
	var got []v1alpha1.MetricPoint
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.code != http.StatusOK {
		t.Fatalf("GET: %d %s", r.code, r.body)
	}
	want := []v1alpha1.MetricPoint{
		{Name: "acc", Step: 2, Value: 0.75, Time: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)},
		{Name: "loss", Step: 1, Value: 0.5, Time: epoch}, {Name: "loss", Step: 2, Value: 0.25, Time: epoch},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("points (-want +got):\n%s", d)
	}
	// The raw JSON has exactly name, step, value and time.
	if !strings.Contains(r.body, `{"name":"acc","step":2,"value":0.75,"time":"2026-01-02T03:00:00Z"}`) {
		t.Errorf("body = %s", r.body)
	}
	r = f.do(http.MethodGet, metricsPath+"?latest=true&name=loss", "", "Authorization", "Bearer "+tok)
	got = nil
	_ = json.Unmarshal([]byte(r.body), &got)
	if d := cmp.Diff(want[2:], got); d != "" {
		t.Errorf("latest loss (-want +got):\n%s", d)
	}
}

func TestMetricsTokenIsScopedToItsJob(t *testing.T) {
	f, jobs, m := progressFixture(t)
	tok := jobToken(t, f, jobs, "train")
	body := `{"points": [{"name": "loss", "step": 1, "value": 0.5}]}`
	for _, tc := range []struct {
		method, path string
	}{
		{http.MethodPost, APIPrefix + "/namespaces/team-a/jobs/other/metrics"},
		{http.MethodGet, APIPrefix + "/namespaces/team-a/jobs/other/metrics"},
		{http.MethodPost, APIPrefix + "/namespaces/team-b/jobs/train/metrics"},
		{http.MethodGet, APIPrefix + "/namespaces/team-a/jobs/other/notice"},
		{http.MethodGet, APIPrefix + "/namespaces/team-a/jobs/train"},
		{http.MethodGet, APIPrefix + "/namespaces/team-a/jobs"},
		{http.MethodGet, APIPrefix + "/namespaces/team-a/jobs/train/log"},
		{http.MethodDelete, APIPrefix + "/namespaces/team-a/jobs/train"},
	} {
		r := f.do(tc.method, tc.path, body, "Authorization", "Bearer "+tok)
		if r.code != http.StatusForbidden {
			t.Errorf("%s %s with train's token: %d, want 403: %s", tc.method, tc.path, r.code, r.body)
		}
	}
	if pts, _ := m.Series(context.Background(), "team-a", "other", ""); len(pts) != 0 {
		t.Errorf("another job's metrics were stored: %v", pts)
	}
	// A job of the same name created later does not accept the old token.
	f.do(http.MethodDelete, APIPrefix+"/namespaces/team-a/jobs/train", "")
	job := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: "train", Namespace: "team-a"},
		Spec: v1alpha1.JobSpec{ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: 1, Template: v1alpha1.ReplicaTemplate{Command: []string{"true"}}}}}}
	v1alpha1.Default(job)
	if err := f.store.Create(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if r := f.do(http.MethodPost, metricsPath, body, "Authorization", "Bearer "+tok); r.code != http.StatusForbidden || !strings.Contains(r.body, "earlier job") {
		t.Errorf("old token on a new job: %d %s", r.code, r.body)
	}
	// An editor of the namespace may post too.
	if r := f.do(http.MethodPost, metricsPath, body, "Authorization", "Bearer "+userToken); r.code != http.StatusNoContent {
		t.Errorf("editor POST: %d %s", r.code, r.body)
	}
}

func TestMetricsBadReports(t *testing.T) {
	f, jobs, m := progressFixture(t)
	tok := jobToken(t, f, jobs, "train")
	for _, tc := range []struct {
		body, want string
		code       int
	}{
		{`{"points": []}`, "points: required", 422},
		{`{"points": [{"name": "loss", "step": 1, "value": 1}, {"name": "1x", "step": 1, "value": 1}]}`, `points[1]: \"1x\" is not a metric name`, 422},
		{`{"points": [{"name": "loss", "step": -1, "value": 1}]}`, "points[0]: step -1 is negative", 422},
		{`{"points": [{"name": "progress", "step": 1, "value": 2}]}`, "fraction from 0 to 1", 422},
		{`{"points": [{"name": "loss", "step": 1, "value": 1, "extra": 1}]}`, "not a metric report", 400},
		{`[{"name": "loss", "step": 1, "value": 1}]`, "not a metric report", 400},
	} {
		r := f.do(http.MethodPost, metricsPath, tc.body, "Authorization", "Bearer "+tok)
		if r.code != tc.code || !strings.Contains(r.body, tc.want) {
			t.Errorf("POST %s: %d %s, want %d containing %q", tc.body, r.code, r.body, tc.code, tc.want)
		}
	}
	if pts, _ := m.Series(context.Background(), "team-a", "train", ""); len(pts) != 0 {
		t.Errorf("a rejected report stored points: %v", pts)
	}
	if r := f.do(http.MethodPost, APIPrefix+"/namespaces/team-a/jobs/missing/metrics", `{"points": [{"name": "loss", "step": 1, "value": 1}]}`); r.code != http.StatusNotFound {
		t.Errorf("metrics of a missing job: %d", r.code)
	}
}

func TestNotice(t *testing.T) {
	f, jobs, _ := progressFixture(t)
	tok := jobToken(t, f, jobs, "train")
	read := func() v1alpha1.JobNotice {
		t.Helper()
		r := f.do(http.MethodGet, APIPrefix+"/namespaces/team-a/jobs/train/notice", "", "Authorization", "Bearer "+tok)
		var n v1alpha1.JobNotice
		if err := json.Unmarshal([]byte(r.body), &n); err != nil || r.code != 200 {
			t.Fatalf("notice: %d %s", r.code, r.body)
		}
		return n
	}
	if n := read(); n.Stop || n.GraceSeconds != 10 {
		t.Errorf("notice of a running job = %+v", n)
	}
	ctx := context.Background()
	job := &v1alpha1.Job{}
	_ = f.store.Get(ctx, "team-a", "train", job)
	job.Status.Phase = v1alpha1.JobRunning
	job.Status.Preemption = &v1alpha1.PreemptionNotice{Reason: "InQueue", By: "team-a/urgent", Time: metav1.NewTime(epoch)}
	grace := int64(30)
	job.Spec.RunPolicy.TerminationGracePeriodSeconds = &grace
	if err := f.store.Update(ctx, job); err != nil {
		t.Fatal(err)
	}
	if n := read(); !n.Stop || n.Reason != "Preempted" || n.GraceSeconds != 30 || !strings.Contains(n.Message, "team-a/urgent") {
		t.Errorf("notice of a preempted job = %+v", n)
	}
	job.Status.Preemption = nil
	suspend := true
	job.Spec.RunPolicy.Suspend = &suspend
	if err := f.store.Update(ctx, job); err != nil {
		t.Fatal(err)
	}
	if n := read(); !n.Stop || n.Reason != "Suspended" {
		t.Errorf("notice of a job being suspended = %+v", n)
	}
}
