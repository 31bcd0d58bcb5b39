package v1alpha1_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
)

func TestValidateJobPolicies(t *testing.T) {
	groups := "replicaGroups: [{name: launcher, template: {command: [x]}}, {name: worker, replicas: 2, template: {command: [x]}}]"
	cases := []struct{ spec, want string }{
		{"successPolicy: {group: chief}", `spec.successPolicy.group: "chief" is not a replica group of this job`},
		{"failurePolicy: {restartScope: Pod}", `spec.failurePolicy.restartScope: "Pod" is not a scope: use Gang or Replica`},
		{"failurePolicy: {restartPolicy: Always}", `spec.failurePolicy.restartPolicy: "Always" is not a policy: use OnFailure, ExitCode or Never`},
		{"failurePolicy: {maxRestarts: -1}", "spec.failurePolicy.maxRestarts: must be 0 or more"},
		{"failurePolicy: {backoffSeconds: 100000}", "spec.failurePolicy.backoffSeconds: 100000 is out of range"},
		{"failurePolicy: {maxBackoffSeconds: -2}", "spec.failurePolicy.maxBackoffSeconds: -2 is out of range"},
		{"framework: pytorch, failurePolicy: {restartScope: Replica}", "spec.failurePolicy.restartScope: Replica restarts do not work with the pytorch preset"},
		{"runPolicy: {terminationGracePeriodSeconds: 4000}", "spec.runPolicy.terminationGracePeriodSeconds: 4000 is out of range"},
		{"checkpointDir: ../other-team", `spec.checkpointDir: "../other-team" leaves the namespace's checkpoint directory`},
		{"checkpointDir: a/../../b", `spec.checkpointDir: "a/../../b" leaves`},
		{"checkpointDir: ./", `spec.checkpointDir: "./" names the namespace's checkpoint directory itself`},
		{"checkpointDir: _jobs/train", `spec.checkpointDir: "_jobs/train" is inside _jobs/`},
	}
	for _, tc := range cases {
		doc := header + "spec: {" + groups + ", " + tc.spec + "}\n"
		obj, err := v1alpha1.Decode([]byte(doc))
		if err != nil {
			t.Fatalf("Decode(%s): %v", tc.spec, err)
		}
		v1alpha1.Default(obj)
		if err := v1alpha1.Validate(obj); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want %q", tc.spec, err, tc.want)
		}
	}
	ok := header + "spec: {" + groups + `, successPolicy: {group: launcher}, checkpointDir: runs/a,
  failurePolicy: {restartScope: Replica, restartPolicy: ExitCode, maxRestarts: 2, backoffSeconds: 0},
  runPolicy: {terminationGracePeriodSeconds: 30}}` + "\n"
	obj, err := v1alpha1.Decode([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	v1alpha1.Default(obj)
	if err := v1alpha1.Validate(obj); err != nil {
		t.Errorf("a valid job: %v", err)
	}
	if job := obj.(*v1alpha1.Job); job.Spec.MaxRestarts() != 2 || job.Spec.RestartScope() != v1alpha1.RestartReplica {
		t.Errorf("MaxRestarts %d, RestartScope %s", job.Spec.MaxRestarts(), job.Spec.RestartScope())
	}
}

func TestCheckpointPath(t *testing.T) {
	job := func(dir string) *v1alpha1.Job {
		return &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: "train", Namespace: "team-a"}, Spec: v1alpha1.JobSpec{CheckpointDir: dir}}
	}
	for _, tc := range []struct{ dir, want, wantErr string }{
		{"", "/data/checkpoints/team-a/_jobs/train", ""},
		{"runs/a", "/data/checkpoints/team-a/runs/a", ""},
		{"/data/checkpoints/team-a/shared", "/data/checkpoints/team-a/shared", ""},
		{"/data/checkpoints/team-b/x", "", "outside the data directory's checkpoints for namespace team-a"},
		{"/etc", "", `spec.checkpointDir`},
		{"/data/checkpoints/team-a/../team-b", "", "outside"},
		{"/data/checkpoints/team-a", "", "outside"},
		{"/data/checkpoints/team-a/_jobs/other", "", "inside /data/checkpoints/team-a/_jobs"},
		{"../x", "", "leaves"},
	} {
		got, ferr := v1alpha1.CheckpointPath("/data/", job(tc.dir))
		if tc.wantErr != "" {
			if ferr == nil || !strings.Contains(ferr.Field+": "+ferr.Detail, tc.wantErr) {
				t.Errorf("%q: error %v, want %q", tc.dir, ferr, tc.wantErr)
			}
			continue
		}
		if ferr != nil || got != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.dir, got, ferr, tc.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	code := func(c int32) *int32 { return &c }
	spec := func(p string) *v1alpha1.JobSpec {
		return &v1alpha1.JobSpec{FailurePolicy: &v1alpha1.FailurePolicy{RestartPolicy: p}}
	}
	for _, tc := range []struct {
		spec *v1alpha1.JobSpec
		code *int32
		want bool
	}{
		{&v1alpha1.JobSpec{}, code(1), true},
		{spec(v1alpha1.RestartOnExitCode), code(1), false},
		{spec(v1alpha1.RestartOnExitCode), code(127), false},
		{spec(v1alpha1.RestartOnExitCode), code(128), true},
		{spec(v1alpha1.RestartOnExitCode), code(137), true},
		{spec(v1alpha1.RestartOnExitCode), nil, true},
		{spec(v1alpha1.RestartNever), code(137), false},
	} {
		if got := tc.spec.Retryable(tc.code); got != tc.want {
			t.Errorf("%+v code %v: Retryable = %v", tc.spec.FailurePolicy, tc.code, got)
		}
	}
}

func TestValidateMetricReport(t *testing.T) {
	r := &v1alpha1.MetricReport{Points: []v1alpha1.MetricPoint{{Name: "loss", Step: 1, Value: 1}, {Name: "a b", Step: 1}}}
	errs := v1alpha1.ValidateMetricReport(r)
	if len(errs) != 1 || errs[0].Field != "points[1]" {
		t.Errorf("errors = %v", errs)
	}
	r.Points = make([]v1alpha1.MetricPoint, v1alpha1.MaxMetricPointsPerPost+1)
	if errs := v1alpha1.ValidateMetricReport(r); len(errs) != 1 || !strings.Contains(errs[0].Detail, "at most 1000") {
		t.Errorf("errors = %v", errs)
	}
}
