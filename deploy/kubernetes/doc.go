// Package kubernetes holds the manifests that install Skiff on a
// Kubernetes cluster (kubectl apply -k deploy/kubernetes): the
// skiff-system namespace, the CRDs of deploy/crds, the operator's
// ServiceAccount and least-privilege RBAC, a Deployment of two
// leader-electing `skiff operator` replicas and the Service in front of
// them. It embeds them so that tests and installers can apply them, and
// its test checks them against the API kinds and the CRDs.
package kubernetes
