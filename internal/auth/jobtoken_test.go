package auth

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJobTokens(t *testing.T) {
	j := NewJobTokens("secret-key")
	tok := j.Issue("team-a", "train", "uid-1")
	if !strings.HasPrefix(tok, JobTokenPrefix) {
		t.Fatalf("token %q lacks the prefix", tok)
	}
	id, ok := j.Authenticate(tok)
	if !ok {
		t.Fatal("a freshly issued token was refused")
	}
	want := Identity{Name: "system:job:team-a/train", Namespace: "team-a", Job: "train", JobUID: "uid-1"}
	if d := cmp.Diff(want, id); d != "" {
		t.Errorf("identity (-want +got):\n%s", d)
	}
	other := NewJobTokens("another-key")
	if _, ok := other.Authenticate(tok); ok {
		t.Error("a token was accepted under another key")
	}
	// Changing the job the token names breaks its MAC.
	enc, sig, _ := strings.Cut(strings.TrimPrefix(tok, JobTokenPrefix), ".")
	forged := JobTokenPrefix + strings.Replace(enc, enc[:4], "dGVh", 1) + "x." + sig
	for _, bad := range []string{"", "skj_", "skj_abc", forged, tok + "x", strings.Replace(tok, ".", "", 1),
		j.Issue("team-a", "", "uid"), JobTokenPrefix + "dGVhbS1hL3RyYWlu." + sig} {
		if _, ok := j.Authenticate(bad); ok {
			t.Errorf("token %q was accepted", bad)
		}
	}
	if _, ok := NewJobTokens("").Authenticate(NewJobTokens("").Issue("a", "b", "c")); ok {
		t.Error("JobTokens without a key accepted a token")
	}
}

func TestChain(t *testing.T) {
	users := NewTokens("skf_admin")
	jobs := NewJobTokens("k")
	c := Chain{Users: users, Jobs: jobs}
	if id, ok := c.Authenticate("skf_admin"); !ok || !id.Admin {
		t.Errorf("admin token: %v %v", id, ok)
	}
	if id, ok := c.Authenticate(jobs.Issue("ns", "j", "u")); !ok || id.Job != "j" {
		t.Errorf("job token: %v %v", id, ok)
	}
	if _, ok := (Chain{Users: users}).Authenticate(jobs.Issue("ns", "j", "u")); ok {
		t.Error("a chain without job tokens accepted one")
	}
}
