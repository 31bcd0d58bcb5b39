// Package v1alpha1 holds the skiff.dev/v1alpha1 resource types: their Go
// structs, defaults and validation.
//
// Every kind follows the Kubernetes resource model (TypeMeta, ObjectMeta,
// spec, status with conditions) so the same YAML works against the embedded
// server and, later, as CRDs on a Kubernetes cluster. Validation errors carry
// the field path (spec.replicaGroups[0].template.resources.gpu) and say what
// to change.
//
// +kubebuilder:object:generate=true
// +groupName=skiff.dev
package v1alpha1
