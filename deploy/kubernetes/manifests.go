package kubernetes

import (
	"embed"
	"fmt"
)

//go:embed kustomization.yaml namespace.yaml serviceaccount.yaml rbac.yaml deployment.yaml service.yaml
var files embed.FS

// Files lists the manifests other than the CRDs, in the order they are
// applied: the namespace first, the workload last.
var Files = []string{"namespace.yaml", "serviceaccount.yaml", "rbac.yaml", "deployment.yaml", "service.yaml"}

// Manifest returns one of Files (or kustomization.yaml) as YAML.
func Manifest(name string) ([]byte, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("no install manifest %q: %w", name, err)
	}
	return b, nil
}
