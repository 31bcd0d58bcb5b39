package crds

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
)

//go:embed skiff.dev_*.yaml
var files embed.FS

// FileName is the file of a kind's CRD, by its plural: skiff.dev_jobs.yaml.
func FileName(plural string) string { return "skiff.dev_" + plural + ".yaml" }

// Manifest returns the CRD of the kind with this plural (jobs, queues...)
// as YAML.
func Manifest(plural string) ([]byte, error) {
	b, err := files.ReadFile(FileName(plural))
	if err != nil {
		return nil, fmt.Errorf("no CRD for %q: %w", plural, err)
	}
	return b, nil
}

// Manifests returns every CRD as YAML, keyed by file name, and the file
// names in a stable order.
func Manifests() (map[string][]byte, []string, error) {
	names, err := fs.Glob(files, "skiff.dev_*.yaml")
	if err != nil {
		return nil, nil, fmt.Errorf("listing CRDs: %w", err)
	}
	sort.Strings(names)
	out := make(map[string][]byte, len(names))
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", n, err)
		}
		out[n] = b
	}
	return out, names, nil
}

// Documents returns every CRD's YAML in file name order: what an installer
// (kube.InstallCRDs) applies.
func Documents() ([][]byte, error) {
	files, names, err := Manifests()
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, len(names))
	for _, n := range names {
		out = append(out, files[n])
	}
	return out, nil
}
