package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

func storeAll() store.ListOptions { return store.ListOptions{} }

func names(t *testing.T, body string) []string {
	t.Helper()
	var l struct {
		Items []struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatalf("not a list: %v\n%s", err, body)
	}
	out := []string{}
	for _, it := range l.Items {
		out = append(out, it.Metadata.Namespace+"/"+it.Metadata.Name)
	}
	return out
}

func TestListSelectors(t *testing.T) {
	f := newFixture(t, nil)
	for _, ns := range []string{"team-a", "team-b"} {
		for _, n := range []string{"x", "y"} {
			f.mustCode(f.do("POST", APIPrefix+"/namespaces/"+ns+"/jobs", jobJSON(n)), http.StatusCreated)
		}
	}
	ev := `{"apiVersion":"skiff.dev/v1alpha1","kind":"Event","metadata":{"name":"%s"},"involvedObject":{"kind":"Job","name":"%s"},"reason":"Started"}`
	f.mustCode(f.do("POST", APIPrefix+"/namespaces/team-a/events", fmt.Sprintf(ev, "e1", "x")), http.StatusCreated)
	f.mustCode(f.do("POST", APIPrefix+"/namespaces/team-a/events", fmt.Sprintf(ev, "e2", "y")), http.StatusCreated)

	tests := []struct {
		path string
		want []string
	}{
		{APIPrefix + "/jobs", []string{"team-a/x", "team-a/y", "team-b/x", "team-b/y"}},
		{jobsPath, []string{"team-a/x", "team-a/y"}},
		{APIPrefix + "/jobs?labelSelector=" + url.QueryEscape("app=y"), []string{"team-a/y", "team-b/y"}},
		{APIPrefix + "/jobs?labelSelector=" + url.QueryEscape("app in (x),app!=y"), []string{"team-a/x", "team-b/x"}},
		{APIPrefix + "/jobs?fieldSelector=metadata.name=x", []string{"team-a/x", "team-b/x"}},
		{APIPrefix + "/jobs?fieldSelector=" + url.QueryEscape("metadata.namespace=team-b,metadata.name!=x"), []string{"team-b/y"}},
		{APIPrefix + "/jobs?fieldSelector=status.phase=Pending", []string{"team-a/x", "team-a/y", "team-b/x", "team-b/y"}},
		{APIPrefix + "/jobs?fieldSelector=status.phase=Running", []string{}},
		{APIPrefix + "/namespaces/team-a/events?fieldSelector=" + url.QueryEscape("involvedObject.kind=Job,involvedObject.name=y"), []string{"team-a/e2"}},
		{APIPrefix + "/queues", []string{}},
	}
	for _, tt := range tests {
		r := f.mustCode(f.do("GET", tt.path, ""), http.StatusOK)
		if diff := cmp.Diff(tt.want, names(t, r.body)); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", tt.path, diff)
		}
	}
	for _, bad := range []string{"labelSelector=" + url.QueryEscape("app in (x"), "fieldSelector=spec.priority=1", "fieldSelector=" + url.QueryEscape("a~b")} {
		r := f.mustCode(f.do("GET", jobsPath+"?"+bad, ""), http.StatusBadRequest)
		if !strings.Contains(r.status(t).Message, "Selector") {
			t.Errorf("%s: message %q", bad, r.body)
		}
	}
}

func TestListHasResourceVersion(t *testing.T) {
	f := newFixture(t, nil)
	f.mustCode(f.do("POST", jobsPath, jobJSON("a")), http.StatusCreated)
	r := f.mustCode(f.do("GET", jobsPath, ""), http.StatusOK)
	var l v1alpha1.JobList
	if err := json.Unmarshal([]byte(r.body), &l); err != nil {
		t.Fatal(err)
	}
	if l.Kind != "JobList" || l.APIVersion != v1alpha1.APIVersion || l.ResourceVersion != fmt.Sprint(f.store.Revision()) {
		t.Errorf("list meta = %+v %+v, store revision %d", l.TypeMeta, l.ListMeta, f.store.Revision())
	}
	if len(l.Items) != 1 || l.Items[0].Kind != "Job" {
		t.Errorf("items = %+v", l.Items)
	}
}

// TestBigList checks that a list of 100,000 jobs streams quickly.
func TestBigList(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("creates 100,000 objects; skipped with -short and -race")
	}
	f := newFixture(t, nil)
	const n = 100_000
	ctx := t.Context()
	for i := range n {
		j := &v1alpha1.Job{}
		j.Name, j.Namespace = fmt.Sprintf("job-%06d", i), fmt.Sprintf("ns-%d", i%10)
		j.Spec.ReplicaGroups = []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: 1, Template: v1alpha1.ReplicaTemplate{Command: []string{"true"}}}}
		if err := f.store.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+APIPrefix+"/jobs", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	count := bytes.Count(body, []byte(`"uid":`))
	elapsed := time.Since(start)
	if count != n {
		t.Fatalf("listed %d jobs, want %d", count, n)
	}
	t.Logf("listed %d jobs in %v", n, elapsed)
	if elapsed > 2*time.Second {
		t.Errorf("listing %d jobs took %v, want well under 2s", n, elapsed)
	}
}
