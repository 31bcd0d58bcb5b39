package kube_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/deploy/crds"
	"skiff.dev/skiff/internal/kubetest"
	"skiff.dev/skiff/internal/store"
	"skiff.dev/skiff/internal/store/kube"
	"skiff.dev/skiff/internal/store/storetest"
)

// TestConformance runs the store conformance suite against a real
// kube-apiserver with the CRDs from deploy/crds installed.
func TestConformance(t *testing.T) {
	cluster := kubetest.Start(t, kubetest.Options{})
	ctx := t.Context()

	if _, err := kube.New(ctx, cluster.Config); err == nil || !strings.Contains(err.Error(), "CRDs") {
		t.Fatalf("New before the CRDs are installed = %v, want an error saying to install them", err)
	}
	docs := crdDocuments(t)
	if err := kube.InstallCRDs(ctx, cluster.Config, docs); err != nil {
		t.Fatal(err)
	}
	// Installing again (an upgrade) is idempotent.
	if err := kube.InstallCRDs(ctx, cluster.Config, docs); err != nil {
		t.Fatalf("reinstalling the CRDs: %v", err)
	}
	admin, err := kube.New(ctx, cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })

	storetest.RunWith(t, func(t *testing.T) store.Store {
		wipe(t, admin)
		s, err := kube.New(t.Context(), cluster.Config)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}, storetest.Options{ServerClock: true, SharedRevisions: true, TimeBasedWatchHistory: true, Serial: true})

	t.Run("objects made with kubectl read with defaults", func(t *testing.T) {
		wipe(t, admin)
		if _, err := cs(t, cluster).CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		testDefaultsOnRead(t, cluster.Config, admin)
	})

	t.Run("status set at create is kept", func(t *testing.T) {
		wipe(t, admin)
		n := &v1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gpu-1"}}
		n.Status.GPUs = []v1alpha1.GPUDevice{{Index: 0, Model: "H100"}}
		if err := admin.Create(ctx, n); err != nil {
			t.Fatal(err)
		}
		got := &v1alpha1.Node{}
		if err := admin.Get(ctx, "", "gpu-1", got); err != nil {
			t.Fatal(err)
		}
		if len(got.Status.GPUs) != 1 || got.ResourceVersion != n.ResourceVersion {
			t.Errorf("stored node %+v (rv %s), want one GPU at rv %s", got.Status, got.ResourceVersion, n.ResourceVersion)
		}
	})

	t.Run("a status-only update is one request", func(t *testing.T) {
		wipe(t, admin)
		testStatusOnlyUpdate(t, cluster.Config)
	})

	t.Run("an update at the revision of a write under way waits for it", func(t *testing.T) {
		wipe(t, admin)
		testWriteUnderWay(t, cluster.Config)
	})
}

func crdDocuments(t *testing.T) [][]byte {
	docs, err := crds.Documents()
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// TestDefaultsOnRead: an object made with kubectl (no Skiff API in
// between) reads with the defaults `skiff apply` would have given it.
func testDefaultsOnRead(t *testing.T, cfg *rest.Config, s *kube.Store) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.APIVersion, "kind": "Job",
		"metadata": map[string]any{"name": "bare", "namespace": "team-a"},
		"spec": map[string]any{"replicaGroups": []any{map[string]any{
			"name": "worker", "template": map[string]any{"command": []any{"true"}},
		}}},
	}}
	gvr := schema.GroupVersionResource{Group: v1alpha1.Group, Version: v1alpha1.Version, Resource: "jobs"}
	if _, err := dyn.Resource(gvr).Namespace("team-a").Create(t.Context(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	j := &v1alpha1.Job{}
	if err := s.Get(t.Context(), "team-a", "bare", j); err != nil {
		t.Fatal(err)
	}
	if j.Spec.Queue != v1alpha1.DefaultQueue || j.Spec.RunPolicy.BackoffLimit == nil || j.Spec.ReplicaGroups[0].Replicas != 1 || j.Status.Phase != v1alpha1.JobPending {
		t.Errorf("kubectl-made job read as %+v / %+v, want Skiff's defaults", j.Spec, j.Status)
	}
}

// wipe deletes every skiff object, removing finalizers first, and waits
// until the API server lists none: each conformance case starts empty.
func wipe(t *testing.T, s *kube.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		left := 0
		for _, k := range v1alpha1.Kinds() {
			var objs []metav1.ObjectMeta
			if _, err := s.ListRaw(ctx, k, store.ListOptions{}, func(raw []byte) error {
				var o struct {
					Metadata metav1.ObjectMeta `json:"metadata"`
				}
				err := json.Unmarshal(raw, &o)
				objs = append(objs, o.Metadata)
				return err
			}); err != nil {
				t.Fatalf("wipe: %v", err)
			}
			for _, m := range objs {
				left++
				if len(m.Finalizers) > 0 {
					o := k.New()
					if err := s.Get(ctx, m.Namespace, m.Name, o); err == nil {
						o.SetFinalizers(nil)
						_ = s.Update(ctx, o)
					}
				}
				_ = s.Delete(ctx, k, m.Namespace, m.Name, store.DeleteOptions{})
			}
		}
		if left == 0 {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("wipe: %d objects left", left)
		}
	}
}

func cs(t *testing.T, c *kubetest.Cluster) kubernetes.Interface { return c.Clientset(t) }
