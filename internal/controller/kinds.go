package controller

import "skiff.dev/skiff/api/v1alpha1"

var (
	kindJob    = mustKind("Job")
	kindQueue  = mustKind("Queue")
	kindFlavor = mustKind("Flavor")
	kindNode   = mustKind("Node")
	// kindNamespace holds per-tenant limits the scheduling loop enforces.
	kindNamespace = mustKind("Namespace")
)

func mustKind(name string) v1alpha1.Kind {
	k, ok := v1alpha1.LookupKind(name)
	if !ok {
		panic("unknown kind " + name)
	}
	return k
}

func keyOf(obj v1alpha1.Object) string { return obj.GetNamespace() + "/" + obj.GetName() }
