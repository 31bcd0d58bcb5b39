// Package crds holds the CustomResourceDefinitions that make every
// skiff.dev/v1alpha1 kind a resource of a Kubernetes API server, and embeds
// them so that installers and tests can create them without a path on disk.
//
// The YAML files are generated from api/v1alpha1 by `make crds`
// (controller-gen reads the +kubebuilder markers beside the Go types); edit
// the markers, never the files. The tests of this package check, with the
// API server's own schema code (k8s.io/apiextensions-apiserver), that every
// CRD is one the server accepts, that the manifests embedded mode accepts
// are accepted and kept whole (no field pruned), and that what embedded
// mode rejects is rejected here too.
package crds
