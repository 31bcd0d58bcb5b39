package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestServicesAndExperimentsThatCouldNeverRunAreRefused: the checks a job
// gets at creation apply to the jobs an InferenceService's replicas and an
// Experiment's trials would be, a model name is served by one service of a
// namespace, and the refused objects are not stored.
func TestServicesAndExperimentsThatCouldNeverRunAreRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir()) // --gpus 2: the default queue holds 2 GPUs
	service := func(name, model, extra string) string {
		return "apiVersion: skiff.dev/v1alpha1\nkind: InferenceService\nmetadata: {name: " + name + ", namespace: default}\n" +
			"spec:\n  models: [" + model + "]\n  minReplicas: 0\n  template: {command: [sleep, '60']" + extra + "}\n"
	}
	experiment := "apiVersion: skiff.dev/v1alpha1\nkind: Experiment\nmetadata: {name: sweep, namespace: default}\nspec:\n" +
		"  parameters: [{name: lr, type: double, min: 0.001, max: 0.1}]\n  objective: {metricName: loss, type: minimize}\n  maxTrials: 2\n" +
		"  trialTemplate: {queue: nope, replicaGroups: [{name: w, template: {command: [x], args: ['${params.lr}']}}]}\n"
	s.mustSkiff(service("first", "m1", ""), "apply", "-f", "-")
	cases := []struct{ name, doc, want, get string }{
		{"service, unknown queue", strings.Replace(service("nq", "m2", ""), "spec:\n", "spec:\n  queue: nope\n", 1),
			`spec.queue: queue "nope" does not exist`, "inferenceservice/nq"},
		{"service, replica larger than the queue", service("big", "m3", ", resources: {gpu: 64}"),
			`spec.template.resources: each replica runs as a job of one replica of this template, and that job could never run: the job needs 64 gpu in total but queue "default" holds at most 2`, "inferenceservice/big"},
		{"service, model of another service", service("second", "m1", ""),
			`spec.models[0]: model "m1" is already served by inference service "first" in namespace "default"`, "inferenceservice/second"},
		{"experiment, unknown queue", experiment, `spec.trialTemplate.queue: queue "nope" does not exist`, "experiment/sweep"},
	}
	for _, tc := range cases {
		if _, errOut, code := s.skiff(tc.doc, "apply", "-f", "-"); code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d stderr %q, want exit 1 naming %q", tc.name, code, errOut, tc.want)
		}
		if _, errOut, code := s.skiff("", "get", tc.get); code == 0 || !strings.Contains(errOut, "not found") {
			t.Errorf("%s: the refused object was stored (get: exit %d, %q)", tc.name, code, errOut)
		}
	}
	// The service that was there first is untouched and can be changed.
	s.mustSkiff(service("first", "m1", ", env: [{name: A, value: b}]"), "apply", "-f", "-")
}

// TestTokenAppliedFromAManifestPrintsItsSecretOnce: a Token created with
// apply prints the secret the server hands out once, and it works.
func TestTokenAppliedFromAManifestPrintsItsSecretOnce(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir())
	doc := "apiVersion: skiff.dev/v1alpha1\nkind: Token\nmetadata: {name: carol-ci}\nspec: {user: carol, namespace: team-c, role: viewer}\n"
	out := strings.TrimRight(s.mustSkiff(doc, "apply", "-f", "-"), "\n")
	lines := strings.Split(out, "\n")
	secret := lines[len(lines)-1]
	if !strings.Contains(out, "token.skiff.dev/carol-ci created") || !strings.HasPrefix(secret, "skf_") {
		t.Fatalf("apply of a Token printed %q, want the created line and then the secret alone", out)
	}
	if got, code := s.as(secret, "", "get", "jobs", "-n", "team-c"); code != 0 {
		t.Errorf("the printed secret does not work: exit %d, %s", code, got)
	}
	// Applied again, the token is unchanged (and still works), no secret
	// is printed, and a change is refused.
	if again := s.mustSkiff(doc, "apply", "-f", "-"); !strings.Contains(again, "unchanged") || strings.Contains(again, "skf_") {
		t.Errorf("second apply printed %q, want unchanged and no secret", again)
	}
	if got, code := s.as(secret, "", "get", "jobs", "-n", "team-c"); code != 0 {
		t.Errorf("the secret stopped working after a second apply: exit %d, %s", code, got)
	}
	expired := "apiVersion: skiff.dev/v1alpha1\nkind: Token\nmetadata: {name: old}\nspec: {user: carol, namespace: team-c, role: viewer, expiresAt: '2000-01-01T00:00:00Z'}\n"
	if _, errOut, code := s.skiff(expired, "apply", "-f", "-"); code != 1 || !strings.Contains(errOut, "spec.expiresAt: 2000-01-01T00:00:00Z is not in the future") {
		t.Errorf("a token expired at creation: exit %d, %q, want it refused naming spec.expiresAt", code, errOut)
	}
	// A token whose stated expiry has since passed still re-applies as
	// unchanged.
	soon := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339)
	brief := "apiVersion: skiff.dev/v1alpha1\nkind: Token\nmetadata: {name: brief}\nspec: {user: carol, namespace: team-c, role: viewer, expiresAt: '" + soon + "'}\n"
	s.mustSkiff(brief, "apply", "-f", "-")
	time.Sleep(3 * time.Second)
	if again := s.mustSkiff(brief, "apply", "-f", "-"); !strings.Contains(again, "token.skiff.dev/brief unchanged") {
		t.Errorf("re-applying a token past its expiry: %q, want unchanged", again)
	}
	changed := strings.Replace(doc, "role: viewer", "role: admin", 1)
	if _, errOut, code := s.skiff(changed, "apply", "-f", "-"); code != 1 || !strings.Contains(errOut, "a token cannot be changed") {
		t.Errorf("changing a token's role: exit %d, %q, want it refused", code, errOut)
	}
}

// TestFlavorInUseCannotBeDeleted: a flavor a queue gives quota in stays
// until no queue names it.
func TestFlavorInUseCannotBeDeleted(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), t.TempDir())
	manifests := "apiVersion: skiff.dev/v1alpha1\nkind: Flavor\nmetadata: {name: spot}\n---\n" +
		"apiVersion: skiff.dev/v1alpha1\nkind: Queue\nmetadata: {name: batch}\nspec: {flavors: [{name: spot, resources: [{name: cpu, nominalQuota: 1}]}]}\n"
	s.mustSkiff(manifests, "apply", "-f", "-")
	if _, errOut, code := s.skiff("", "delete", "flavor", "spot"); code == 0 || !strings.Contains(errOut, "queues batch still give quota in this flavor") {
		t.Errorf("deleting a flavor in use: exit %d, %q, want it refused naming queue batch", code, errOut)
	}
	s.mustSkiff("", "get", "flavor", "spot")
	// delete -f of the file that made them (flavor first, as apply needs)
	// deletes the queue first.
	if out := s.mustSkiff(manifests, "delete", "-f", "-"); out != "queue.skiff.dev \"batch\" deleted\nflavor.skiff.dev \"spot\" deleted\n" {
		t.Errorf("delete -f = %q, want the queue deleted, then the flavor", out)
	}
}
