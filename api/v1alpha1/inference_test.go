package v1alpha1

import (
	"strings"
	"testing"
	"time"
)

const minimalService = `apiVersion: skiff.dev/v1alpha1
kind: InferenceService
metadata: {name: tiny, namespace: default}
spec:
  models: [tiny-chat]
  queue: default
  template: {command: ["python3", "serve.py"], resources: {cpu: 500m, memory: 256Mi}}   # listens on $PORT
  minReplicas: 0
  maxReplicas: 4
  routing: prefix-affinity        # round-robin | least-request | prefix-affinity
  autoscaling: {targetInFlight: 8, scaleToZeroAfter: 5m}
`

func TestDecodeMinimalInferenceService(t *testing.T) {
	obj, err := Decode([]byte(minimalService))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := obj.(*InferenceService)
	if !ok {
		t.Fatalf("decoded %T", obj)
	}
	Default(s)
	if err := Validate(s); err != nil {
		t.Fatal(err)
	}
	if s.Spec.Min() != 0 || s.Spec.MaxReplicas != 4 || s.Spec.Routing != RoutingPrefixAffinity ||
		s.Spec.Autoscaling.ScaleToZeroAfter.Duration != 5*time.Minute || *s.Spec.Priority != DefaultServingPriority ||
		s.Spec.ReadinessProbe.Path != DefaultProbePath {
		t.Errorf("after defaulting: %+v", s.Spec)
	}
	if k, ok := LookupKind("isvc"); !ok || k.Kind != "InferenceService" || !k.Namespaced {
		t.Errorf("isvc short name: %+v", k)
	}
}

func TestInferenceServiceErrorsNameTheField(t *testing.T) {
	cases := map[string]string{
		"spec:\n  models: [tiny]\n  template: {command: [x]}\n  routing: random\n":                      "spec.routing",
		"spec:\n  models: []\n  template: {command: [x]}\n":                                             "spec.models: required",
		"spec:\n  models: [a/b]\n  template: {command: [x]}\n":                                          "spec.models[0]",
		"spec:\n  models: [m]\n  template: {command: [x]}\n  minReplicas: 3\n  maxReplicas: 2\n":        "spec.maxReplicas",
		"spec:\n  models: [m]\n  template: {command: [x], env: [{name: PORT, value: '1'}]}\n":           "spec.template.env[0].name",
		"spec:\n  models: [m]\n  template: {command: []}\n":                                             "spec.template.command",
		"spec:\n  models: [m]\n  template: {command: [x]}\n  limits: {perKey: {tokensPerMinute: -1}}\n": "spec.limits.perKey.tokensPerMinute",
		"spec:\n  models: [m]\n  template: {command: [x]}\n  autoscaling: {scaleToZeroAfter: soon}\n":   "spec.autoscaling.scaleToZeroAfter",
		"spec:\n  models: [m]\n  template: {command: [x]}\n  readinessProbe: {path: health}\n":          "spec.readinessProbe.path",
		"spec:\n  models: [m]\n  template: {command: [x]}\n  canaryTrafficPercent: 101\n":               "spec.canaryTrafficPercent: 101 is out of range: use 0 to 100",
		"spec:\n  models: [m]\n  template: {command: [x]}\n  canaryTrafficPercent: -5\n":                "spec.canaryTrafficPercent",
	}
	for spec, want := range cases {
		doc := "apiVersion: skiff.dev/v1alpha1\nkind: InferenceService\nmetadata: {name: s}\n" + spec
		obj, err := Decode([]byte(doc))
		if err == nil {
			Default(obj)
			err = Validate(obj)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error naming %s", spec, err, want)
		}
	}
}

// TestInferenceServiceNameLeavesRoomForItsReplicas: replica jobs are named
// <name>-<i>, or <name>-canary<i> when a canary percent is set, and must be
// valid names too.
func TestInferenceServiceNameLeavesRoomForItsReplicas(t *testing.T) {
	cases := []struct {
		name, spec, want string // want "" means accepted
	}{
		{strings.Repeat("s", 60), "  maxReplicas: 4\n  canaryTrafficPercent: 10\n",
			"metadata.name: \"" + strings.Repeat("s", 60) + "\" is too long: its replica jobs are named <name>-canary3, at most 63 characters: use a name of at most 55 characters"},
		{strings.Repeat("s", 62), "  maxReplicas: 12\n", "its replica jobs are named <name>-11, at most 63 characters: use a name of at most 60 characters"},
		{strings.Repeat("s", 60), "  maxReplicas: 4\n", ""},
	}
	for _, tc := range cases {
		doc := "apiVersion: skiff.dev/v1alpha1\nkind: InferenceService\nmetadata: {name: " + tc.name + "}\nspec:\n  models: [m]\n  template: {command: [x]}\n" + tc.spec
		obj, err := Decode([]byte(doc))
		if err == nil {
			Default(obj)
			err = Validate(obj)
		}
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%d-character name, %q: %v, want it accepted", len(tc.name), tc.spec, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%d-character name, %q: %v, want an error containing %q", len(tc.name), tc.spec, err, tc.want)
		}
	}
}
