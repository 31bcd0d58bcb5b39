package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/store"
)

// openStream starts a GET whose body the test reads as it arrives.
func (f *fixture) openStream(ctx context.Context, path string) *http.Response {
	f.t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", f.srv.URL+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// decodedWatches is a store whose watches decode every object, as a
// backend that cannot hand over stored JSON (Kubernetes) does.
type decodedWatches struct{ store.Store }

func (d decodedWatches) Watch(ctx context.Context, kind v1alpha1.Kind, opts store.ListOptions) (watch.Interface, error) {
	opts.Raw = false
	return d.Store.Watch(ctx, kind, opts)
}

// TestWatch streams a job's changes, with the store's JSON passed through
// and with decoded objects encoded again: the client sees the same events.
func TestWatch(t *testing.T) {
	for _, decoded := range []bool{false, true} {
		t.Run(fmt.Sprintf("decoded=%v", decoded), func(t *testing.T) {
			var edit func(*Config)
			if decoded {
				edit = func(c *Config) { c.Store = decodedWatches{c.Store} }
			}
			testWatch(t, newFixture(t, edit))
		})
	}
}

func testWatch(t *testing.T, f *fixture) {
	f.mustCode(f.do("POST", jobsPath, jobJSON("before")), http.StatusCreated)
	rv := fmt.Sprint(f.store.Revision())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp := f.openStream(ctx, jobsPath+"?watch=true&resourceVersion="+rv+"&labelSelector=app!%3Dignored")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("watch code %d", resp.StatusCode)
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(nil, 1<<20)
	next := func() (string, v1alpha1.Job) {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("watch ended: %v", lines.Err())
		}
		var ev struct {
			Type   string       `json:"type"`
			Object v1alpha1.Job `json:"object"`
		}
		if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
			t.Fatalf("bad event line %q: %v", lines.Text(), err)
		}
		return ev.Type, ev.Object
	}

	r := f.mustCode(f.do("POST", jobsPath, jobJSON("w")), http.StatusCreated)
	f.mustCode(f.do("POST", jobsPath, jobJSON("ignored")), http.StatusCreated)
	var j v1alpha1.Job
	_ = json.Unmarshal([]byte(r.body), &j)
	j.Spec.Priority = 3
	body, _ := json.Marshal(&j)
	f.mustCode(f.do("PUT", jobsPath+"/w", string(body)), http.StatusOK)
	f.mustCode(f.do("DELETE", jobsPath+"/w", ""), http.StatusOK)

	var got []string
	lastRV := 0
	for range 3 {
		typ, obj := next()
		if obj.Kind != "Job" || obj.APIVersion != v1alpha1.APIVersion {
			t.Errorf("event object %q %q, want %s Job", obj.APIVersion, obj.Kind, v1alpha1.APIVersion)
		}
		// Each event carries the revision of its change, later each time.
		rv, err := strconv.Atoi(obj.ResourceVersion)
		if err != nil || rv <= lastRV {
			t.Errorf("%s event: resourceVersion %q, want a revision after %d", typ, obj.ResourceVersion, lastRV)
		}
		lastRV = rv
		got = append(got, typ+" "+obj.Name+" priority "+fmt.Sprint(obj.Spec.Priority))
	}
	if diff := cmp.Diff([]string{"ADDED w priority 0", "MODIFIED w priority 3", "DELETED w priority 3"}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestWatchFieldSelectorAndTimeout(t *testing.T) {
	f := newFixture(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp := f.openStream(ctx, APIPrefix+"/jobs?watch=1&timeoutSeconds=1&fieldSelector=metadata.namespace%3Dteam-a")
	f.mustCode(f.do("POST", APIPrefix+"/namespaces/team-b/jobs", jobJSON("b")), http.StatusCreated)
	f.mustCode(f.do("POST", jobsPath, jobJSON("a")), http.StatusCreated)
	// The stream ends by itself after timeoutSeconds.
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"name":"a"`) {
		t.Errorf("events = %q, want one ADDED for a", lines)
	}
}

// fakeLogs serves a log that the test writes to while the client reads.
type fakeLogs struct {
	mu     sync.Mutex
	calls  []string
	pw     *io.PipeWriter
	closed chan struct{}
}

type closeNotifier struct {
	io.Reader
	once   sync.Once
	closed chan struct{}
	pr     *io.PipeReader
}

func (c *closeNotifier) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.pr.Close()
}

func (l *fakeLogs) OpenLog(ctx context.Context, ns, job, replica string, opts LogOptions) (io.ReadCloser, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	attempt := "current"
	if opts.Attempt != nil {
		attempt = fmt.Sprint(*opts.Attempt)
	}
	l.calls = append(l.calls, fmt.Sprintf("%s/%s %s follow=%v attempt=%s", ns, job, replica, opts.Follow, attempt))
	if job == "missing" {
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: "skiff.dev", Resource: "jobs"}, job)
	}
	pr, pw := io.Pipe()
	l.pw = pw
	return &closeNotifier{Reader: pr, pr: pr, closed: l.closed}, nil
}

func TestLogsFollow(t *testing.T) {
	logs := &fakeLogs{closed: make(chan struct{})}
	f := newFixture(t, func(c *Config) { c.Logs = logs })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp := f.openStream(ctx, jobsPath+"/train/log?replica=worker-1&follow=true&attempt=2")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("code %d content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	logs.mu.Lock()
	pw := logs.pw
	logs.mu.Unlock()
	// Each write must reach the client before the next one is made.
	r := bufio.NewReader(resp.Body)
	for _, line := range []string{"epoch 1 loss 0.9\n", "epoch 2 loss 0.5\n"} {
		if _, err := io.WriteString(pw, line); err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadString('\n')
		if err != nil || got != line {
			t.Fatalf("read %q, %v; want %q", got, err, line)
		}
	}
	// The client goes away: the server must close the source.
	cancel()
	select {
	case <-logs.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the log source was not closed after the client went away")
	}
	want := []string{"team-a/train worker-1 follow=true attempt=2"}
	if diff := cmp.Diff(want, logs.calls); diff != "" {
		t.Errorf("OpenLog calls (-want +got):\n%s", diff)
	}
}

func TestLogsErrors(t *testing.T) {
	logs := &fakeLogs{closed: make(chan struct{})}
	f := newFixture(t, func(c *Config) { c.Logs = logs })
	f.mustCode(f.do("GET", jobsPath+"/missing/log", ""), http.StatusNotFound)
	f.mustCode(f.do("GET", jobsPath+"/train/log?attempt=x", ""), http.StatusBadRequest)
	f.mustCode(f.do("POST", jobsPath+"/train/log", "{}"), http.StatusMethodNotAllowed)
	f.mustCode(f.do("GET", APIPrefix+"/namespaces/team-a/events/e/log", ""), http.StatusNotFound)
	f.mustCode(f.do("GET", jobsPath+"/train/log", "", "Authorization", ""), http.StatusUnauthorized)

	g := newFixture(t, nil)
	g.mustCode(g.do("GET", jobsPath+"/train/log", ""), http.StatusServiceUnavailable)
}

func TestLogsToEOF(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Logs = staticLogs("line 1\nline 2\n") })
	r := f.mustCode(f.do("GET", jobsPath+"/train/log", ""), http.StatusOK)
	if r.body != "line 1\nline 2\n" {
		t.Errorf("body = %q", r.body)
	}
}

type staticLogs string

func (s staticLogs) OpenLog(context.Context, string, string, string, LogOptions) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(string(s))), nil
}

func TestAdmission(t *testing.T) {
	var ops []string
	f := newFixture(t, func(c *Config) {
		c.Admit = func(ctx context.Context, op Operation, obj, old v1alpha1.Object) error {
			id, _ := auth.IdentityFrom(ctx)
			name := ""
			if obj != nil {
				name = obj.GetName()
			} else {
				name = old.GetName()
			}
			ops = append(ops, fmt.Sprintf("%s %s by %s old=%v", op, name, id.Name, old != nil))
			switch name {
			case "huge":
				return errors.New("spec.replicaGroups[0].template.resources.gpu: 64 GPUs is more than any queue holds: ask for at most 8")
			case "forbidden":
				return apierrors.NewForbidden(schema.GroupResource{Group: "skiff.dev", Resource: "jobs"}, name, errors.New("queue default does not admit team-a"))
			}
			return nil
		}
	})
	r := f.mustCode(f.do("POST", jobsPath, jobJSON("huge")), http.StatusUnprocessableEntity)
	if !strings.Contains(r.status(t).Message, "more than any queue") {
		t.Errorf("message %q", r.body)
	}
	r = f.mustCode(f.do("POST", jobsPath, jobJSON("forbidden")), http.StatusForbidden)
	if r.status(t).Reason != metav1.StatusReasonForbidden {
		t.Errorf("reason %q", r.body)
	}
	if n := f.countJobs(); n != 0 {
		t.Fatalf("%d jobs stored after admission said no", n)
	}
	r = f.mustCode(f.do("POST", jobsPath, jobJSON("ok")), http.StatusCreated)
	var j v1alpha1.Job
	_ = json.Unmarshal([]byte(r.body), &j)
	body, _ := json.Marshal(&j)
	f.mustCode(f.do("PUT", jobsPath+"/ok", string(body)), http.StatusOK)
	f.mustCode(f.do("DELETE", jobsPath+"/ok", ""), http.StatusOK)
	want := []string{"CREATE huge by admin old=false", "CREATE forbidden by admin old=false",
		"CREATE ok by admin old=false", "UPDATE ok by admin old=true", "DELETE ok by admin old=true"}
	if diff := cmp.Diff(want, ops); diff != "" {
		t.Errorf("admission calls (-want +got):\n%s", diff)
	}
}

func TestClusterKindsNeedAdmin(t *testing.T) {
	f := newFixture(t, nil)
	flavor := `{"apiVersion":"skiff.dev/v1alpha1","kind":"Flavor","metadata":{"name":"h100"},"spec":{"gpuModel":"H100"}}`
	r := f.mustCode(f.do("POST", APIPrefix+"/flavors", flavor, "Authorization", "Bearer "+userToken), http.StatusForbidden)
	if r.status(t).Reason != metav1.StatusReasonForbidden {
		t.Errorf("body %s", r.body)
	}
	f.mustCode(f.do("POST", APIPrefix+"/flavors", flavor), http.StatusCreated)
	f.mustCode(f.do("GET", APIPrefix+"/flavors/h100", "", "Authorization", "Bearer "+userToken), http.StatusOK)
	f.mustCode(f.do("DELETE", APIPrefix+"/flavors/h100", "", "Authorization", "Bearer "+userToken), http.StatusForbidden)
	f.mustCode(f.do("POST", jobsPath, jobJSON("mine"), "Authorization", "Bearer "+userToken), http.StatusCreated)
	// A namespace on a cluster kind is a validation error naming the field.
	withNS := strings.Replace(flavor, `"name":"h100"`, `"name":"a100","namespace":"team-a"`, 1)
	r = f.mustCode(f.do("POST", APIPrefix+"/flavors", withNS), http.StatusUnprocessableEntity)
	if !strings.Contains(r.status(t).Message, "metadata.namespace") {
		t.Errorf("message %q", r.body)
	}
}

func TestDeleteWithFinalizer(t *testing.T) {
	f := newFixture(t, nil)
	f.mustCode(f.do("POST", jobsPath, jobJSON("first")), http.StatusCreated)
	body := strings.Replace(jobJSON("fin"), `"metadata":{`, `"metadata":{"finalizers":["skiff.dev/test"],`, 1)
	r := f.mustCode(f.do("POST", jobsPath, body), http.StatusCreated)
	var j v1alpha1.Job
	_ = json.Unmarshal([]byte(r.body), &j)
	stale := `{"preconditions":{"resourceVersion":"1"}}`
	f.mustCode(f.do("DELETE", jobsPath+"/fin", stale), http.StatusConflict)
	r = f.mustCode(f.do("DELETE", jobsPath+"/fin", `{"preconditions":{"resourceVersion":"`+j.ResourceVersion+`"}}`), http.StatusAccepted)
	var after v1alpha1.Job
	_ = json.Unmarshal([]byte(r.body), &after)
	if after.DeletionTimestamp == nil {
		t.Errorf("deletionTimestamp not set: %s", r.body)
	}
	f.mustCode(f.do("GET", jobsPath+"/fin", ""), http.StatusOK)
}
