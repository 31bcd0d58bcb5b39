package controller

import (
	"time"

	"skiff.dev/skiff/api/v1alpha1"
)

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

// resyncPeriod bounds how long a missed notification can delay a reconcile:
// informers hand every cached object to their handlers again this often.
const resyncPeriod = 30 * time.Second
