package crds_test

import (
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"skiff.dev/skiff/api/v1alpha1"
)

// Minimal valid manifests; the cases below change one thing in them.
const (
	jobYAML = `apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: train, namespace: team-a}
spec:
  replicaGroups:
  - name: worker
    replicas: 2
    template:
      command: [python3, train.py]
      resources: {cpu: 500m, memory: 1Gi, gpu: 1}
`
	queueYAML = `apiVersion: skiff.dev/v1alpha1
kind: Queue
metadata: {name: gpu}
spec:
  cohort: research
  flavors:
  - name: h100
    resources:
    - {name: gpu, nominalQuota: 8, borrowingLimit: 4}
`
	experimentYAML = `apiVersion: skiff.dev/v1alpha1
kind: Experiment
metadata: {name: sweep, namespace: team-a}
spec:
  parameters:
  - {name: lr, type: double, min: 0.001, max: 0.1}
  objective: {metricName: loss, type: minimize}
  maxTrials: 4
  trialTemplate:
    replicaGroups:
    - name: worker
      template: {command: [python3, train.py], args: ["--lr=${params.lr}"]}
`
	serviceYAML = `apiVersion: skiff.dev/v1alpha1
kind: InferenceService
metadata: {name: chat, namespace: team-a}
spec:
  models: [tiny-chat]
  template: {command: [python3, serve.py]}
`
	tokenYAML = `apiVersion: skiff.dev/v1alpha1
kind: Token
metadata: {name: tok-1}
spec: {user: alice, namespace: team-a, role: editor}
`
	policyYAML = `apiVersion: skiff.dev/v1alpha1
kind: Policy
metadata: {name: limits}
spec:
  match: {kinds: [Job]}
  validate:
  - {expression: "object.spec.priority < 100", message: too high}
`
)

// edit applies replacements to a manifest; each old string must occur.
func edit(t *testing.T, doc string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(doc, pairs[i]) {
			t.Fatalf("edit: %q not in\n%s", pairs[i], doc)
		}
		doc = strings.Replace(doc, pairs[i], pairs[i+1], 1)
	}
	return doc
}

type parityCase struct {
	name string
	doc  string
	// field is the path the CRD's error must name; empty for an unknown
	// field, which the server reports as pruned (kubectl's default
	// --validate=strict then refuses the request).
	field string
}

// TestRejectsWhatEmbeddedRejects: each manifest is refused by embedded
// mode (decode, defaults, Validate) and by the CRD, which names the field.
func TestRejectsWhatEmbeddedRejects(t *testing.T) {
	servers := loadAll(t)
	cases := []parityCase{
		{"job framework not a preset", edit(t, jobYAML, "  replicaGroups:", "  framework: tensorflow\n  replicaGroups:"), "spec.framework"},
		{"job placement policy", edit(t, jobYAML, "  replicaGroups:", "  placementPolicy: Random\n  replicaGroups:"), "spec.placementPolicy"},
		{"job negative gpu", edit(t, jobYAML, "gpu: 1", "gpu: -1"), "spec.replicaGroups[0].template.resources.gpu"},
		{"job negative cpu string", edit(t, jobYAML, "cpu: 500m", "cpu: -500m"), "spec.replicaGroups[0].template.resources.cpu"},
		{"job malformed memory", edit(t, jobYAML, "memory: 1Gi", "memory: lots"), "spec.replicaGroups[0].template.resources.memory"},
		{"job zero replicas", edit(t, jobYAML, "replicas: 2", "replicas: 0"), "spec.replicaGroups[0].replicas"},
		{"job too many replicas", edit(t, jobYAML, "replicas: 2", "replicas: 2000"), "spec.replicaGroups[0].replicas"},
		{"job minReplicas above replicas", edit(t, jobYAML, "replicas: 2", "replicas: 2\n    minReplicas: 3"), "spec.replicaGroups[0]"},
		{"job group name with dash", edit(t, jobYAML, "name: worker", "name: gpu-worker"), "spec.replicaGroups[0].name"},
		{"job duplicate group", edit(t, jobYAML, "  - name: worker", "  - name: worker\n    template: {command: [a]}\n  - name: worker"), "spec.replicaGroups[1]"},
		{"job no groups", edit(t, jobYAML, "  replicaGroups:\n  - name: worker\n    replicas: 2\n    template:\n      command: [python3, train.py]\n      resources: {cpu: 500m, memory: 1Gi, gpu: 1}\n", "  replicaGroups: []\n"), "spec.replicaGroups"},
		{"job empty command", edit(t, jobYAML, "command: [python3, train.py]", `command: [""]`), "spec.replicaGroups[0].template.command"},
		{"job reserved env", edit(t, jobYAML, "      resources:", "      env: [{name: SKIFF_RANK, value: '1'}]\n      resources:"), "spec.replicaGroups[0].template.env[0].name"},
		{"job bad env name", edit(t, jobYAML, "      resources:", "      env: [{name: 1ABC, value: x}]\n      resources:"), "spec.replicaGroups[0].template.env[0].name"},
		{"job topology both", edit(t, jobYAML, "  replicaGroups:", "  topology: {required: skiff.dev/rack, preferred: skiff.dev/block}\n  replicaGroups:"), "spec.topology"},
		{"job topology bad key", edit(t, jobYAML, "  replicaGroups:", "  topology: {required: 'rack id'}\n  replicaGroups:"), "spec.topology.required"},
		{"job mpi without launcher", edit(t, jobYAML, "  replicaGroups:", "  framework: mpi\n  replicaGroups:"), "spec"},
		{"job success group unknown", edit(t, jobYAML, "  replicaGroups:", "  successPolicy: {group: launcher}\n  replicaGroups:"), "spec"},
		{"job replica restarts with preset", edit(t, jobYAML, "  replicaGroups:", "  framework: pytorch\n  failurePolicy: {restartScope: Replica}\n  replicaGroups:"), "spec"},
		{"job restart policy", edit(t, jobYAML, "  replicaGroups:", "  failurePolicy: {restartPolicy: Always}\n  replicaGroups:"), "spec.failurePolicy.restartPolicy"},
		{"job backoff seconds", edit(t, jobYAML, "  replicaGroups:", "  failurePolicy: {backoffSeconds: 100000}\n  replicaGroups:"), "spec.failurePolicy.backoffSeconds"},
		{"job negative backoffLimit", edit(t, jobYAML, "  replicaGroups:", "  runPolicy: {backoffLimit: -1}\n  replicaGroups:"), "spec.runPolicy.backoffLimit"},
		{"job zero deadline", edit(t, jobYAML, "  replicaGroups:", "  runPolicy: {activeDeadlineSeconds: 0}\n  replicaGroups:"), "spec.runPolicy.activeDeadlineSeconds"},
		{"job grace too long", edit(t, jobYAML, "  replicaGroups:", "  runPolicy: {terminationGracePeriodSeconds: 4000}\n  replicaGroups:"), "spec.runPolicy.terminationGracePeriodSeconds"},
		{"job checkpoint climbs out", edit(t, jobYAML, "  replicaGroups:", "  checkpointDir: ../other\n  replicaGroups:"), "spec.checkpointDir"},
		{"job checkpoint is the root", edit(t, jobYAML, "  replicaGroups:", "  checkpointDir: ./\n  replicaGroups:"), "spec.checkpointDir"},
		{"job checkpoint in _jobs", edit(t, jobYAML, "  replicaGroups:", "  checkpointDir: ./_jobs/x\n  replicaGroups:"), "spec.checkpointDir"},
		{"job checkpoint with NUL", edit(t, jobYAML, "  replicaGroups:", "  checkpointDir: \"run\\0x\"\n  replicaGroups:"), "spec.checkpointDir"},
		{"job queue not a name", edit(t, jobYAML, "  replicaGroups:", "  queue: GPU_Queue\n  replicaGroups:"), "spec.queue"},
		{"job bad name", edit(t, jobYAML, "name: train,", "name: Train_1,"), "metadata.name"},
		{"job unknown field", edit(t, jobYAML, "  replicaGroups:", "  replicaGroup: 1\n  replicaGroups:"), ""},

		{"queue no flavors", edit(t, queueYAML, "  flavors:\n  - name: h100\n    resources:\n    - {name: gpu, nominalQuota: 8, borrowingLimit: 4}\n", "  flavors: []\n"), "spec.flavors"},
		{"queue resource not known", edit(t, queueYAML, "name: gpu, nominalQuota", "name: tpu, nominalQuota"), "spec.flavors[0].resources[0].name"},
		{"queue negative quota", edit(t, queueYAML, "nominalQuota: 8", "nominalQuota: -8"), "spec.flavors[0].resources[0].nominalQuota"},
		{"queue negative borrowing", edit(t, queueYAML, "borrowingLimit: 4", "borrowingLimit: '-4'"), "spec.flavors[0].resources[0].borrowingLimit"},
		{"queue duplicate resource", edit(t, queueYAML, "    - {name: gpu, nominalQuota: 8, borrowingLimit: 4}", "    - {name: gpu, nominalQuota: 8}\n    - {name: gpu, nominalQuota: 2}"), "spec.flavors[0].resources[1]"},
		{"queue zero weight", edit(t, queueYAML, "  cohort: research", "  cohort: research\n  weight: 0"), "spec.weight"},
		{"queue strategy", edit(t, queueYAML, "  cohort: research", "  cohort: research\n  queueingStrategy: LIFO"), "spec.queueingStrategy"},
		{"queue preemption", edit(t, queueYAML, "  cohort: research", "  cohort: research\n  preemption: {withinQueue: Any}"), "spec.preemption.withinQueue"},
		{"queue bad cohort", edit(t, queueYAML, "cohort: research", "cohort: Research"), "spec.cohort"},
		{"queue bad namespace", edit(t, queueYAML, "  cohort: research", "  cohort: research\n  namespaces: [Team_A]"), "spec.namespaces[0]"},
		{"queue borrowing without cohort", edit(t, queueYAML, "  cohort: research\n", ""), "spec"},

		{"experiment objective type", edit(t, experimentYAML, "type: minimize", "type: best"), "spec.objective.type"},
		{"experiment zero maxTrials", edit(t, experimentYAML, "maxTrials: 4", "maxTrials: 0"), "spec.maxTrials"},
		{"experiment parallel above max", edit(t, experimentYAML, "maxTrials: 4", "maxTrials: 4\n  parallelTrials: 5"), "spec"},
		{"experiment min not below max", edit(t, experimentYAML, "min: 0.001, max: 0.1", "min: 0.1, max: 0.1"), "spec.parameters[0]"},
		{"experiment range without max", edit(t, experimentYAML, "min: 0.001, max: 0.1", "min: 0.001"), "spec.parameters[0]"},
		{"experiment categorical without values", edit(t, experimentYAML, "type: double, min: 0.001, max: 0.1", "type: categorical"), "spec.parameters[0]"},
		{"experiment log with min 0", edit(t, experimentYAML, "min: 0.001, max: 0.1", "min: 0, max: 0.1, log: true"), "spec.parameters[0]"},
		{"experiment parameter type", edit(t, experimentYAML, "type: double", "type: float"), "spec.parameters[0].type"},
		{"experiment algorithm", edit(t, experimentYAML, "  maxTrials: 4", "  maxTrials: 4\n  algorithm: {name: bayes}"), "spec.algorithm.name"},
		{"experiment early stopping", edit(t, experimentYAML, "  maxTrials: 4", "  maxTrials: 4\n  earlyStopping: {name: patience}"), "spec.earlyStopping.name"},
		{"experiment metric name", edit(t, experimentYAML, "metricName: loss", "metricName: 'val loss'"), "spec.objective.metricName"},
		{"experiment template replicas", edit(t, experimentYAML, "    - name: worker\n", "    - name: worker\n      replicas: -1\n"), "spec.trialTemplate.replicaGroups[0].replicas"},

		{"service routing", edit(t, serviceYAML, "  models:", "  routing: random\n  models:"), "spec.routing"},
		{"service max below min", edit(t, serviceYAML, "  models:", "  minReplicas: 3\n  maxReplicas: 2\n  models:"), "spec"},
		{"service too many replicas", edit(t, serviceYAML, "  models:", "  maxReplicas: 300\n  models:"), "spec.maxReplicas"},
		{"service canary percent above 100", edit(t, serviceYAML, "  models:", "  canaryTrafficPercent: 120\n  models:"), "spec.canaryTrafficPercent"},
		{"service canary percent negative", edit(t, serviceYAML, "  models:", "  canaryTrafficPercent: -1\n  models:"), "spec.canaryTrafficPercent"},
		{"service PORT env", edit(t, serviceYAML, "command: [python3, serve.py]", "command: [python3, serve.py], env: [{name: PORT, value: '1'}]"), "spec"},
		{"service model with slash", edit(t, serviceYAML, "[tiny-chat]", "[org/tiny-chat]"), "spec.models[0]"},
		{"service duplicate model", edit(t, serviceYAML, "[tiny-chat]", "[a, a]"), "spec.models[1]"},
		{"service no models", edit(t, serviceYAML, "[tiny-chat]", "[]"), "spec.models"},
		{"service panic window above stable", edit(t, serviceYAML, "  models:", "  autoscaling: {stableWindow: 10s, panicWindow: 20s}\n  models:"), "spec.autoscaling"},
		{"service zero scale-to-zero", edit(t, serviceYAML, "  models:", "  autoscaling: {scaleToZeroAfter: 0s}\n  models:"), "spec.autoscaling.scaleToZeroAfter"},
		{"service bad duration", edit(t, serviceYAML, "  models:", "  autoscaling: {stableWindow: soon}\n  models:"), "spec.autoscaling.stableWindow"},
		{"service probe path", edit(t, serviceYAML, "  models:", "  readinessProbe: {path: health}\n  models:"), "spec.readinessProbe.path"},
		{"service negative limit", edit(t, serviceYAML, "  models:", "  limits: {perKey: {requestsPerMinute: -1}}\n  models:"), "spec.limits.perKey.requestsPerMinute"},

		{"token role", edit(t, tokenYAML, "role: editor", "role: root"), "spec.role"},
		{"token reserved user", edit(t, tokenYAML, "user: alice", "user: admin"), "spec.user"},
		{"token system user", edit(t, tokenYAML, "user: alice", "user: 'system:x'"), "spec.user"},
		{"token negative ttl", edit(t, tokenYAML, "role: editor", "role: editor, ttl: -1h"), "spec.ttl"},
		{"token no namespace", edit(t, tokenYAML, "namespace: team-a, ", ""), "spec.namespace"},

		{"policy no rules", edit(t, policyYAML, "  validate:\n  - {expression: \"object.spec.priority < 100\", message: too high}\n", ""), "spec"},
		{"policy action", edit(t, policyYAML, "message: too high", "message: too high, action: Block"), "spec.validate[0].action"},
		{"policy blank expression", edit(t, policyYAML, `expression: "object.spec.priority < 100"`, `expression: "  "`), "spec.validate[0].expression"},
		{"policy default on metadata", edit(t, policyYAML, "  validate:", "  default: [{field: metadata.labels, expression: '1'}]\n  validate:"), "spec.default[0].field"},
		{"policy default bad path", edit(t, policyYAML, "  validate:", "  default: [{field: 'spec..x', expression: '1'}]\n  validate:"), "spec.default[0].field"},
		{"policy kind", edit(t, policyYAML, "kinds: [Job]", "kinds: [Pod]"), "spec.match.kinds[0]"},

		{"job too many groups", manyGroups(v1alpha1.MaxReplicaGroups + 1), "spec.replicaGroups"},
		{"queue too many flavors", manyFlavors(v1alpha1.MaxQueueFlavors + 1), "spec.flavors"},
		{"policy too many defaults", manyDefaults(v1alpha1.MaxPolicyDefaults + 1), "spec.default"},
		{"policy field path too long", edit(t, policyYAML, "  validate:", "  default: [{field: spec."+strings.Repeat("a", v1alpha1.MaxPolicyFieldPathLen)+", expression: '1'}]\n  validate:"), "spec.default[0].field"},
		{"service bad env name", edit(t, serviceYAML, "command: [python3, serve.py]", "command: [python3, serve.py], env: [{name: 'MY VAR', value: '1'}]"), "spec.template.env[0].name"},
		{"namespace negative gpus", "apiVersion: skiff.dev/v1alpha1\nkind: Namespace\nmetadata: {name: team-a}\nspec: {limits: {gpus: '-1'}}\n", "spec.limits.gpus"},
		{"namespace negative jobs", "apiVersion: skiff.dev/v1alpha1\nkind: Namespace\nmetadata: {name: team-a}\nspec: {limits: {runningJobs: -1}}\n", "spec.limits.runningJobs"},
		{"flavor bad topology level", "apiVersion: skiff.dev/v1alpha1\nkind: Flavor\nmetadata: {name: h100}\nspec: {topologyLevels: ['rack id']}\n", "spec.topologyLevels[0]"},
		{"node negative cpu", "apiVersion: skiff.dev/v1alpha1\nkind: Node\nmetadata: {name: box}\nspec: {capacity: {cpu: -2}}\n", "spec.capacity.cpu"},
		{"event without object", "apiVersion: skiff.dev/v1alpha1\nkind: Event\nmetadata: {name: e1, namespace: team-a}\ninvolvedObject: {kind: Job, name: ''}\nreason: Started\n", "involvedObject.name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := embedded([]byte(c.doc)); err == nil {
				t.Fatalf("embedded mode accepts it; the case is wrong:\n%s", c.doc)
			}
			s, js := serverFor(t, servers, c.doc)
			a := s.admit(t, js)
			if c.field == "" { // an unknown field: kubectl's strict field validation refuses what the server would prune
				if len(a.pruned) == 0 {
					t.Fatalf("the server neither refuses nor reports it: %v", a.errs)
				}
				return
			}
			if len(a.errs) == 0 {
				t.Fatalf("the CRD accepts what embedded mode refuses:\n%s", c.doc)
			}
			found := false
			for _, e := range a.errs {
				found = found || e.Field == c.field || strings.HasPrefix(e.Field, c.field+".") || strings.HasPrefix(e.Field, c.field+"[")
				// A rule at the root (metadata.name) cannot point at a
				// field; its message names it.
				found = found || (e.Field == "" || e.Field == "<nil>") && strings.HasPrefix(e.Detail, c.field+" ")
			}
			if !found {
				t.Errorf("no error names %s: %v", c.field, a.errs)
			}
		})
	}
}

// TestAcceptsWhatEmbeddedAccepts: edge cases embedded mode takes (often
// because defaulting fills them in) that a too-strict schema would refuse.
func TestAcceptsWhatEmbeddedAccepts(t *testing.T) {
	servers := loadAll(t)
	cases := []struct{ name, doc string }{
		{"job replicas left out", edit(t, jobYAML, "    replicas: 2\n", "")},
		{"job explicit empty strings", edit(t, jobYAML, "  replicaGroups:", "  queue: ''\n  framework: ''\n  placementPolicy: ''\n  checkpointDir: ''\n  replicaGroups:")},
		{"job fractional gpu", edit(t, jobYAML, "gpu: 1", "gpu: '0.25'")},
		{"job gpu in milli", edit(t, jobYAML, "gpu: 1", "gpu: 2000m")},
		{"job zero resources", edit(t, jobYAML, "{cpu: 500m, memory: 1Gi, gpu: 1}", "{cpu: 0, memory: '0', gpu: 0}")},
		{"job mpi with launcher", edit(t, jobYAML, "  replicaGroups:", "  framework: mpi\n  successPolicy: {group: launcher}\n  replicaGroups:\n  - name: launcher\n    template: {command: [mpirun]}")},
		{"job elastic", edit(t, jobYAML, "replicas: 2", "replicas: 4\n    minReplicas: 2")},
		{"job absolute checkpoint", edit(t, jobYAML, "  replicaGroups:", "  checkpointDir: /data/checkpoints/team-a/run\n  replicaGroups:")},
		{"job nested checkpoint", edit(t, jobYAML, "  replicaGroups:", "  checkpointDir: runs/./a/b\n  replicaGroups:")},
		{"job topology preferred", edit(t, jobYAML, "  replicaGroups:", "  topology: {preferred: kubernetes.io/hostname}\n  replicaGroups:")},
		{"job replica restarts without preset", edit(t, jobYAML, "  replicaGroups:", "  framework: none\n  failurePolicy: {restartScope: Replica, restartPolicy: ExitCode, maxRestarts: 0, backoffSeconds: 0}\n  replicaGroups:")},
		{"job env dotted name", edit(t, jobYAML, "      resources:", "      env: [{name: my.env-name}, {name: .hidden, value: x}]\n      resources:")},
		{"job generateName", edit(t, jobYAML, "name: train,", "generateName: train-,")},
		{"queue every namespace", edit(t, queueYAML, "  cohort: research", "  cohort: research\n  namespaces: ['*', team-a]\n  weight: '2.5'\n  queueingStrategy: BestEffortFIFO\n  preemption: {withinQueue: LowerPriority, reclaimWithinCohort: Any}")},
		{"queue flavor without resources", edit(t, queueYAML, "    resources:\n    - {name: gpu, nominalQuota: 8, borrowingLimit: 4}\n", "")},
		{"experiment defaults left out", experimentYAML},
		{"experiment parallel 0", edit(t, experimentYAML, "maxTrials: 4", "maxTrials: 4\n  parallelTrials: 0")},
		{"service scale to zero", edit(t, serviceYAML, "  models:", "  minReplicas: 0\n  maxReplicas: 0\n  routing: prefix-affinity\n  autoscaling: {scaleToZeroAfter: 90s, stableWindow: 1m, panicWindow: 1m}\n  readinessProbe: {path: ''}\n  models:")},
		{"token with ttl", edit(t, tokenYAML, "role: editor", "role: viewer, ttl: 720h")},
		{"policy default only", edit(t, policyYAML, "  validate:\n  - {expression: \"object.spec.priority < 100\", message: too high}\n", "  default: [{field: spec.priority, expression: '100'}]\n")},
		{"job at the group limit", manyGroups(v1alpha1.MaxReplicaGroups)},
		{"queue at the flavor limit", manyFlavors(v1alpha1.MaxQueueFlavors)},
		{"policy at the default limit", manyDefaults(v1alpha1.MaxPolicyDefaults)},
		{"namespace without spec", "apiVersion: skiff.dev/v1alpha1\nkind: Namespace\nmetadata: {name: team-a}\n"},
		{"flavor without spec", "apiVersion: skiff.dev/v1alpha1\nkind: Flavor\nmetadata: {name: any}\n"},
		{"node without spec", "apiVersion: skiff.dev/v1alpha1\nkind: Node\nmetadata: {name: box}\n"},
		{"event minimal", "apiVersion: skiff.dev/v1alpha1\nkind: Event\nmetadata: {name: e1, namespace: team-a}\ninvolvedObject: {name: train}\n"},
		{"event named as the recorder names them", "apiVersion: skiff.dev/v1alpha1\nkind: Event\nmetadata: {name: train.1879f3a2c4d5e6f7, namespace: team-a}\ninvolvedObject: {name: train}\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := embedded([]byte(c.doc)); err != nil {
				t.Fatalf("embedded mode refuses it; the case is wrong: %v", err)
			}
			s, js := serverFor(t, servers, c.doc)
			if a := s.admit(t, js); len(a.errs) > 0 || len(a.pruned) > 0 {
				t.Errorf("the CRD refuses what embedded mode accepts: errors %v, pruned %v", a.errs, a.pruned)
			}
		})
	}
}

// serverFor finds the CRD of a manifest's kind and returns the manifest
// as JSON.
func serverFor(t *testing.T, servers map[string]*server, doc string) (*server, []byte) {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var head struct {
		Kind string `json:"kind"`
	}
	if err := yaml.Unmarshal(js, &head); err != nil {
		t.Fatal(err)
	}
	k, ok := v1alpha1.LookupKind(head.Kind)
	if !ok {
		t.Fatalf("kind %q", head.Kind)
	}
	return servers[k.Plural], js
}

func manyGroups(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: skiff.dev/v1alpha1\nkind: Job\nmetadata: {name: big, namespace: a}\nspec:\n  replicaGroups:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: g%d, template: {command: [x], resources: {cpu: 1, memory: 1Gi, gpu: 1}}}\n", i)
	}
	return b.String()
}

func manyFlavors(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: skiff.dev/v1alpha1\nkind: Queue\nmetadata: {name: big}\nspec:\n  cohort: research\n  flavors:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: f%d, resources: [{name: cpu, nominalQuota: 1}, {name: memory, nominalQuota: 1Gi}, {name: gpu, nominalQuota: 8, borrowingLimit: 1, lendingLimit: 1}]}\n", i)
	}
	return b.String()
}

func manyDefaults(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: skiff.dev/v1alpha1\nkind: Policy\nmetadata: {name: big}\nspec:\n  match: {kinds: [Flavor]}\n  default:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {field: spec.nodeLabels.f%d, expression: \"'v'\"}\n", i)
	}
	return b.String()
}
