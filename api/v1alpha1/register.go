package v1alpha1

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group and Version name this API.
const (
	Group   = "skiff.dev"
	Version = "v1alpha1"
)

// APIVersion is the apiVersion string every object of this package carries.
var APIVersion = Group + "/" + Version

// GroupVersion is the schema form of APIVersion.
var GroupVersion = schema.GroupVersion{Group: Group, Version: Version}

// Object is what every stored resource implements: a runtime.Object with
// Kubernetes ObjectMeta accessors.
//
// +kubebuilder:object:generate=false
type Object interface {
	runtime.Object
	metav1.Object
}

// Kind describes one resource kind: how it is named in URLs and the CLI and
// how to make an empty value of it.
//
// +kubebuilder:object:generate=false
type Kind struct {
	Kind       string   // Job
	Plural     string   // jobs
	Singular   string   // job
	ShortNames []string // e.g. "ev" for events
	Namespaced bool
	New        func() Object
	NewList    func() runtime.Object
}

var kinds = []Kind{
	{Kind: "Job", Plural: "jobs", Singular: "job", Namespaced: true,
		New: func() Object { return &Job{} }, NewList: func() runtime.Object { return &JobList{} }},
	{Kind: "Experiment", Plural: "experiments", Singular: "experiment", ShortNames: []string{"exp"}, Namespaced: true,
		New: func() Object { return &Experiment{} }, NewList: func() runtime.Object { return &ExperimentList{} }},
	{Kind: "Queue", Plural: "queues", Singular: "queue", ShortNames: []string{"q"},
		New: func() Object { return &Queue{} }, NewList: func() runtime.Object { return &QueueList{} }},
	{Kind: "Flavor", Plural: "flavors", Singular: "flavor",
		New: func() Object { return &Flavor{} }, NewList: func() runtime.Object { return &FlavorList{} }},
	{Kind: "Node", Plural: "nodes", Singular: "node", ShortNames: []string{"no"},
		New: func() Object { return &Node{} }, NewList: func() runtime.Object { return &NodeList{} }},
	{Kind: "Event", Plural: "events", Singular: "event", ShortNames: []string{"ev"}, Namespaced: true,
		New: func() Object { return &Event{} }, NewList: func() runtime.Object { return &EventList{} }},
	{Kind: "Namespace", Plural: "namespaces", Singular: "namespace", ShortNames: []string{"ns"},
		New: func() Object { return &Namespace{} }, NewList: func() runtime.Object { return &NamespaceList{} }},
	{Kind: "Token", Plural: "tokens", Singular: "token",
		New: func() Object { return &Token{} }, NewList: func() runtime.Object { return &TokenList{} }},
	{Kind: "Policy", Plural: "policies", Singular: "policy",
		New: func() Object { return &Policy{} }, NewList: func() runtime.Object { return &PolicyList{} }},
	{Kind: "InferenceService", Plural: "inferenceservices", Singular: "inferenceservice", ShortNames: []string{"isvc"}, Namespaced: true,
		New: func() Object { return &InferenceService{} }, NewList: func() runtime.Object { return &InferenceServiceList{} }},
}

// Kinds returns every kind this API serves, in a stable order.
func Kinds() []Kind { return append([]Kind(nil), kinds...) }

// LookupKind finds a kind by its Kind name, plural, singular or short name,
// case-insensitively, as kubectl does.
func LookupKind(name string) (Kind, bool) {
	n := strings.ToLower(name)
	for _, k := range kinds {
		if strings.ToLower(k.Kind) == n || k.Plural == n || k.Singular == n {
			return k, true
		}
		for _, s := range k.ShortNames {
			if s == n {
				return k, true
			}
		}
	}
	return Kind{}, false
}

// UnknownKindError explains which kinds exist.
func UnknownKindError(name string) error {
	var names []string
	for _, k := range kinds {
		names = append(names, k.Plural)
	}
	sort.Strings(names)
	return fmt.Errorf("unknown kind %q: use one of %s", name, strings.Join(names, ", "))
}

// KindOf returns the kind of a typed object, whatever its TypeMeta says.
func KindOf(obj runtime.Object) (Kind, error) {
	t := reflect.TypeOf(obj)
	for _, k := range kinds {
		if reflect.TypeOf(k.New()) == t {
			return k, nil
		}
	}
	return Kind{}, fmt.Errorf("type %T is not a skiff.dev/v1alpha1 kind", obj)
}

// SetTypeMeta fills apiVersion and kind of a typed object.
func SetTypeMeta(obj Object) {
	if k, err := KindOf(obj); err == nil {
		obj.GetObjectKind().SetGroupVersionKind(GroupVersion.WithKind(k.Kind))
	}
}

// GroupResource is the apimachinery name of a kind, used in API errors.
func (k Kind) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: Group, Resource: k.Plural}
}

// ObjectList is a typed list (JobList, QueueList, ...).
//
// +kubebuilder:object:generate=false
type ObjectList interface {
	runtime.Object
	metav1.ListInterface
}

// GroupVersionKind is the full type name of a kind.
func (k Kind) GroupVersionKind() schema.GroupVersionKind { return GroupVersion.WithKind(k.Kind) }

// Revision turns a resourceVersion into a number that orders versions. Skiff's stores (and the
// Kubernetes API's etcd) issue decimal revisions that only grow, so a caller
// comparing two versions of one object, e.g. to drop a late watch event, can
// compare these numbers; an empty or foreign version is 0.
func Revision(resourceVersion string) int64 {
	n, err := strconv.ParseInt(resourceVersion, 10, 64)
	if err != nil {
		return 0
	}
	return n
}
