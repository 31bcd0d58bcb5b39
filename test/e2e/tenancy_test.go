package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/audit"
)

const api = "/apis/skiff.dev/v1alpha1"

// call sends one raw HTTP request with a bearer token.
func (s *server) call(method, path, token, body string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/yaml")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// newToken runs `skiff token create` as the admin and returns the last
// line of its output, which must be the token alone.
func (s *server) newToken(args ...string) string {
	s.t.Helper()
	out := strings.TrimRight(s.mustSkiff("", append([]string{"token", "create"}, args...)...), "\n")
	lines := strings.Split(out, "\n")
	tok := lines[len(lines)-1]
	if !strings.HasPrefix(tok, "skf_") || strings.Contains(tok, " ") {
		s.t.Fatalf("last line of token create is %q, want the token alone\n%s", tok, out)
	}
	return tok
}

func jobYAML(ns, name, extra string) string {
	return `apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec:
` + extra + `
  replicaGroups:
  - name: worker
    template:
      command: ["sh", "-c", "echo secret of ` + ns + `; env"]
`
}

// as runs the CLI with another token and returns stdout+stderr and the code.
func (s *server) as(token, stdin string, args ...string) (string, int) {
	s.t.Helper()
	out, errOut, code := s.skiff(stdin, append([]string{"--token", token}, args...)...)
	return out + errOut, code
}

func TestTenantsAreIsolated(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	s := startServer(t, dataDir, t.TempDir())
	alice := s.newToken("--user", "alice", "--namespace", "team-a", "--role", "editor")
	bob := s.newToken("--user", "bob", "--namespace", "team-b", "--role", "editor")
	carol := s.newToken("--user", "carol", "--namespace", "team-a", "--role", "viewer")
	anna := s.newToken("--user", "anna", "--namespace", "team-a", "--role", "admin")
	secrets := []string{s.token, alice, bob, carol, anna}

	// token create made the namespaces.
	if out := s.mustSkiff("", "get", "namespaces"); !strings.Contains(out, "team-a") || !strings.Contains(out, "team-b") {
		t.Fatalf("get namespaces after token create:\n%s", out)
	}
	// get never shows a secret, only its hash.
	tokensJSON := s.mustSkiff("", "get", "tokens", "-o", "json")
	for _, sec := range secrets {
		if strings.Contains(tokensJSON, sec) {
			t.Fatalf("get tokens shows a token secret")
		}
	}

	// Each tenant runs a job.
	if out, code := s.as(bob, jobYAML("team-b", "secret", ""), "apply", "-f", "-"); code != 0 {
		t.Fatalf("bob apply: %s", out)
	}
	if out, code := s.as(alice, jobYAML("team-a", "mine", ""), "apply", "-f", "-"); code != 0 {
		t.Fatalf("alice apply: %s", out)
	}
	if out, code := s.as(alice, "", "wait", "job/mine", "-n", "team-a", "--for=condition=Succeeded", "--timeout=2m"); code != 0 {
		t.Fatalf("alice wait: %s", out)
	}

	t.Run("API: every verb on another tenant's objects is 403, existing or not", func(t *testing.T) {
		byName := func(name string) []struct{ method, path, body string } {
			p := api + "/namespaces/team-b/jobs"
			return []struct{ method, path, body string }{
				{"GET", p + "/" + name, ""},
				{"PUT", p + "/" + name, jobYAML("team-b", name, "")},
				{"DELETE", p + "/" + name, ""},
				{"GET", p + "/" + name + "/log", ""},
			}
		}
		exist, missing := byName("secret"), byName("nosuch")
		for i := range exist {
			c1, b1 := s.call(exist[i].method, exist[i].path, alice, exist[i].body)
			c2, b2 := s.call(missing[i].method, missing[i].path, alice, missing[i].body)
			if c1 != http.StatusForbidden || c2 != http.StatusForbidden {
				t.Errorf("%s %s: codes %d (exists) and %d (missing), want 403 for both", exist[i].method, exist[i].path, c1, c2)
			}
			if strings.ReplaceAll(b1, "secret", "NAME") != strings.ReplaceAll(b2, "nosuch", "NAME") {
				t.Errorf("%s: the 403 tells existing from missing:\n%s\n%s", exist[i].method, b1, b2)
			}
			if strings.Contains(b1, "echo secret") {
				t.Errorf("403 body leaks the object: %s", b1)
			}
		}
		for _, r := range []struct{ method, path, body string }{
			{"GET", api + "/namespaces/team-b/jobs", ""},
			{"GET", api + "/namespaces/team-b/jobs?watch=true&timeoutSeconds=1", ""},
			{"POST", api + "/namespaces/team-b/jobs", jobYAML("team-b", "planted", "")},
			{"GET", api + "/namespaces/team-b/events", ""},
			{"POST", api + "/flavors", "apiVersion: skiff.dev/v1alpha1\nkind: Flavor\nmetadata: {name: x}\nspec: {}\n"},
			{"GET", api + "/namespaces/team-b", ""},
		} {
			if code, body := s.call(r.method, r.path, alice, r.body); code != http.StatusForbidden {
				t.Errorf("alice %s %s = %d, want 403: %s", r.method, r.path, code, body)
			}
		}
		// Listing across namespaces shows alice only her namespace.
		code, body := s.call("GET", api+"/jobs", alice, "")
		if code != 200 || !strings.Contains(body, `"mine"`) || strings.Contains(body, `"secret"`) {
			t.Errorf("alice GET /jobs = %d, want only team-a jobs: %s", code, body)
		}
		// Her own objects work.
		if code, _ := s.call("GET", api+"/namespaces/team-a/jobs/mine", alice, ""); code != 200 {
			t.Errorf("alice reading her own job: %d", code)
		}
	})

	t.Run("CLI and logs", func(t *testing.T) {
		for _, args := range [][]string{
			{"get", "job", "secret", "-n", "team-b"},
			{"describe", "job", "secret", "-n", "team-b"},
			{"delete", "job", "secret", "-n", "team-b"},
			{"logs", "job/secret", "-n", "team-b"},
			{"get", "jobs", "-n", "team-b"},
		} {
			out, code := s.as(alice, "", args...)
			if code == 0 || !strings.Contains(out, "forbidden") {
				t.Errorf("alice skiff %v: exit %d, want a forbidden error:\n%s", args, code, out)
			}
		}
		out, code := s.as(alice, "", "get", "jobs", "-A")
		if code != 0 || !strings.Contains(out, "mine") || strings.Contains(out, "secret") {
			t.Errorf("alice get jobs -A (exit %d) should list team-a only:\n%s", code, out)
		}
		logs, code := s.as(alice, "", "logs", "job/mine", "-n", "team-a")
		if code != 0 || !strings.Contains(logs, "secret of team-a") {
			t.Fatalf("alice's own logs (exit %d): %s", code, logs)
		}
		// Isolation of workloads: the replica's env holds no token of anyone.
		for _, sec := range secrets {
			if strings.Contains(logs, sec) {
				t.Errorf("a replica's environment contains a token")
			}
		}
		if strings.Contains(logs, "SKIFF_TOKEN") {
			t.Errorf("a replica's environment contains SKIFF_TOKEN:\n%s", logs)
		}
		if out, code := s.as(bob, "", "logs", "job/mine", "-n", "team-a"); code == 0 || strings.Contains(out, "secret of team-a") {
			t.Errorf("bob read alice's logs (exit %d): %s", code, out)
		}
	})

	t.Run("viewer cannot write", func(t *testing.T) {
		if out, code := s.as(carol, jobYAML("team-a", "viewer-job", ""), "apply", "-f", "-"); code == 0 || !strings.Contains(out, "forbidden") {
			t.Errorf("viewer apply: exit %d\n%s", code, out)
		}
		if out, code := s.as(carol, "", "delete", "job", "mine", "-n", "team-a"); code == 0 {
			t.Errorf("viewer delete succeeded: %s", out)
		}
		if out, code := s.as(carol, "", "get", "job", "mine", "-n", "team-a"); code != 0 {
			t.Errorf("viewer get: %s", out)
		}
		if out, code := s.as(carol, "", "token", "create", "--user", "x", "-n", "team-a", "--role", "admin"); code == 0 {
			t.Errorf("viewer created a token: %s", out)
		}
	})

	t.Run("namespace admin manages its own tokens only", func(t *testing.T) {
		out, code := s.as(anna, "", "token", "create", "--user", "dan", "-n", "team-a", "--role", "viewer")
		if code != 0 {
			t.Fatalf("namespace admin token create: %s", out)
		}
		if out, code := s.as(anna, "", "token", "create", "--user", "eve", "-n", "team-b", "--role", "admin"); code == 0 || !strings.Contains(out, "forbidden") {
			t.Errorf("team-a admin made a team-b token: exit %d %s", code, out)
		}
		list, code := s.as(anna, "", "token", "list")
		if code != 0 || !strings.Contains(list, "dan") || strings.Contains(list, "bob") {
			t.Errorf("namespace admin token list should show team-a only:\n%s", list)
		}
		// Another namespace's token and a missing one read the same.
		bobID := tokenID(t, s, "bob")
		c1, b1 := s.call("DELETE", api+"/tokens/"+bobID, anna, "")
		c2, b2 := s.call("DELETE", api+"/tokens/tk-nosuch", anna, "")
		if c1 != 403 || c2 != 403 || strings.ReplaceAll(b1, bobID, "X") != strings.ReplaceAll(b2, "tk-nosuch", "X") {
			t.Errorf("revoking bob's token as anna: %d %s / missing: %d %s", c1, b1, c2, b2)
		}
	})

	t.Run("policies deny, warn and default as written", func(t *testing.T) {
		policies := `apiVersion: skiff.dev/v1alpha1
kind: Policy
metadata: {name: priority-cap}
spec:
  match: {kinds: [Job], namespaces: [team-a]}
  validate:
  - expression: "!has(object.spec.priority) || object.spec.priority <= 1000"
    message: "team-a jobs may not use a priority above 1000"
---
apiVersion: skiff.dev/v1alpha1
kind: Policy
metadata: {name: gpu-cap}
spec:
  match: {kinds: [Job]}
  validate:
  - expression: "object.spec.replicaGroups.all(g, !has(g.template.resources.gpu) || !quantity(g.template.resources.gpu).isGreaterThan(quantity('1')))"
    message: "at most 1 GPU per replica"
  - expression: "has(object.spec.runPolicy.activeDeadlineSeconds)"
    message: "set runPolicy.activeDeadlineSeconds"
    action: Warn
---
apiVersion: skiff.dev/v1alpha1
kind: Policy
metadata: {name: team-b-defaults}
spec:
  match: {kinds: [Job], namespaces: [team-b]}
  default:
  - field: spec.priority
    expression: "100"
`
		s.mustSkiff(policies, "apply", "-f", "-")
		out, code := s.as(alice, jobYAML("team-a", "greedy", "  priority: 2000"), "apply", "-f", "-")
		if code == 0 || !strings.Contains(out, "team-a jobs may not use a priority above 1000") {
			t.Errorf("priority 2000 in team-a: exit %d\n%s", code, out)
		}
		gpuJob := strings.Replace(jobYAML("team-a", "gpus", ""), "    template:\n", "    template:\n      resources: {gpu: 2}\n", 1)
		out, code = s.as(alice, gpuJob, "apply", "-f", "-")
		if code == 0 || !strings.Contains(out, "at most 1 GPU per replica") {
			t.Errorf("2 GPUs per replica: exit %d\n%s", code, out)
		}
		out, code = s.as(alice, jobYAML("team-a", "modest", "  priority: 500"), "apply", "-f", "-")
		if code != 0 || !strings.Contains(out, "Warning: policy gpu-cap: set runPolicy.activeDeadlineSeconds") {
			t.Errorf("priority 500 should pass with a warning: exit %d\n%s", code, out)
		}
		if out, code := s.as(bob, jobYAML("team-b", "defaulted", ""), "apply", "-f", "-"); code != 0 {
			t.Fatalf("bob apply: %s", out)
		}
		if j := s.getJob("team-b", "defaulted"); j.Spec.Priority != 100 {
			t.Errorf("team-b job priority %d, want the policy default 100", j.Spec.Priority)
		}
		// A default that produces an invalid object is caught by validation.
		s.mustSkiff(`apiVersion: skiff.dev/v1alpha1
kind: Policy
metadata: {name: team-c-bad-default}
spec:
  match: {kinds: [Job], namespaces: [team-c]}
  default:
  - field: spec.placementPolicy
    expression: "'Random'"
`, "apply", "-f", "-")
		if _, errOut, code := s.skiff(jobYAML("team-c", "invalid", ""), "apply", "-f", "-"); code == 0 || !strings.Contains(errOut, "spec.placementPolicy") {
			t.Errorf("a policy default made an invalid job: exit %d %s", code, errOut)
		}
		// Invalid CEL is refused at creation with the compiler's position; nothing is stored.
		bad := "apiVersion: skiff.dev/v1alpha1\nkind: Policy\nmetadata: {name: broken}\nspec:\n  validate:\n  - expression: \"object.spec.priority <=\"\n"
		code, body := s.call("POST", api+"/policies", s.token, bad)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "spec.validate[0].expression") || !strings.Contains(body, "1:") {
			t.Errorf("invalid CEL: %d %s", code, body)
		}
		if code, _ := s.call("GET", api+"/policies/broken", s.token, ""); code != http.StatusNotFound {
			t.Errorf("a policy with invalid CEL was stored (GET = %d)", code)
		}
		if out, code := s.as(alice, strings.Replace(bad, "broken", "mine", 1), "apply", "-f", "-"); code == 0 || !strings.Contains(out, "forbidden") {
			t.Errorf("a tenant created a policy: %s", out)
		}
	})

	t.Run("namespace limits", func(t *testing.T) {
		s.mustSkiff("apiVersion: skiff.dev/v1alpha1\nkind: Namespace\nmetadata: {name: team-b}\nspec:\n  limits: {gpus: 0, runningJobs: 5}\n", "apply", "-f", "-")
		gpuJob := strings.Replace(jobYAML("team-b", "gpu-job", ""), "    template:\n", "    template:\n      resources: {gpu: 1}\n", 1)
		out, code := s.as(bob, gpuJob, "apply", "-f", "-")
		if code == 0 || !strings.Contains(out, "spec.limits.gpus") {
			t.Errorf("a job over the namespace GPU limit: exit %d\n%s", code, out)
		}
		if out, code := s.as(bob, "apiVersion: skiff.dev/v1alpha1\nkind: Namespace\nmetadata: {name: team-b}\nspec: {}\n", "apply", "-f", "-"); code == 0 {
			t.Errorf("a tenant lifted its own limits: %s", out)
		}
		s.mustSkiff("apiVersion: skiff.dev/v1alpha1\nkind: Namespace\nmetadata: {name: team-b}\nspec:\n  limits: {gpus: 0, runningJobs: 5, services: 1}\n", "apply", "-f", "-")
		svc := func(name string) string {
			return "apiVersion: skiff.dev/v1alpha1\nkind: InferenceService\nmetadata: {name: " + name + ", namespace: team-b}\n" +
				"spec:\n  models: [" + name + "-model]\n  queue: default\n  template: {command: [sleep, \"60\"]}\n  minReplicas: 0\n  maxReplicas: 1\n"
		}
		waitFor(t, func() bool {
			out, code := s.as(bob, svc("svc-1"), "apply", "-f", "-")
			return code == 0 && strings.Contains(out, "svc-1")
		})
		if out, code := s.as(bob, svc("svc-2"), "apply", "-f", "-"); code == 0 || !strings.Contains(out, "spec.limits.services") {
			t.Errorf("a second inference service past spec.limits.services 1: exit %d\n%s", code, out)
		}
	})

	t.Run("expired and revoked tokens get 401", func(t *testing.T) {
		short := s.newToken("--user", "temp", "--namespace", "team-a", "--role", "viewer", "--ttl", "1s")
		doomed := s.newToken("--user", "doomed", "--namespace", "team-a", "--role", "viewer", "--id", "tk-doomed")
		if code, _ := s.call("GET", api+"/namespaces/team-a/jobs", doomed, ""); code != 200 {
			t.Fatalf("fresh token: %d", code)
		}
		s.mustSkiff("", "token", "revoke", "tk-doomed")
		if code, _ := s.call("GET", api+"/namespaces/team-a/jobs", doomed, ""); code != http.StatusUnauthorized {
			t.Errorf("revoked token: %d, want 401", code)
		}
		time.Sleep(1100 * time.Millisecond)
		if code, _ := s.call("GET", api+"/namespaces/team-a/jobs", short, ""); code != http.StatusUnauthorized {
			t.Errorf("expired token: %d, want 401", code)
		}
		if code, _ := s.call("GET", api+"/namespaces/team-a/jobs", "skf_malformed", ""); code != http.StatusUnauthorized {
			t.Errorf("malformed token: %d, want 401", code)
		}
		if out, code := s.as(short, "", "get", "jobs", "-n", "team-a"); code == 0 || !strings.Contains(out, "expired or revoked") {
			t.Errorf("CLI with an expired token: exit %d %s", code, out)
		}
	})

	t.Run("audit log records allowed and denied attempts", func(t *testing.T) {
		if out, code := s.as(alice, "", "audit"); code == 0 || !strings.Contains(out, "forbidden") {
			t.Errorf("a tenant read the audit log: %s", out)
		}
		var list struct{ Items []audit.Event }
		if err := json.Unmarshal([]byte(s.mustSkiff("", "audit", "-o", "json")), &list); err != nil {
			t.Fatal(err)
		}
		find := func(user, verb, ns, name string, allowed bool, code int) {
			t.Helper()
			for _, e := range list.Items {
				if e.User == user && e.Verb == verb && e.Namespace == ns && e.Name == name && e.Allowed == allowed && e.Code == code {
					return
				}
			}
			t.Errorf("no audit event %s %s %s/%s allowed=%v code=%d", user, verb, ns, name, allowed, code)
		}
		find("alice", "get", "team-b", "secret", false, 403)
		find("alice", "delete", "team-b", "secret", false, 403)
		find("alice", "logs", "team-b", "secret", false, 403)
		find("alice", "create", "team-a", "mine", true, 201)
		find("alice", "create", "team-a", "greedy", true, 422)
		// A refused create is recorded before its body is read, so without a name.
		find("carol", "create", "team-a", "", false, 403)
		find("system:anonymous", "list", "team-a", "", false, 401)
		// Each event names the credential, not only the user name its creator chose.
		for _, e := range list.Items {
			if e.User == "alice" && (e.UserNamespace != "team-a" || e.TokenID == "") {
				t.Errorf("audit event of alice without her token's namespace and ID: %+v", e)
				break
			}
		}
		userOnly := s.mustSkiff("", "audit", "--user", "bob", "--since", "1h")
		if !strings.Contains(userOnly, "bob") || strings.Contains(userOnly, "alice") {
			t.Errorf("audit --user bob:\n%s", userOnly)
		}
		raw, err := os.ReadFile(filepath.Join(dataDir, "audit", audit.FileName))
		if err != nil {
			t.Fatal(err)
		}
		for _, sec := range append(secrets, "echo secret") {
			if strings.Contains(string(raw), sec) {
				t.Errorf("the audit log contains a token or a request body")
			}
		}
	})
}

func tokenID(t *testing.T, s *server, user string) string {
	t.Helper()
	var l v1alpha1.TokenList
	if err := json.Unmarshal([]byte(s.mustSkiff("", "get", "tokens", "-o", "json")), &l); err != nil {
		t.Fatal(err)
	}
	for _, tok := range l.Items {
		if tok.Spec.User == user {
			return tok.Name
		}
	}
	t.Fatalf("no token for %s", user)
	return ""
}
