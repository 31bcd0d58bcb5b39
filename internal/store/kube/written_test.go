package kube_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	job := createJob(t, s, "status-only")
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

	// A stale revision is still refused, without a request: this client
	// wrote the job at a later revision.
	job.Status.Phase = v1alpha1.JobFailed
	if err := s.Update(ctx, job); !apierrors.IsConflict(err) {
		t.Errorf("a status-only update at a stale revision: err = %v, want a conflict", err)
	}
	if main, status := counter.take(); main != 0 || status != 0 {
		t.Errorf("update at a stale revision: %d main and %d status PUTs, want none", main, status)
	}
}

// holdingTransport holds back the answer of the next status PUT once
// armed, until released: the write is done on the API server, but the
// client has not yet seen its answer.
type holdingTransport struct {
	mu      sync.Mutex
	armed   bool
	held    chan struct{} // closed once the held request is done on the server
	release chan struct{}
	next    http.RoundTripper
}

func (h *holdingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := h.next.RoundTrip(r)
	h.mu.Lock()
	hold := h.armed && r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/status")
	if hold {
		h.armed = false
	}
	h.mu.Unlock()
	if hold {
		close(h.held)
		<-h.release
	}
	return resp, err
}

// testWriteUnderWay checks that an update from a copy at a revision this
// client is still writing (as a controller's informer can deliver it
// before the writer has its answer) waits for that write and is then a
// status-only write, not a full one.
func testWriteUnderWay(t *testing.T, cfg *rest.Config) {
	ctx := t.Context()
	counter := &putCounter{}
	hold := &holdingTransport{held: make(chan struct{}), release: make(chan struct{})}
	c := rest.CopyConfig(cfg)
	c.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		hold.next = rt
		counter.next = hold
		return counter
	}
	s, err := kube.New(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reader, err := kube.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	job := createJob(t, s, "under-way")

	// The first writer's status PUT is done on the server; its answer is
	// held back.
	hold.mu.Lock()
	hold.armed = true
	hold.mu.Unlock()
	first := make(chan error, 1)
	go func() {
		w := job.DeepCopy()
		w.Status.Phase = v1alpha1.JobAdmitted
		first <- s.Update(ctx, w)
	}()
	<-hold.held
	counter.take()

	// A second writer reads the new revision from the API server and
	// writes a status change on it while the first still waits.
	seen := &v1alpha1.Job{}
	if err := reader.Get(ctx, "under-way", "j", seen); err != nil {
		t.Fatal(err)
	}
	if seen.Status.Phase != v1alpha1.JobAdmitted {
		t.Fatalf("read phase %q, want the first writer's Admitted", seen.Status.Phase)
	}
	seen.Status.Phase = v1alpha1.JobRunning
	second := make(chan error, 1)
	go func() { second <- s.Update(ctx, seen) }()
	time.Sleep(50 * time.Millisecond) // the second writer is waiting, not writing
	close(hold.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if main, status := counter.take(); main != 0 || status != 1 {
		t.Errorf("update at the revision of a write under way: %d main and %d status PUTs, want 0 and 1", main, status)
	}
	got := &v1alpha1.Job{}
	if err := reader.Get(ctx, "under-way", "j", got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != v1alpha1.JobRunning {
		t.Errorf("stored phase %q, want Running", got.Status.Phase)
	}
}

// createJob stores a one-replica job "j" in namespace ns through s.
func createJob(t *testing.T, s *kube.Store, ns string) *v1alpha1.Job {
	t.Helper()
	job := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: ns},
		Spec: v1alpha1.JobSpec{ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "main", Replicas: 1,
			Template: v1alpha1.ReplicaTemplate{Command: []string{"true"}}}}}}
	v1alpha1.SetTypeMeta(job)
	if err := s.Create(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	return job
}
