package kubetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// Pod logs through the API: kube-apiserver reads a container's log from
// the kubelet of its node; with kwok, the kwok process is every node's
// kubelet (all nodes have InternalIP 127.0.0.1 and kwok's port), and it
// answers with a file named by a kwok Logs object of the pod's name.
// WritePodLogs writes both.

var (
	crdGVR  = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	logsGVR = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "logs"}
)

// logsCRD is the CustomResourceDefinition of kwok's namespaced Logs kind,
// which kwok watches when started with --enable-crds=Logs. Its schema is
// open: kwok validates what it reads.
func logsCRD() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": logsGVR.Resource + "." + logsGVR.Group},
		"spec": map[string]any{
			"group": logsGVR.Group,
			"scope": "Namespaced",
			"names": map[string]any{"kind": "Logs", "listKind": "LogsList", "plural": "logs", "singular": "logs"},
			"versions": []any{map[string]any{
				"name":         logsGVR.Version,
				"served":       true,
				"storage":      true,
				"subresources": map[string]any{"status": map[string]any{}},
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type":                                 "object",
					"x-kubernetes-preserve-unknown-fields": true,
				}},
			}},
		},
	}}
}

// installLogsCRD creates the Logs CRD and waits until it is served.
func (c *Cluster) installLogsCRD(ctx context.Context) error {
	dc, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return fmt.Errorf("kubetest: dynamic client: %w", err)
	}
	crd := logsCRD()
	if _, err := dc.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("kubetest: creating the kwok Logs CRD: %w", err)
	}
	return waitFor(ctx, "the kwok Logs CRD to be served", func() (bool, error) {
		_, err := dc.Resource(logsGVR).Namespace(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{Limit: 1})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
}

// WritePodLogs appends lines to what the API returns as the log of
// container in pod namespace/name (GET .../pods/NAME/log, kubectl logs),
// one stdout line each, stamped now. The pod must be on a kwok node of a
// cluster started with Options.Logs; the pod itself need not exist yet.
// kwok picks up a pod's first lines from its watch of Logs objects, so a
// reader should retry until they appear; a following reader (follow=true)
// gets later lines as they are written.
func (c *Cluster) WritePodLogs(ctx context.Context, namespace, name, container string, now time.Time, lines ...string) error {
	if !c.opts.Logs {
		return errors.New("kubetest: WritePodLogs needs Options{Kwok: true, Logs: true}")
	}
	dir := filepath.Join(c.Dir, "pod-logs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	path := filepath.Join(dir, namespace+"_"+name+"_"+container+".log")
	if err := appendCRILog(path, now, lines); err != nil {
		return err
	}
	dc, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return fmt.Errorf("kubetest: dynamic client: %w", err)
	}
	res := dc.Resource(logsGVR).Namespace(namespace)
	entry := map[string]any{"containers": []any{container}, "logsFile": path, "follow": true}
	obj, err := res.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		obj = &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": logsGVR.GroupVersion().String(),
			"kind":       "Logs",
			"metadata":   map[string]any{"name": name, "namespace": namespace},
			"spec":       map[string]any{"logs": []any{entry}},
		}}
		if _, err := res.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("kubetest: creating kwok Logs %s/%s: %w", namespace, name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("kubetest: reading kwok Logs %s/%s: %w", namespace, name, err)
	}
	logs, _, err := unstructured.NestedSlice(obj.Object, "spec", "logs")
	if err != nil {
		return fmt.Errorf("kubetest: kwok Logs %s/%s: %w", namespace, name, err)
	}
	for _, l := range logs {
		if m, ok := l.(map[string]any); ok && m["logsFile"] == path {
			return nil // the file is already served; the lines were appended to it
		}
	}
	if err := unstructured.SetNestedSlice(obj.Object, append(logs, entry), "spec", "logs"); err != nil {
		return fmt.Errorf("kubetest: kwok Logs %s/%s: %w", namespace, name, err)
	}
	if _, err := res.Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("kubetest: updating kwok Logs %s/%s: %w", namespace, name, err)
	}
	return nil
}

// appendCRILog appends lines to path in the CRI log format that kubelets
// (and kwok) read: "<RFC 3339 time> stdout F <line>".
func appendCRILog(path string, now time.Time, lines []string) error {
	var b strings.Builder
	for _, l := range lines {
		if strings.Contains(l, "\n") {
			return fmt.Errorf("kubetest: log line %q holds a newline; pass each line separately", l)
		}
		fmt.Fprintf(&b, "%s stdout F %s\n", now.UTC().Format(time.RFC3339Nano), l)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("kubetest: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	return nil
}
