package crds_test

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/install"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"skiff.dev/skiff/deploy/crds"
)

// server is what a kube-apiserver builds from one CRD to serve its kind:
// the structural schema, the OpenAPI validator and the CEL rules. Its
// methods run an object through the same steps, in the same order, as a
// create request does (customresource_handler.go and the strategy of
// k8s.io/apiextensions-apiserver), without etcd.
type server struct {
	crd        *apiextensionsv1.CustomResourceDefinition
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	install.Install(s)
	return s
}()

// loadCRD decodes a CRD file strictly and checks it as the API server does
// when the CRD is created: defaulting, conversion to the internal version,
// ValidateCustomResourceDefinition (names, structural schema, CEL rules
// compiled and their estimated cost, printer columns) and nothing else.
func loadCRD(name string, data []byte) (*server, error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(data, crd); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	scheme.Default(crd)
	internal := &apiextensions.CustomResourceDefinition{}
	if err := scheme.Convert(crd, internal, nil); err != nil {
		return nil, fmt.Errorf("%s: converting to the internal version: %w", name, err)
	}
	if errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), internal); len(errs) > 0 {
		return nil, fmt.Errorf("%s: the API server would refuse it: %w", name, errs.ToAggregate())
	}
	if len(crd.Spec.Versions) != 1 {
		return nil, fmt.Errorf("%s: want exactly one version, found %d", name, len(crd.Spec.Versions))
	}
	validation, err := apiextensions.GetSchemaForVersion(internal, crd.Spec.Versions[0].Name)
	if err != nil || validation == nil || validation.OpenAPIV3Schema == nil {
		return nil, fmt.Errorf("%s: no schema for version %s: %v", name, crd.Spec.Versions[0].Name, err)
	}
	props := validation.OpenAPIV3Schema
	s, err := structuralschema.NewStructural(props)
	if err != nil {
		return nil, fmt.Errorf("%s: not a structural schema: %w", name, err)
	}
	if errs := structuralschema.ValidateStructural(nil, s); len(errs) > 0 {
		return nil, fmt.Errorf("%s: not a structural schema: %w", name, errs.ToAggregate())
	}
	s = s.DeepCopy()
	if err := structuraldefaulting.PruneDefaults(s); err != nil {
		return nil, fmt.Errorf("%s: pruning defaults: %w", name, err)
	}
	v, _, err := apiservervalidation.NewSchemaValidator(props)
	if err != nil {
		return nil, fmt.Errorf("%s: building the schema validator: %w", name, err)
	}
	return &server{crd: crd, structural: s, validator: v, cel: cel.NewValidator(s, true, celconfig.PerCallLimit)}, nil
}

// admission is what the server did to one object.
type admission struct {
	// pruned lists the fields the server dropped because its schema does
	// not know them: data silently lost.
	pruned []string
	errs   field.ErrorList
	// stored is the object as the server would store it.
	stored map[string]any
}

// admit runs a JSON object through a create request's decoding and
// validation: prune unknown fields, drop nulls of non-nullable fields,
// coerce metadata, apply defaults, then validate against the OpenAPI
// schema, embedded ObjectMeta, list-map and list-set keys, and the CEL
// rules.
func (s *server) admit(t testing.TB, js []byte) admission {
	t.Helper()
	var obj map[string]any
	if err := utiljson.Unmarshal(js, &obj); err != nil {
		t.Fatalf("decoding %s: %v", js, err)
	}
	// rest.BeforeCreate names an object from its generateName before it
	// is validated.
	if meta, ok := obj["metadata"].(map[string]any); ok {
		if gen, _ := meta["generateName"].(string); gen != "" && meta["name"] == nil {
			meta["name"] = gen + "x7k2q"
		}
	}
	var a admission
	a.pruned = structuralpruning.PruneWithOptions(obj, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj, s.structural)
	if err, paths := schemaobjectmeta.CoerceWithOptions(nil, obj, s.structural, false, schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true}); err != nil {
		a.errs = append(a.errs, err)
	} else {
		a.pruned = append(a.pruned, paths...)
	}
	structuraldefaulting.Default(obj, s.structural)
	sort.Strings(a.pruned)

	a.errs = append(a.errs, apiservervalidation.ValidateCustomResource(nil, obj, s.validator)...)
	a.errs = append(a.errs, schemaobjectmeta.Validate(context.Background(), nil, obj, s.structural, false)...)
	a.errs = append(a.errs, listtype.ValidateListSetsAndMaps(nil, s.structural, obj)...)
	// As the server's strategy: CEL rules run only when the schema found
	// no error that makes them meaningless (hasBlockingErr).
	blocking := false
	for _, e := range a.errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			blocking = true
		}
	}
	if !blocking {
		errs, _ := s.cel.Validate(context.Background(), nil, s.structural, obj, nil, celconfig.RuntimeCELCostBudget)
		a.errs = append(a.errs, errs...)
	}
	a.stored = obj
	return a
}

// loadAll loads every embedded CRD, keyed by plural.
func loadAll(t testing.TB) map[string]*server {
	t.Helper()
	manifests, names, err := crds.Manifests()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*server{}
	for _, n := range names {
		s, err := loadCRD(n, manifests[n])
		if err != nil {
			t.Error(err)
			continue
		}
		if _, dup := out[s.crd.Spec.Names.Plural]; dup {
			t.Fatalf("%s: a second CRD for %s", n, s.crd.Spec.Names.Plural)
		}
		out[s.crd.Spec.Names.Plural] = s
	}
	if t.Failed() {
		t.FailNow()
	}
	return out
}
