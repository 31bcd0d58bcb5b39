package e2e

import (
	"bytes"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"

	"skiff.dev/skiff/deploy/crds"
	deploy "skiff.dev/skiff/deploy/kubernetes"
	"skiff.dev/skiff/internal/kubetest"
	kubestore "skiff.dev/skiff/internal/store/kube"
)

// install does what `kubectl apply -k deploy/kubernetes` does before the
// Deployment: the CRDs, the namespace, the operator's ServiceAccount and
// its least-privilege RBAC, all from the manifests users apply. It returns
// a kubeconfig that authenticates as that ServiceAccount, so the operator
// in the test has exactly the permissions it has on a cluster.
func install(t *testing.T, c *kubetest.Cluster) string {
	t.Helper()
	ctx := t.Context()
	docs, err := crds.Documents()
	if err != nil {
		t.Fatal(err)
	}
	if err := kubestore.InstallCRDs(ctx, c.Config, docs); err != nil {
		t.Fatal(err)
	}
	cs := c.Clientset(t)
	for _, name := range []string{"namespace.yaml", "serviceaccount.yaml", "rbac.yaml"} {
		raw, err := deploy.Manifest(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range bytes.Split(raw, []byte("\n---\n")) {
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if err := create(t, cs, obj); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	sa, err := c.ServiceAccountConfig(ctx, "skiff-system", "skiff-operator")
	if err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range kc.AuthInfos {
		auth.Token, auth.TokenFile = sa.BearerToken, ""
		auth.ClientCertificate, auth.ClientKey, auth.ClientCertificateData, auth.ClientKeyData = "", "", nil, nil
	}
	path := filepath.Join(t.TempDir(), "operator.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func create(t *testing.T, cs kubernetes.Interface, obj any) error {
	ctx, opts := t.Context(), metav1.CreateOptions{}
	var err error
	switch o := obj.(type) {
	case *corev1.Namespace:
		_, err = cs.CoreV1().Namespaces().Create(ctx, o, opts)
	case *corev1.ServiceAccount:
		_, err = cs.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, opts)
	case *rbacv1.ClusterRole:
		_, err = cs.RbacV1().ClusterRoles().Create(ctx, o, opts)
	case *rbacv1.ClusterRoleBinding:
		_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, o, opts)
	case *rbacv1.Role:
		_, err = cs.RbacV1().Roles(o.Namespace).Create(ctx, o, opts)
	case *rbacv1.RoleBinding:
		_, err = cs.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, opts)
	default:
		t.Fatalf("install: no client for %T", obj)
	}
	return err
}
