package apiserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"skiff.dev/skiff/api/v1alpha1"
)

func TestHealthAndReadyNeedNoToken(t *testing.T) {
	f := newFixture(t, nil)
	for _, p := range []string{"/healthz", "/readyz"} {
		r := f.mustCode(f.do("GET", p, "", "Authorization", ""), http.StatusOK)
		if r.body != "ok" {
			t.Errorf("%s body = %q, want ok", p, r.body)
		}
	}
}

func TestUnauthenticated(t *testing.T) {
	f := newFixture(t, nil)
	for _, authz := range []string{"", "Bearer", "Bearer skf_wrong", "Basic " + adminToken, adminToken} {
		for _, p := range []string{"/version", jobsPath, APIPrefix + "/queues", "/nonexistent"} {
			r := f.mustCode(f.do("GET", p, "", "Authorization", authz), http.StatusUnauthorized)
			st := r.status(t)
			want := metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
				Status: metav1.StatusFailure, Message: "Unauthorized", Reason: metav1.StatusReasonUnauthorized, Code: 401}
			if diff := cmp.Diff(want, st); diff != "" {
				t.Errorf("Authorization %q GET %s (-want +got):\n%s", authz, p, diff)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	f := newFixture(t, nil)
	r := f.mustCode(f.do("GET", "/version", ""), http.StatusOK)
	var v VersionInfo
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatal(err)
	}
	if v.Version != "v0.0.0-test" || v.APIVersion != "skiff.dev/v1alpha1" {
		t.Errorf("version = %+v", v)
	}
}

func TestDiscovery(t *testing.T) {
	f := newFixture(t, nil)
	r := f.mustCode(f.do("GET", APIPrefix, ""), http.StatusOK)
	var l metav1.APIResourceList
	if err := json.Unmarshal([]byte(r.body), &l); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, res := range l.APIResources {
		names = append(names, res.Name)
	}
	if diff := cmp.Diff([]string{"jobs", "experiments", "queues", "flavors", "nodes", "events", "namespaces", "tokens", "policies", "inferenceservices"}, names); diff != "" {
		t.Errorf("resources (-want +got):\n%s", diff)
	}
}

func TestJobCRUD(t *testing.T) {
	f := newFixture(t, nil)
	r := f.mustCode(f.do("POST", jobsPath, jobJSON("train")), http.StatusCreated)
	var created v1alpha1.Job
	if err := json.Unmarshal([]byte(r.body), &created); err != nil {
		t.Fatal(err)
	}
	if created.Namespace != "team-a" || created.UID == "" || created.ResourceVersion == "" || created.Kind != "Job" {
		t.Fatalf("created = %+v", created.ObjectMeta)
	}
	if created.Spec.Queue != "default" || created.Status.Phase != v1alpha1.JobPending {
		t.Errorf("defaults not applied: queue %q phase %q", created.Spec.Queue, created.Status.Phase)
	}

	r = f.mustCode(f.do("GET", jobsPath+"/train", ""), http.StatusOK)
	var got v1alpha1.Job
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(created.ObjectMeta, got.ObjectMeta); diff != "" {
		t.Errorf("GET metadata (-created +got):\n%s", diff)
	}

	// A user update changes spec and labels but never status.
	got.Spec.Priority = 7
	got.Labels["tier"] = "gold"
	got.Status.Phase = v1alpha1.JobSucceeded
	body, _ := json.Marshal(&got)
	r = f.mustCode(f.do("PUT", jobsPath+"/train", string(body)), http.StatusOK)
	var updated v1alpha1.Job
	if err := json.Unmarshal([]byte(r.body), &updated); err != nil {
		t.Fatal(err)
	}
	if updated.Spec.Priority != 7 || updated.Labels["tier"] != "gold" || updated.Generation != 2 {
		t.Errorf("update not applied: priority %d labels %v generation %d", updated.Spec.Priority, updated.Labels, updated.Generation)
	}
	if updated.Status.Phase != v1alpha1.JobPending {
		t.Errorf("status.phase = %q: a user PUT must not change status", updated.Status.Phase)
	}

	// The same PUT again is stale.
	r = f.mustCode(f.do("PUT", jobsPath+"/train", string(body)), http.StatusConflict)
	if st := r.status(t); st.Reason != metav1.StatusReasonConflict {
		t.Errorf("reason = %q, want Conflict", st.Reason)
	}
	// Sending the current version back unchanged writes nothing.
	body, _ = json.Marshal(&updated)
	r = f.mustCode(f.do("PUT", jobsPath+"/train", string(body)), http.StatusOK)
	var same v1alpha1.Job
	_ = json.Unmarshal([]byte(r.body), &same)
	if same.ResourceVersion != updated.ResourceVersion {
		t.Errorf("no-op update moved resourceVersion %s -> %s", updated.ResourceVersion, same.ResourceVersion)
	}
	// An update without resourceVersion is refused with the field named.
	r = f.mustCode(f.do("PUT", jobsPath+"/train", jobJSON("train")), http.StatusUnprocessableEntity)
	if st := r.status(t); !strings.Contains(st.Message, "metadata.resourceVersion") {
		t.Errorf("message %q does not name metadata.resourceVersion", st.Message)
	}

	r = f.mustCode(f.do("DELETE", jobsPath+"/train", ""), http.StatusOK)
	if st := r.status(t); st.Status != metav1.StatusSuccess || st.Details.Name != "train" {
		t.Errorf("delete status = %+v", st)
	}
	r = f.mustCode(f.do("GET", jobsPath+"/train", ""), http.StatusNotFound)
	if st := r.status(t); st.Reason != metav1.StatusReasonNotFound {
		t.Errorf("reason = %q", st.Reason)
	}
	f.mustCode(f.do("DELETE", jobsPath+"/train", ""), http.StatusNotFound)
	f.mustCode(f.do("PUT", jobsPath+"/train", string(body)), http.StatusNotFound)
}

func TestCreateIgnoresStatusAndServerFields(t *testing.T) {
	f := newFixture(t, nil)
	body := strings.Replace(jobJSON("j"), `"metadata":{`, `"metadata":{"uid":"forged","creationTimestamp":"2000-01-01T00:00:00Z",`, 1)
	body = strings.TrimSuffix(body, "}") + `,"status":{"phase":"Succeeded","restarts":3}}`
	r := f.mustCode(f.do("POST", jobsPath, body), http.StatusCreated)
	var j v1alpha1.Job
	_ = json.Unmarshal([]byte(r.body), &j)
	if j.UID == "forged" || !j.CreationTimestamp.Time.Equal(epoch) {
		t.Errorf("server fields taken from the body: uid %q created %v", j.UID, j.CreationTimestamp)
	}
	if j.Status.Phase != v1alpha1.JobPending || j.Status.Restarts != 0 {
		t.Errorf("status taken from the body: %+v", j.Status)
	}
	body = strings.Replace(jobJSON("k"), `"metadata":{`, `"metadata":{"resourceVersion":"5",`, 1)
	r = f.mustCode(f.do("POST", jobsPath, body), http.StatusUnprocessableEntity)
	if !strings.Contains(r.status(t).Message, "metadata.resourceVersion") {
		t.Errorf("message = %q", r.body)
	}
}

func TestCreateAlreadyExists(t *testing.T) {
	f := newFixture(t, nil)
	f.mustCode(f.do("POST", jobsPath, jobJSON("a")), http.StatusCreated)
	r := f.mustCode(f.do("POST", jobsPath, jobJSON("a")), http.StatusConflict)
	if st := r.status(t); st.Reason != metav1.StatusReasonAlreadyExists {
		t.Errorf("reason = %q, want AlreadyExists", st.Reason)
	}
}

// countJobs lists through the store, so tests can check nothing was stored.
func (f *fixture) countJobs() int {
	f.t.Helper()
	var l v1alpha1.JobList
	if err := f.store.List(f.t.Context(), &l, storeAll()); err != nil {
		f.t.Fatal(err)
	}
	return len(l.Items)
}

func TestBadInputStoresNothing(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		ct       string
		code     int
		reason   metav1.StatusReason
		mentions []string
	}{
		{name: "unknown field", body: strings.Replace(jobJSON("a"), `"replicas":2`, `"replicas":2,"replicaz":3`, 1),
			code: 400, reason: metav1.StatusReasonBadRequest, mentions: []string{"spec.replicaGroups[0].replicaz", "unknown field"}},
		{name: "bad quantity", body: strings.Replace(jobJSON("a"), `"cpu":"1"`, `"cpu":"lots"`, 1),
			code: 400, reason: metav1.StatusReasonBadRequest, mentions: []string{"spec.replicaGroups[0].template.resources.cpu", "quantity"}},
		{name: "malformed", body: `{"kind":`, code: 400, reason: metav1.StatusReasonBadRequest},
		{name: "empty", body: " ", code: 400, reason: metav1.StatusReasonBadRequest, mentions: []string{"empty"}},
		{name: "validation", body: strings.Replace(jobJSON("a"), `"command":["python3","train.py"]`, `"command":[]`, 1),
			code: 422, reason: metav1.StatusReasonInvalid, mentions: []string{"spec.replicaGroups[0].template.command"}},
		{name: "bad name", body: jobJSON("Not_A_Name"), code: 422, reason: metav1.StatusReasonInvalid, mentions: []string{"metadata.name"}},
		{name: "namespace mismatch", body: strings.Replace(jobJSON("a"), `"metadata":{`, `"metadata":{"namespace":"team-b",`, 1),
			code: 400, reason: metav1.StatusReasonBadRequest, mentions: []string{"metadata.namespace", "team-b", "team-a"}},
		{name: "kind mismatch", body: `{"apiVersion":"skiff.dev/v1alpha1","kind":"Flavor","metadata":{"name":"a"},"spec":{}}`,
			code: 400, reason: metav1.StatusReasonBadRequest, mentions: []string{"Flavor", APIPrefix + "/flavors"}},
		{name: "media type", body: jobJSON("a"), ct: "text/plain", code: 415, reason: metav1.StatusReasonUnsupportedMediaType},
		{name: "too large", body: strings.Replace(jobJSON("a"), `"app":"a"`, `"app":"a","big":"`+strings.Repeat("x", 5<<20)+`"`, 1),
			code: 413, reason: metav1.StatusReasonRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			var hdr []string
			if tt.ct != "" {
				hdr = []string{"Content-Type", tt.ct}
			}
			r := f.mustCode(f.do("POST", jobsPath, tt.body, hdr...), tt.code)
			st := r.status(t)
			if st.Reason != tt.reason || st.Code != int32(tt.code) {
				t.Errorf("reason %q code %d, want %q %d", st.Reason, st.Code, tt.reason, tt.code)
			}
			for _, m := range tt.mentions {
				if !strings.Contains(st.Message, m) {
					t.Errorf("message %q does not mention %q", st.Message, m)
				}
			}
			if n := f.countJobs(); n != 0 {
				t.Errorf("%d jobs stored after a failed create", n)
			}
		})
	}
}

func TestValidationCauses(t *testing.T) {
	f := newFixture(t, nil)
	body := `{"apiVersion":"skiff.dev/v1alpha1","kind":"Job","metadata":{"name":"a"},"spec":{"replicaGroups":[]}}`
	st := f.mustCode(f.do("POST", jobsPath, body), 422).status(t)
	if st.Details == nil || len(st.Details.Causes) == 0 || st.Details.Causes[0].Field != "spec.replicaGroups" {
		t.Fatalf("causes = %+v", st.Details)
	}
	if st.Details.Kind != "Job" || st.Details.Name != "a" {
		t.Errorf("details = %+v", st.Details)
	}
}

func TestPaths(t *testing.T) {
	f := newFixture(t, nil)
	f.mustCode(f.do("POST", jobsPath, jobJSON("a")), http.StatusCreated)
	tests := []struct {
		method, path, body string
		code               int
		mentions           string
	}{
		{"GET", APIPrefix + "/widgets", "", 404, ""},
		{"GET", APIPrefix + "/namespaces/team-a/queues", "", 404, "cluster-scoped"},
		{"POST", APIPrefix + "/jobs", jobJSON("b"), 400, "namespaced"},
		{"GET", APIPrefix + "/jobs/a", "", 400, "namespaced"},
		{"GET", APIPrefix + "/namespaces/Team_A/jobs", "", 400, "Team_A"},
		{"GET", jobsPath + "/a/status", "", 404, ""},
		{"GET", jobsPath + "//a", "", 404, ""},
		{"PATCH", jobsPath + "/a", "{}", 405, "PATCH"},
		{"DELETE", jobsPath, "", 405, ""},
		{"PUT", jobsPath + "/b", strings.Replace(jobJSON("a"), `"metadata":{`, `"metadata":{"resourceVersion":"1",`, 1), 400, "metadata.name"},
		{"GET", "/apis/other/v1/things", "", 404, ""},
	}
	for _, tt := range tests {
		r := f.do(tt.method, tt.path, tt.body)
		if r.code != tt.code {
			t.Errorf("%s %s: code %d, want %d: %s", tt.method, tt.path, r.code, tt.code, r.body)
			continue
		}
		if st := r.status(t); !strings.Contains(st.Message, tt.mentions) {
			t.Errorf("%s %s: message %q does not mention %q", tt.method, tt.path, st.Message, tt.mentions)
		}
	}
}

func TestYAMLInAndOut(t *testing.T) {
	f := newFixture(t, nil)
	manifest := `apiVersion: skiff.dev/v1alpha1
kind: Job
metadata:
  name: yml
spec:
  replicaGroups:
  - name: worker
    template:
      command: [sleep, "1"]
`
	r := f.mustCode(f.do("POST", jobsPath, manifest, "Content-Type", "application/yaml", "Accept", "application/yaml"), http.StatusCreated)
	if ct := r.header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type = %q", ct)
	}
	var j v1alpha1.Job
	if err := yaml.UnmarshalStrict([]byte(r.body), &j); err != nil {
		t.Fatalf("response is not a Job in YAML: %v\n%s", err, r.body)
	}
	if j.Name != "yml" || j.Spec.ReplicaGroups[0].Replicas != 1 {
		t.Errorf("job = %+v", j)
	}
	f.mustCode(f.do("POST", jobsPath, jobJSON("other")), http.StatusCreated)
	for _, accept := range []string{"application/yaml", "text/html, application/yaml;q=0.9"} {
		r = f.mustCode(f.do("GET", jobsPath, "", "Accept", accept), http.StatusOK)
		var l v1alpha1.JobList
		if err := yaml.UnmarshalStrict([]byte(r.body), &l); err != nil {
			t.Fatalf("list is not YAML: %v\n%s", err, r.body)
		}
		if len(l.Items) != 2 || l.Items[1].Name != "yml" || l.ResourceVersion == "" || l.Kind != "JobList" {
			t.Errorf("list = %d items, rv %q kind %q", len(l.Items), l.ResourceVersion, l.Kind)
		}
	}
	r = f.mustCode(f.do("GET", APIPrefix+"/queues", "", "Accept", "application/yaml"), http.StatusOK)
	var ql v1alpha1.QueueList
	if err := yaml.UnmarshalStrict([]byte(r.body), &ql); err != nil || len(ql.Items) != 0 {
		t.Errorf("empty YAML list: %v %+v\n%s", err, ql, r.body)
	}
}
