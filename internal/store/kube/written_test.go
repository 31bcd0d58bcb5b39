package kube_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store/kube"
)

// putCounter counts PUT requests by whether they go to a status
// subresource.
type putCounter struct {
	mu           sync.Mutex
	main, status int
	next         http.RoundTripper
}

func (c *putCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut {
		c.mu.Lock()
		if strings.HasSuffix(r.URL.Path, "/status") {
			c.status++
		} else {
			c.main++
		}
		c.mu.Unlock()
	}
	return c.next.RoundTrip(r)
}

func (c *putCounter) take() (main, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	main, status = c.main, c.status
	c.main, c.status = 0, 0
	return main, status
}

// testStatusOnlyUpdate checks that an update changing only the status of
// an object this client wrote is a single status PUT, that an update
// changing metadata too still writes both, and that each leaves the
// object as asked.
func testStatusOnlyUpdate(t *testing.T, cfg *rest.Config) {
	ctx := t.Context()
	counter := &putCounter{}
	c := rest.CopyConfig(cfg)
	c.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { counter.next = rt; return counter }
	s, err := kube.New(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	job := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "status-only"},
		Spec: v1alpha1.JobSpec{ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "main", Replicas: 1,
			Template: v1alpha1.ReplicaTemplate{Command: []string{"true"}}}}}}
	v1alpha1.SetTypeMeta(job)
	if err := s.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	counter.take()

	job.Status.Phase = v1alpha1.JobRunning
	if err := s.Update(ctx, job); err != nil {
		t.Fatal(err)
	}
	if main, status := counter.take(); main != 0 || status != 1 {
		t.Errorf("status-only update: %d main and %d status PUTs, want 0 and 1", main, status)
	}
	got := &v1alpha1.Job{}
	if err := s.Get(ctx, "status-only", "j", got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != v1alpha1.JobRunning || got.ResourceVersion != job.ResourceVersion {
		t.Errorf("after a status-only update: phase %q rv %s, want Running at rv %s", got.Status.Phase, got.ResourceVersion, job.ResourceVersion)
	}

	// A read copy (as an informer holds it) at the same revision counts
	// too; a label change makes it a full write.
	got.Labels = map[string]string{"x": "y"}
	got.Status.Phase = v1alpha1.JobSucceeded
	if err := s.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	if main, status := counter.take(); main != 1 || status != 1 {
		t.Errorf("label and status update: %d main and %d status PUTs, want 1 and 1", main, status)
	}
	again := &v1alpha1.Job{}
	if err := s.Get(ctx, "status-only", "j", again); err != nil {
		t.Fatal(err)
	}
	if again.Labels["x"] != "y" || again.Status.Phase != v1alpha1.JobSucceeded {
		t.Errorf("after a label and status update: labels %v phase %q, want x=y and Succeeded", again.Labels, again.Status.Phase)
	}

	// A stale revision is still refused.
	job.Status.Phase = v1alpha1.JobFailed
	if err := s.Update(ctx, job); err == nil {
		t.Error("a status-only update at a stale revision succeeded, want a conflict")
	}
}
