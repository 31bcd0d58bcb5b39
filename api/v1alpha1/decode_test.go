package v1alpha1_test

import (
	"os"
	"strings"
	"testing"

	"skiff.dev/skiff/api/v1alpha1"
)

func TestDecodeExampleJob(t *testing.T) {
	data, err := os.ReadFile("testdata/hello.yaml")
	if err != nil {
		t.Fatal(err)
	}
	obj, err := v1alpha1.Decode(data)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	job, ok := obj.(*v1alpha1.Job)
	if !ok {
		t.Fatalf("got %T, want *Job", obj)
	}
	v1alpha1.Default(job)
	if err := v1alpha1.Validate(job); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	g := job.Spec.ReplicaGroups[0]
	if g.Replicas != 2 || g.Template.Resources.CPU.MilliValue() != 100 || g.Template.Resources.Memory.Value() != 64<<20 {
		t.Errorf("decoded group = %+v", g)
	}
	if *job.Spec.RunPolicy.BackoffLimit != 2 || job.Status.Phase != v1alpha1.JobPending {
		t.Errorf("runPolicy/phase = %+v / %q", job.Spec.RunPolicy, job.Status.Phase)
	}
}

const header = "apiVersion: skiff.dev/v1alpha1\nkind: Job\nmetadata: {name: x}\n"

func TestDecodeErrorsNameTheField(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"malformed yaml", "kind: Job\n  spec: [", "malformed YAML"},
		{"missing kind", "apiVersion: skiff.dev/v1alpha1\n", "kind: required"},
		{"wrong apiVersion", "apiVersion: v1\nkind: Job\n", "set apiVersion: skiff.dev/v1alpha1"},
		{"unknown kind", "apiVersion: skiff.dev/v1alpha1\nkind: Pod\n", "unknown kind \"Pod\": set kind to one of Event, Experiment, Flavor, InferenceService, Job,"},
		{"plural for kind", "apiVersion: skiff.dev/v1alpha1\nkind: jobs\n", "kind: \"jobs\" is not a kind name: set kind: Job"},
		{"lowercase kind", "apiVersion: skiff.dev/v1alpha1\nkind: inferenceservice\n", "set kind: InferenceService"},
		{"unknown field", header + "spec: {queu: default}\n", "spec.queu: unknown field"},
		{"bad quantity", header + "spec:\n  replicaGroups:\n  - name: w\n    template:\n      command: [x]\n      resources: {gpu: lots}\n",
			"spec.replicaGroups[0].template.resources.gpu: \"lots\" is not a quantity"},
		{"wrong type", header + "spec:\n  replicaGroups:\n  - name: w\n    replicas: two\n", "spec.replicaGroups[0].replicas: must be a whole number"},
		{"int32 overflow", header + "spec:\n  priority: 99999999999\n", "spec.priority: 99999999999 is out of range: use -2147483648 to 2147483647"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v1alpha1.Decode([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestValidateErrorsNameTheFieldAndFix(t *testing.T) {
	cases := []struct {
		name, spec, want string
	}{
		{"negative gpu", "replicaGroups: [{name: w, template: {command: [x], resources: {gpu: -1}}}]",
			"spec.replicaGroups[0].template.resources.gpu: must be a non-negative number"},
		{"fractional multi gpu", "replicaGroups: [{name: w, template: {command: [x], resources: {gpu: 1.5}}}]",
			"spec.replicaGroups[0].template.resources.gpu: 1500m: a request above one GPU must be a whole number"},
		{"no groups", "queue: default", "spec.replicaGroups: required"},
		{"no command", "replicaGroups: [{name: w, template: {}}]", "spec.replicaGroups[0].template.command: required"},
		{"bad group name", "replicaGroups: [{name: Worker_1, template: {command: [x]}}]", "spec.replicaGroups[0].name: \"Worker_1\" is not a valid group name"},
		{"duplicate group", "replicaGroups: [{name: w, template: {command: [x]}}, {name: w, template: {command: [x]}}]", "spec.replicaGroups[1].name: duplicate group name"},
		{"reserved env", "replicaGroups: [{name: w, template: {command: [x], env: [{name: SKIFF_JOB, value: v}]}}]", "reserved SKIFF_ prefix"},
		{"min above replicas", "replicaGroups: [{name: w, replicas: 2, minReplicas: 3, template: {command: [x]}}]", "spec.replicaGroups[0].minReplicas: 3 is out of range"},
		{"negative backoff", "replicaGroups: [{name: w, template: {command: [x]}}]\n  runPolicy: {backoffLimit: -1}", "spec.runPolicy.backoffLimit: must be 0 or more"},
		{"gpu finer than a thousandth", "replicaGroups: [{name: w, template: {command: [x], resources: {gpu: 0.0001}}}]",
			"spec.replicaGroups[0].template.resources.gpu: 100u is finer than a thousandth of a GPU"},
		{"duplicate env", "replicaGroups: [{name: w, template: {command: [x], env: [{name: A, value: '1'}, {name: A, value: '2'}]}}]",
			"spec.replicaGroups[0].template.env[1].name: \"A\" is also set by env[0]: set each variable once"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := v1alpha1.Decode([]byte(header + "spec:\n  " + tc.spec + "\n"))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			v1alpha1.Default(obj)
			err = v1alpha1.Validate(obj)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestNamesMustBeDNSLabels(t *testing.T) {
	obj, err := v1alpha1.Decode([]byte("apiVersion: skiff.dev/v1alpha1\nkind: Job\nmetadata: {name: My_Job}\nspec: {replicaGroups: [{name: w, template: {command: [x]}}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	v1alpha1.Default(obj)
	if err := v1alpha1.Validate(obj); err == nil || !strings.Contains(err.Error(), "metadata.name: \"My_Job\" is not a valid name") {
		t.Fatalf("Validate = %v", err)
	}
	q, _ := v1alpha1.Decode([]byte("apiVersion: skiff.dev/v1alpha1\nkind: Queue\nmetadata: {name: q, namespace: team-a}\nspec: {flavors: [{name: default, resources: [{name: gpu, nominalQuota: 2}]}]}\n"))
	if err := v1alpha1.Validate(q); err == nil || !strings.Contains(err.Error(), "metadata.namespace: Queue is cluster-scoped") {
		t.Fatalf("Validate queue = %v", err)
	}
}

func TestSplitYAML(t *testing.T) {
	docs, err := v1alpha1.SplitYAML([]byte("# leading comment\n---\na: 1\n---\n\n---\n# only a comment\n---\nb: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 {
		t.Fatalf("got %d documents, want 2: %q", len(docs), docs)
	}
}

func TestValidateSchedulingFields(t *testing.T) {
	cases := []struct{ doc, want string }{
		{header + "spec: {replicaGroups: [{name: w, template: {command: [x]}}], topology: {required: a, preferred: b}}\n", "spec.topology: set exactly one"},
		{header + "spec: {replicaGroups: [{name: w, template: {command: [x]}}], placementPolicy: Random}\n", "spec.placementPolicy: \"Random\" is not a policy"},
		{"apiVersion: skiff.dev/v1alpha1\nkind: Queue\nmetadata: {name: q}\nspec: {weight: 0, flavors: [{name: f, resources: []}]}\n", "spec.weight: must be a positive number"},
		{"apiVersion: skiff.dev/v1alpha1\nkind: Queue\nmetadata: {name: q}\nspec: {preemption: {reclaimWithinCohort: Sometimes}, flavors: [{name: f, resources: []}]}\n", "spec.preemption.reclaimWithinCohort"},
		{"apiVersion: skiff.dev/v1alpha1\nkind: Queue\nmetadata: {name: q}\nspec: {cohort: c, flavors: [{name: f, resources: [{name: gpu, nominalQuota: 2, lendingLimit: 10}]}]}\n",
			"spec.flavors[0].resources[0].lendingLimit: 10 is more than nominalQuota (2)"},
		{"apiVersion: skiff.dev/v1alpha1\nkind: Queue\nmetadata: {name: q}\nspec: {flavors: [{name: f, resources: [{name: gpu, nominalQuota: 2, borrowingLimit: 4}]}]}\n",
			"spec.flavors[0].resources[0].borrowingLimit: a queue borrows from its cohort's other queues: set spec.cohort, or leave borrowingLimit out"},
		{"apiVersion: skiff.dev/v1alpha1\nkind: Queue\nmetadata: {name: q}\nspec: {flavors: [{name: f, resources: [{name: gpu, nominalQuota: 2, lendingLimit: 1}]}]}\n",
			"spec.flavors[0].resources[0].lendingLimit: a queue lends to its cohort's other queues: set spec.cohort, or leave lendingLimit out"},
		{"apiVersion: skiff.dev/v1alpha1\nkind: Node\nmetadata: {name: node-a}\nspec: {capacity: {gpu: 0.5}}\n",
			"spec.capacity.gpu: 500m: a node has whole GPUs"},
		{"apiVersion: skiff.dev/v1alpha1\nkind: Flavor\nmetadata: {name: f}\nspec: {topologyLevels: [skiff.dev/rack, skiff.dev/host, skiff.dev/rack]}\n",
			"spec.topologyLevels[2]: \"skiff.dev/rack\" is also topologyLevels[0]"},
	}
	for _, tc := range cases {
		obj, err := v1alpha1.Decode([]byte(tc.doc))
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		v1alpha1.Default(obj)
		if err := v1alpha1.Validate(obj); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v, want %q", err, tc.want)
		}
	}
}

func TestLeastAttainedServiceThresholds(t *testing.T) {
	queue := func(las string) string {
		return "apiVersion: skiff.dev/v1alpha1\nkind: Queue\nmetadata: {name: q}\nspec: {leastAttainedService: " + las + ", flavors: [{name: f, resources: []}]}\n"
	}
	cases := []struct{ las, want string }{
		{"{thresholdsGPUSeconds: [3600, 36000]}", ""},
		{"{}", "spec.leastAttainedService.thresholdsGPUSeconds: required"},
		{"{thresholdsGPUSeconds: [3600, 0]}", "spec.leastAttainedService.thresholdsGPUSeconds[1]: 0: thresholds are positive GPU-seconds"},
		{"{thresholdsGPUSeconds: [36000, 3600]}", "spec.leastAttainedService.thresholdsGPUSeconds[1]: 3600 is not above the previous threshold 36000"},
		{"{thresholdsGPUSeconds: [1, 2, 3, 4, 5, 6, 7, 8, 9]}", "spec.leastAttainedService.thresholdsGPUSeconds: 9 thresholds: give at most 8"},
	}
	for _, tc := range cases {
		obj, err := v1alpha1.Decode([]byte(queue(tc.las)))
		if err != nil {
			t.Fatalf("Decode(%s): %v", tc.las, err)
		}
		v1alpha1.Default(obj)
		err = v1alpha1.Validate(obj)
		if tc.want == "" {
			if err != nil {
				t.Errorf("Validate(%s) = %v, want nil", tc.las, err)
			}
			if got := obj.(*v1alpha1.Queue).Spec.LeastAttainedService.ThresholdsGPUSeconds; len(got) != 2 || got[1] != 36000 {
				t.Errorf("decoded thresholds = %v", got)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%s) = %v, want %q", tc.las, err, tc.want)
		}
	}
	if _, err := v1alpha1.Decode([]byte(queue("{thresholds: [1]}"))); err == nil || !strings.Contains(err.Error(), "thresholds") {
		t.Errorf("Decode of an unknown field = %v, want an error naming it", err)
	}
}

func TestLeastAttainedServiceScope(t *testing.T) {
	queue := func(cohort, scope string) string {
		return "apiVersion: skiff.dev/v1alpha1\nkind: Queue\nmetadata: {name: q}\nspec: {cohort: \"" + cohort +
			"\", leastAttainedService: {thresholdsGPUSeconds: [36000], scope: \"" + scope + "\"}, flavors: [{name: f, resources: []}]}\n"
	}
	cases := []struct{ cohort, scope, want string }{
		{"", "", ""},
		{"", "Queue", ""},
		{"c", "Cohort", ""},
		{"", "Cohort", "spec.leastAttainedService.scope: Cohort orders the queues of a cohort: set spec.cohort, or use scope Queue"},
		{"c", "Tenant", `spec.leastAttainedService.scope: "Tenant" is not a scope: use Queue or Cohort`},
	}
	for _, tc := range cases {
		obj, err := v1alpha1.Decode([]byte(queue(tc.cohort, tc.scope)))
		if err != nil {
			t.Fatalf("Decode(cohort %q, scope %q): %v", tc.cohort, tc.scope, err)
		}
		v1alpha1.Default(obj)
		err = v1alpha1.Validate(obj)
		if tc.want == "" {
			if err != nil {
				t.Errorf("Validate(cohort %q, scope %q) = %v, want nil", tc.cohort, tc.scope, err)
			}
			if got := obj.(*v1alpha1.Queue).Spec.LeastAttainedService.Scope; got != tc.scope {
				t.Errorf("decoded scope = %q, want %q", got, tc.scope)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(cohort %q, scope %q) = %v, want %q", tc.cohort, tc.scope, err, tc.want)
		}
	}
}

func TestGroupNamesHaveNoDashAndExplicitZeroReplicasIsAnError(t *testing.T) {
	obj, err := v1alpha1.Decode([]byte(header + "spec: {replicaGroups: [{name: b-c, template: {command: [x]}}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	v1alpha1.Default(obj)
	if err := v1alpha1.Validate(obj); err == nil || !strings.Contains(err.Error(), "spec.replicaGroups[0].name: \"b-c\" is not a valid group name") {
		t.Errorf("Validate = %v", err)
	}
	_, err = v1alpha1.Decode([]byte(header + "spec: {replicaGroups: [{name: w, replicas: 0, template: {command: [x]}}]}\n"))
	if err == nil || !strings.Contains(err.Error(), "spec.replicaGroups[0].replicas: 0 is out of range") {
		t.Errorf("Decode(replicas: 0) = %v", err)
	}
}

func TestValidateFramework(t *testing.T) {
	obj, err := v1alpha1.Decode([]byte(header + "spec: {framework: tensorflow, replicaGroups: [{name: w, template: {command: [x]}}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.Validate(obj); err == nil || !strings.Contains(err.Error(), "spec.framework: \"tensorflow\" is not a preset") {
		t.Errorf("Validate = %v", err)
	}
}

func TestTokenUserAdminIsReserved(t *testing.T) {
	obj, err := v1alpha1.Decode([]byte("apiVersion: skiff.dev/v1alpha1\nkind: Token\nmetadata: {name: tk-x}\nspec: {user: admin, namespace: team-a, role: viewer, secretHash: \"sha256:00\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	v1alpha1.Default(obj)
	if err := v1alpha1.Validate(obj); err == nil || !strings.Contains(err.Error(), "spec.user: \"admin\" is reserved") {
		t.Errorf("Validate = %v", err)
	}
}

func TestPolicyDefaultFieldMustExistInTheKindsItMatches(t *testing.T) {
	pol := func(kinds, field string) string {
		return "apiVersion: skiff.dev/v1alpha1\nkind: Policy\nmetadata: {name: p}\nspec:\n  match: {kinds: [" + kinds + "]}\n" +
			"  default: [{field: " + field + ", expression: '1'}]\n"
	}
	cases := []struct{ doc, want string }{
		{pol("Job", "spec.nosuchfield"), `spec.default[0].field: "spec.nosuchfield" is not a field of Job: check the spelling`},
		{pol("", "spec.priority"), `spec.default[0].field: "spec.priority" is not a field of Experiment, Queue, Flavor, Node,`},
		{pol("Job", "spec.replicaGroups.replicas"), `"spec.replicaGroups.replicas" is not a field of Job`},
		{pol("Job", "spec.priority"), ""},
		{pol("Flavor", "spec.nodeLabels.zone"), ""},
		{pol("Job, InferenceService", "spec.priority"), ""},
	}
	for _, tc := range cases {
		obj, err := v1alpha1.Decode([]byte(tc.doc))
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		v1alpha1.Default(obj)
		err = v1alpha1.Validate(obj)
		if tc.want == "" && err != nil {
			t.Errorf("%s: %v, want it accepted", tc.doc, err)
		}
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.doc, err, tc.want)
		}
	}
}
