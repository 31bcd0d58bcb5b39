// Package e2e tests `skiff operator` on a real Kubernetes API server with
// kwok's fake GPU nodes (internal/kubetest). It runs with SKIFF_KUBE_TEST=1
// (`make test-kube`) and is skipped otherwise.
package e2e
