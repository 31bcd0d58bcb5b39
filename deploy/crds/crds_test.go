package crds_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/deploy/crds"
)

// coreShortNames are short names of core Kubernetes kinds. Embedded mode
// keeps them (register.go), but a CRD claiming one would make kubectl's
// `get no`, `get ns` or `get ev` ambiguous on a cluster.
var coreShortNames = map[string]bool{"no": true, "ns": true, "ev": true, "po": true, "svc": true, "cm": true, "ds": true, "deploy": true, "rs": true, "sa": true, "pv": true, "pvc": true, "ing": true, "ep": true, "limits": true, "quota": true, "cs": true, "rc": true, "netpol": true, "pdb": true, "psp": true, "sts": true, "hpa": true, "crd": true, "crds": true, "csr": true, "pc": true, "sc": true}

// TestEveryKindHasOneCRD: each kind of v1alpha1.Kinds() has exactly one
// CRD, with its plural, singular, kind, scope and group, the short names
// embedded mode knows it by (less core ones), a status subresource exactly
// when the Go type has a status, and is listed in the kustomization.
func TestEveryKindHasOneCRD(t *testing.T) {
	servers := loadAll(t)
	_, names, err := crds.Manifests()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != len(v1alpha1.Kinds()) {
		t.Errorf("%d CRD files for %d kinds: %v", len(names), len(v1alpha1.Kinds()), names)
	}
	for _, k := range v1alpha1.Kinds() {
		s, ok := servers[k.Plural]
		if !ok {
			t.Errorf("%s: no CRD with plural %s: add +kubebuilder:resource markers and run make crds", k.Kind, k.Plural)
			continue
		}
		crd := s.crd
		if _, err := crds.Manifest(k.Plural); err != nil {
			t.Errorf("%s: %v (want file %s)", k.Kind, err, crds.FileName(k.Plural))
		}
		if want := k.Plural + "." + v1alpha1.Group; crd.Name != want {
			t.Errorf("%s: CRD name %q, want %q", k.Kind, crd.Name, want)
		}
		n := crd.Spec.Names
		if crd.Spec.Group != v1alpha1.Group || n.Kind != k.Kind || n.Singular != k.Singular || n.ListKind != k.Kind+"List" {
			t.Errorf("%s: group %q kind %q singular %q listKind %q", k.Kind, crd.Spec.Group, n.Kind, n.Singular, n.ListKind)
		}
		scope := apiextensionsv1.ClusterScoped
		if k.Namespaced {
			scope = apiextensionsv1.NamespaceScoped
		}
		if crd.Spec.Scope != scope {
			t.Errorf("%s: scope %s, want %s", k.Kind, crd.Spec.Scope, scope)
		}
		var wantShort []string
		for _, sn := range k.ShortNames {
			if !coreShortNames[sn] {
				wantShort = append(wantShort, sn)
			}
		}
		for _, sn := range n.ShortNames {
			if coreShortNames[sn] {
				t.Errorf("%s: the CRD claims %q, a core Kubernetes short name", k.Kind, sn)
			}
		}
		if !slices.Equal(n.ShortNames, wantShort) {
			t.Errorf("%s: short names %v, want %v", k.Kind, n.ShortNames, wantShort)
		}
		if !slices.Contains(n.Categories, "skiff") {
			t.Errorf("%s: not in category skiff (kubectl get skiff)", k.Kind)
		}
		if len(crd.Spec.Versions) != 1 {
			t.Fatalf("%s: %d versions", k.Kind, len(crd.Spec.Versions))
		}
		v := crd.Spec.Versions[0]
		if v.Name != v1alpha1.Version || !v.Served || !v.Storage {
			t.Errorf("%s: version %s served=%v storage=%v", k.Kind, v.Name, v.Served, v.Storage)
		}
		_, hasStatus := reflect.TypeOf(k.New()).Elem().FieldByName("Status")
		if got := v.Subresources != nil && v.Subresources.Status != nil; got != hasStatus {
			t.Errorf("%s: status subresource %v, want %v (the Go type has a status: %v)", k.Kind, got, hasStatus, hasStatus)
		}
		if len(v.AdditionalPrinterColumns) == 0 {
			t.Errorf("%s: no printer columns", k.Kind)
		}
		for _, c := range v.AdditionalPrinterColumns {
			if err := pathInSchema(s.structural, c.JSONPath); err != nil {
				t.Errorf("%s: printer column %q: %v", k.Kind, c.Name, err)
			}
		}
	}

	var kust struct {
		Resources []string `json:"resources"`
	}
	data, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &kust); err != nil {
		t.Fatal(err)
	}
	sort.Strings(kust.Resources)
	if d := cmp.Diff(names, kust.Resources); d != "" {
		t.Errorf("kustomization.yaml does not list exactly the CRD files (-files +listed):\n%s", d)
	}
}

// pathInSchema checks that a printer column's JSONPath (.a.b[0].c) names a
// field of the schema, so that a renamed field cannot leave an empty
// column behind.
func pathInSchema(s *structuralschema.Structural, path string) error {
	parts := strings.Split(strings.TrimPrefix(path, "."), ".")
	if parts[0] == "metadata" {
		return nil // the server's own ObjectMeta
	}
	cur := s
	for _, p := range parts {
		name, index, _ := strings.Cut(p, "[")
		next, ok := cur.Properties[name]
		if !ok {
			return fmt.Errorf("%s: no field %q", path, name)
		}
		cur = &next
		if index != "" {
			if cur.Items == nil {
				return fmt.Errorf("%s: %q is not a list", path, name)
			}
			cur = cur.Items
		}
	}
	return nil
}

// manifests returns every document of the YAML files under the example
// and testdata folders, by "file#index".
func manifests(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, root := range []string{"../../examples", "../../api/v1alpha1/testdata"} {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || (!strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml")) {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			docs, err := v1alpha1.SplitYAML(data)
			if err != nil {
				return err
			}
			for i, doc := range docs {
				out[fmt.Sprintf("%s#%d", p, i)] = doc
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) < 6 {
		t.Fatalf("found only %d manifests under examples/ and api/v1alpha1/testdata", len(out))
	}
	return out
}

// embedded reports whether embedded mode takes a manifest: strict decode,
// defaults, Validate; it returns the decoded object (before defaults).
func embedded(doc []byte) (v1alpha1.Object, error) {
	obj, err := v1alpha1.Decode(doc)
	if err != nil {
		return nil, err
	}
	defaulted := obj.DeepCopyObject().(v1alpha1.Object)
	v1alpha1.Default(defaulted)
	return obj, v1alpha1.Validate(defaulted)
}

// TestExamplesAccepted: every manifest under examples/ and testdata that
// embedded mode accepts is accepted by its CRD as written (the YAML a user
// would kubectl apply), as the Go types write it (nulls and zero values
// included) and after defaulting (what the Skiff API stores); and the
// server keeps every field of it.
func TestExamplesAccepted(t *testing.T) {
	servers := loadAll(t)
	docs := manifests(t)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	accepted := 0
	for _, name := range keys {
		obj, err := embedded(docs[name])
		if err != nil {
			t.Logf("%s: embedded mode rejects it (%v); skipped", name, err)
			continue
		}
		accepted++
		k, _ := v1alpha1.KindOf(obj)
		s := servers[k.Plural]
		raw, err := yaml.YAMLToJSON(docs[name])
		if err != nil {
			t.Fatal(err)
		}
		a := s.admit(t, raw)
		if len(a.errs) > 0 || len(a.pruned) > 0 {
			t.Errorf("%s as written: errors %v, pruned %v", name, a.errs, a.pruned)
		}
		if d := cmp.Diff(jsonMap(t, raw), a.stored); d != "" {
			t.Errorf("%s as written: the server changed it (-sent +stored):\n%s", name, d)
		}
		defaulted := obj.DeepCopyObject().(v1alpha1.Object)
		v1alpha1.Default(defaulted)
		for form, o := range map[string]v1alpha1.Object{"as decoded": obj, "defaulted": defaulted} {
			roundTrip(t, name+" "+form, s, o, true)
		}
	}
	if accepted == 0 {
		t.Fatal("no manifest was accepted by embedded mode")
	}
}

// roundTrip sends a typed object as JSON through the server and decodes
// what it would store back into the Go type: nothing may be pruned or
// changed, and, when valid is set, nothing refused.
func roundTrip(t *testing.T, name string, s *server, obj v1alpha1.Object, valid bool) {
	t.Helper()
	v1alpha1.SetTypeMeta(obj)
	js, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	a := s.admit(t, js)
	if len(a.pruned) > 0 {
		t.Errorf("%s: the server prunes %v: data the Go types carry would be lost", name, a.pruned)
	}
	if valid && len(a.errs) > 0 {
		t.Errorf("%s: refused: %v", name, a.errs)
	}
	stored, err := json.Marshal(a.stored)
	if err != nil {
		t.Fatal(err)
	}
	back := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(v1alpha1.Object)
	if err := json.Unmarshal(stored, back); err != nil {
		t.Fatalf("%s: decoding what the server stores: %v", name, err)
	}
	if d := cmp.Diff(obj, back); d != "" {
		t.Errorf("%s: the stored object differs (-sent +stored):\n%s", name, d)
	}
}

func jsonMap(t *testing.T, js []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := utiljson.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
