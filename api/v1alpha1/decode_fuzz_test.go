package v1alpha1_test

import (
	"encoding/json"
	"testing"

	"skiff.dev/skiff/api/v1alpha1"
)

// FuzzDecode feeds arbitrary manifests through the path every `apply` and
// API write takes: split, strict decode, default, validate. Nothing may
// panic, and a document that decodes is the kind it names and re-encodes.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"apiVersion: skiff.dev/v1alpha1\nkind: Job\nmetadata: {name: a}\nspec:\n  replicaGroups:\n  - name: w\n    template: {command: [\"true\"], resources: {gpu: 1}}\n",
		"apiVersion: skiff.dev/v1alpha1\nkind: Queue\nmetadata: {name: q}\nspec: {flavors: [{name: default, resources: [{name: gpu, nominalQuota: 2}]}]}\n---\nkind: Flavor\n",
		"apiVersion: skiff.dev/v1alpha1\nkind: Policy\nmetadata: {name: p}\nspec: {match: {kinds: [Job]}, validate: [{expression: 'true'}]}\n",
		"apiVersion: skiff.dev/v1alpha1\nkind: Token\nmetadata: {name: t}\nspec: {user: u, namespace: n, role: viewer, ttl: 1h}\n",
		"{\"apiVersion\":\"skiff.dev/v1alpha1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"n\"},\"spec\":{\"limits\":{\"gpus\":\"1e3\"}}}",
		"- a\n- b\n", "---\n---\n", "a: [", "kind: Job\napiVersion: skiff.dev/v1alpha1\nspec: {replicaGroups: [{replicas: 0}]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := v1alpha1.SplitYAML(data)
		if err != nil {
			return
		}
		for _, doc := range docs {
			obj, err := v1alpha1.Decode(doc)
			if err != nil {
				if err.Error() == "" {
					t.Fatal("an empty error message")
				}
				continue
			}
			k, err := v1alpha1.KindOf(obj)
			if err != nil {
				t.Fatalf("decoded a %T that is no kind: %v", obj, err)
			}
			v1alpha1.Default(obj)
			_ = v1alpha1.Validate(obj)
			if obj.GetObjectKind().GroupVersionKind().Kind != k.Kind {
				t.Fatalf("decoded %s but TypeMeta says %v", k.Kind, obj.GetObjectKind().GroupVersionKind())
			}
			if _, err := json.Marshal(obj); err != nil {
				t.Fatalf("a decoded %s does not re-encode: %v", k.Kind, err)
			}
		}
	})
}
