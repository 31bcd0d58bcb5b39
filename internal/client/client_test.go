package client

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/store"
)

const token = "skf_client-test"

func newServer(t *testing.T, logs apiserver.LogSource) (*Client, store.Store) {
	t.Helper()
	st := store.NewMemory(time.Now)
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(apiserver.New(apiserver.Config{Store: st, Auth: auth.NewTokens(token), Logs: logs, Version: "v1.2.3"}))
	t.Cleanup(srv.Close)
	return New(srv.URL, token, WithHTTPClient(srv.Client())), st
}

func job(name string) *v1alpha1.Job {
	cpu := resource.MustParse("500m")
	return &v1alpha1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ml", Labels: map[string]string{"team": "ml"}},
		Spec: v1alpha1.JobSpec{ReplicaGroups: []v1alpha1.ReplicaGroup{{
			Name: "worker", Replicas: 2,
			Template: v1alpha1.ReplicaTemplate{Command: []string{"python3", "train.py"}, Resources: v1alpha1.Resources{CPU: &cpu}},
		}}},
	}
}

func jobKind() v1alpha1.Kind { k, _ := v1alpha1.LookupKind("jobs"); return k }

func TestCRUD(t *testing.T) {
	c, _ := newServer(t, nil)
	ctx := t.Context()
	j := job("a")
	if err := c.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	if j.UID == "" || j.Spec.Queue != "default" {
		t.Fatalf("Create did not fill the object: %+v", j.ObjectMeta)
	}
	var got v1alpha1.Job
	if err := c.Get(ctx, "ml", "a", &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(j.ObjectMeta, got.ObjectMeta); diff != "" {
		t.Errorf("Get (-created +got):\n%s", diff)
	}
	got.Spec.Priority = 5
	if err := c.Update(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if got.Generation != 2 {
		t.Errorf("generation %d after update", got.Generation)
	}
	// Updating with the old version conflicts.
	j.Spec.Priority = 9
	if err := c.Update(ctx, j); !apierrors.IsConflict(err) {
		t.Errorf("stale update: %v, want Conflict", err)
	}
	if err := c.Create(ctx, job("b")); err != nil {
		t.Fatal(err)
	}
	var l v1alpha1.JobList
	if err := c.List(ctx, &l, ListOptions{LabelSelector: "team=ml"}); err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 2 || l.ResourceVersion == "" {
		t.Errorf("list: %d items rv %q", len(l.Items), l.ResourceVersion)
	}
	if err := c.List(ctx, &l, ListOptions{Namespace: "ml", FieldSelector: "metadata.name=b"}); err != nil || len(l.Items) != 1 {
		t.Errorf("field selector: %v %d items", err, len(l.Items))
	}
	if err := c.Delete(ctx, jobKind(), "ml", "a"); err != nil {
		t.Fatal(err)
	}
	err := c.Get(ctx, "ml", "a", &got)
	var se *apierrors.StatusError
	if !errors.As(err, &se) || !apierrors.IsNotFound(err) {
		t.Fatalf("Get after delete: %T %v, want a NotFound StatusError", err, err)
	}
	if !strings.Contains(se.Error(), `"a" not found`) {
		t.Errorf("message %q", se.Error())
	}
}

func TestStatusErrors(t *testing.T) {
	c, _ := newServer(t, nil)
	bad := job("Bad_Name")
	err := c.Create(t.Context(), bad)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "metadata.name") {
		t.Errorf("invalid create: %v", err)
	}
	wrong := New(c.Server(), "skf_wrong")
	if _, err := wrong.Version(t.Context()); !apierrors.IsUnauthorized(err) {
		t.Errorf("wrong token: %v", err)
	}
	v, err := c.Version(t.Context())
	if err != nil || v.Version != "v1.2.3" {
		t.Errorf("version %+v %v", v, err)
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(nil)
	url := srv.URL
	srv.Close()
	_, err := New(url, token).Version(t.Context())
	var ue *UnreachableError
	if !errors.As(err, &ue) || ue.Server != url {
		t.Fatalf("err = %T %v, want *UnreachableError for %s", err, err, url)
	}
}

func TestApply(t *testing.T) {
	c, st := newServer(t, nil)
	ctx := t.Context()
	res, err := c.Apply(ctx, job("a"))
	if err != nil || res != Created {
		t.Fatalf("first apply: %v %v", res, err)
	}
	// The controller moves status on; applying the same manifest again
	// must not touch it and must report unchanged.
	var stored v1alpha1.Job
	if err := st.Get(ctx, "ml", "a", &stored); err != nil {
		t.Fatal(err)
	}
	stored.Status.Phase = v1alpha1.JobRunning
	if err := st.Update(ctx, &stored); err != nil {
		t.Fatal(err)
	}
	again := job("a")
	res, err = c.Apply(ctx, again)
	if err != nil || res != Unchanged {
		t.Fatalf("second apply: %v %v", res, err)
	}
	if again.Status.Phase != v1alpha1.JobRunning || again.ResourceVersion != stored.ResourceVersion {
		t.Errorf("unchanged apply: phase %q rv %s, want Running %s", again.Status.Phase, again.ResourceVersion, stored.ResourceVersion)
	}
	changed := job("a")
	changed.Spec.Priority = 4
	changed.Labels["extra"] = "1"
	res, err = c.Apply(ctx, changed)
	if err != nil || res != Configured {
		t.Fatalf("third apply: %v %v", res, err)
	}
	if changed.Spec.Priority != 4 || changed.Labels["extra"] != "1" || changed.Status.Phase != v1alpha1.JobRunning {
		t.Errorf("configured: %+v %+v", changed.Spec, changed.Status)
	}
	// Applying a saved `get -o yaml` (with resourceVersion and uid) works.
	saved := changed.DeepCopy()
	saved.Spec.Priority = 6
	if res, err := c.Apply(ctx, saved); err != nil || res != Configured {
		t.Fatalf("apply of a saved object: %v %v", res, err)
	}
	_, err = c.Apply(ctx, job("Bad_Name"))
	if !apierrors.IsInvalid(err) {
		t.Errorf("invalid apply: %v", err)
	}
}

func TestWatch(t *testing.T) {
	c, _ := newServer(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var l v1alpha1.JobList
	if err := c.List(ctx, &l, ListOptions{Namespace: "ml"}); err != nil {
		t.Fatal(err)
	}
	w, err := c.Watch(ctx, jobKind(), ListOptions{Namespace: "ml", ResourceVersion: l.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	j := job("w")
	if err := c.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, jobKind(), "ml", "w"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for ev := range w.ResultChan() {
		obj, ok := ev.Object.(*v1alpha1.Job)
		if !ok {
			t.Fatalf("event object %T", ev.Object)
		}
		got = append(got, string(ev.Type)+" "+obj.Name)
		if ev.Type == watch.Deleted {
			break
		}
	}
	if diff := cmp.Diff([]string{"ADDED w", "DELETED w"}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	w.Stop()
	// The channel closes after Stop.
	for range w.ResultChan() {
	}
}

type fixedLogs struct{ got apiserver.LogOptions }

func (f *fixedLogs) OpenLog(_ context.Context, ns, job, replica string, opts apiserver.LogOptions) (io.ReadCloser, error) {
	f.got = opts
	return io.NopCloser(strings.NewReader(ns + "/" + job + "/" + replica + "\n")), nil
}

func TestLogs(t *testing.T) {
	src := &fixedLogs{}
	c, _ := newServer(t, src)
	attempt := int32(1)
	rc, err := c.Logs(t.Context(), "ml", "a", LogOptions{Replica: "worker-0", Follow: true, Attempt: &attempt})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	if string(b) != "ml/a/worker-0\n" || !src.got.Follow || src.got.Attempt == nil || *src.got.Attempt != 1 {
		t.Errorf("logs %q opts %+v", b, src.got)
	}
}
