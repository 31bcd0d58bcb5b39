package authz

import (
	"strings"
	"testing"

	"skiff.dev/skiff/internal/auth"
)

func TestAuthorize(t *testing.T) {
	admin := auth.Identity{Name: "admin", Admin: true}
	viewer := auth.Identity{Name: "carol", Namespace: "team-a", Role: "viewer"}
	editor := auth.Identity{Name: "alice", Namespace: "team-a", Role: "editor"}
	nsAdmin := auth.Identity{Name: "anna", Namespace: "team-a", Role: "admin"}
	nobody := auth.Identity{Name: "ghost"}
	tests := []struct {
		id    auth.Identity
		verb  Verb
		kind  string
		ns    string
		allow bool
	}{
		{admin, Delete, "Queue", "", true},
		{admin, Create, "Policy", "", true},
		{admin, Get, "Job", "team-b", true},
		{admin, List, AuditKind, "", true},
		{viewer, Get, "Job", "team-a", true},
		{viewer, Logs, "Job", "team-a", true},
		{viewer, Watch, "Event", "team-a", true},
		{viewer, Create, "Job", "team-a", false},
		{viewer, Delete, "Job", "team-a", false},
		{viewer, Get, "Job", "team-b", false},
		{editor, Create, "Job", "team-a", true},
		{editor, Update, "Job", "team-a", true},
		{editor, Delete, "Job", "team-a", true},
		{editor, Create, "Job", "team-b", false},
		{editor, Logs, "Job", "team-b", false},
		{editor, Create, "Event", "team-a", false},
		{editor, Create, "Token", "team-a", false},
		{editor, List, "Queue", "", true},
		{editor, Create, "Queue", "", false},
		{editor, Update, "Policy", "", false},
		{editor, Get, "Policy", "", true},
		{editor, Delete, "Node", "", false},
		{editor, Get, "Namespace", "team-a", true},
		{editor, Get, "Namespace", "team-b", false},
		{nsAdmin, Update, "Namespace", "team-a", false},
		{nsAdmin, Create, "Token", "team-a", true},
		{nsAdmin, Delete, "Token", "team-a", true},
		{nsAdmin, List, "Token", "team-a", true},
		{nsAdmin, Update, "Token", "team-a", false},
		{nsAdmin, Create, "Token", "team-b", false},
		{nsAdmin, List, AuditKind, "", false},
		{nsAdmin, Verb("invoke"), "Job", "team-a", false},
		{nsAdmin, Invoke, "InferenceService", "team-a", true},
		{nsAdmin, Invoke, "InferenceService", "team-b", false},
		{nobody, Get, "Job", "default", false},
		{nobody, List, "Queue", "", false},
	}
	for _, tt := range tests {
		d := Authorize(tt.id, tt.verb, tt.kind, tt.ns)
		if d.Allowed != tt.allow {
			t.Errorf("Authorize(%s, %s, %s, %q) = %v (%s), want %v", tt.id.Name, tt.verb, tt.kind, tt.ns, d.Allowed, d.Reason, tt.allow)
		}
		if !d.Allowed && !strings.Contains(d.Reason, tt.id.Name) {
			t.Errorf("reason %q does not say who was refused", d.Reason)
		}
	}
}

func TestListNamespace(t *testing.T) {
	if ns := ListNamespace(auth.Identity{Admin: true}); ns != "" {
		t.Errorf("cluster-admin lists %q, want all", ns)
	}
	if ns := ListNamespace(auth.Identity{Namespace: "team-a", Role: "viewer"}); ns != "team-a" {
		t.Errorf("tenant lists %q, want team-a", ns)
	}
}

func TestAuthorizeJobProgress(t *testing.T) {
	job := auth.Identity{Name: "system:job:a/train", Namespace: "a", Job: "train", JobUID: "u"}
	viewer := auth.Identity{Name: "v", Namespace: "a", Role: "viewer"}
	editor := auth.Identity{Name: "e", Namespace: "a", Role: "editor"}
	for _, tc := range []struct {
		id        auth.Identity
		verb      Verb
		ns, job   string
		wantAllow bool
	}{
		{job, Report, "a", "train", true},
		{job, Get, "a", "train", true},
		{job, Report, "a", "other", false},
		{job, Report, "b", "train", false},
		{job, Update, "a", "train", false},
		{viewer, Get, "a", "train", true},
		{viewer, Report, "a", "train", false},
		{editor, Report, "a", "train", true},
		{editor, Get, "b", "train", false},
		{auth.Identity{Name: "admin", Admin: true}, Report, "b", "x", true},
	} {
		if d := AuthorizeJobProgress(tc.id, tc.verb, tc.ns, tc.job); d.Allowed != tc.wantAllow {
			t.Errorf("%s %s %s/%s: allowed=%v (%s), want %v", tc.id.Name, tc.verb, tc.ns, tc.job, d.Allowed, d.Reason, tc.wantAllow)
		}
	}
	// Anywhere else a job's token is refused, in its own namespace too.
	for _, kind := range []string{"Job", "Event", "Queue", "Token"} {
		if d := Authorize(job, Get, kind, "a"); d.Allowed {
			t.Errorf("a job token may get %s", kind)
		}
	}
}
