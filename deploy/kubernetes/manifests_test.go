package kubernetes_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/deploy/crds"
	"skiff.dev/skiff/deploy/kubernetes"
)

const systemNamespace = "skiff-system"

// objects decodes every install manifest strictly into its typed
// Kubernetes object: a misspelt field fails here, not on a cluster.
type objects struct {
	namespace      *corev1.Namespace
	serviceAccount *corev1.ServiceAccount
	clusterRole    *rbacv1.ClusterRole
	clusterBinding *rbacv1.ClusterRoleBinding
	role           *rbacv1.Role
	roleBinding    *rbacv1.RoleBinding
	deployment     *appsv1.Deployment
	service        *corev1.Service
}

func load(t *testing.T) objects {
	t.Helper()
	var o objects
	for _, name := range kubernetes.Files {
		data, err := kubernetes.Manifest(name)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := v1alpha1.SplitYAML(data)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docs {
			var head struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s#%d: %v", name, i, err)
			}
			var target any
			switch head.APIVersion + " " + head.Kind {
			case "v1 Namespace":
				o.namespace = &corev1.Namespace{}
				target = o.namespace
			case "v1 ServiceAccount":
				o.serviceAccount = &corev1.ServiceAccount{}
				target = o.serviceAccount
			case "rbac.authorization.k8s.io/v1 ClusterRole":
				o.clusterRole = &rbacv1.ClusterRole{}
				target = o.clusterRole
			case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
				o.clusterBinding = &rbacv1.ClusterRoleBinding{}
				target = o.clusterBinding
			case "rbac.authorization.k8s.io/v1 Role":
				o.role = &rbacv1.Role{}
				target = o.role
			case "rbac.authorization.k8s.io/v1 RoleBinding":
				o.roleBinding = &rbacv1.RoleBinding{}
				target = o.roleBinding
			case "apps/v1 Deployment":
				o.deployment = &appsv1.Deployment{}
				target = o.deployment
			case "v1 Service":
				o.service = &corev1.Service{}
				target = o.service
			default:
				t.Fatalf("%s#%d: unexpected %s %s", name, i, head.APIVersion, head.Kind)
			}
			if err := yaml.UnmarshalStrict(doc, target); err != nil {
				t.Fatalf("%s#%d (%s): %v", name, i, head.Kind, err)
			}
		}
	}
	if o.namespace == nil || o.serviceAccount == nil || o.clusterRole == nil || o.clusterBinding == nil ||
		o.role == nil || o.roleBinding == nil || o.deployment == nil || o.service == nil {
		t.Fatalf("a manifest is missing: %+v", o)
	}
	return o
}

func TestKustomizationListsEverything(t *testing.T) {
	data, err := kubernetes.Manifest("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	want := append([]string{"../crds"}, kubernetes.Files...)
	got := append([]string(nil), k.Resources...)
	sort.Strings(want)
	sort.Strings(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("kustomization resources (-want +got):\n%s", d)
	}
	// The namespace must exist before the objects in it.
	if len(k.Resources) == 0 || k.Resources[0] != "namespace.yaml" {
		t.Errorf("resources start with %v, want namespace.yaml first", k.Resources)
	}
}

// TestRBACIsLeastPrivilege pins the operator's permissions: every Skiff
// resource (and /status where the CRD has that subresource), the pod and
// service verbs the runtime needs, read-only nodes, and nothing that reads
// secrets or writes what it does not own.
func TestRBACIsLeastPrivilege(t *testing.T) {
	o := load(t)
	var want []string
	for _, k := range v1alpha1.Kinds() {
		want = append(want, k.Plural)
		data, err := crds.Manifest(k.Plural)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "subresources:\n      status: {}") {
			want = append(want, k.Plural+"/status")
		}
	}
	sort.Strings(want)

	type grant struct{ group, resource string }
	verbs := map[grant][]string{}
	for _, r := range o.clusterRole.Rules {
		if len(r.NonResourceURLs) > 0 || len(r.ResourceNames) > 0 {
			t.Errorf("unexpected rule %+v", r)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				if g == "*" || res == "*" || slices.Contains(r.Verbs, "*") {
					t.Errorf("wildcard in %+v", r)
				}
				verbs[grant{g, res}] = append(verbs[grant{g, res}], r.Verbs...)
			}
		}
	}
	var skiff []string
	full := []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	for g, v := range verbs {
		if g.group != v1alpha1.Group {
			continue
		}
		skiff = append(skiff, g.resource)
		sort.Strings(v)
		if !slices.Equal(v, full) {
			t.Errorf("%s: verbs %v, want %v", g.resource, v, full)
		}
	}
	sort.Strings(skiff)
	if d := cmp.Diff(want, skiff); d != "" {
		t.Errorf("skiff.dev resources (-want +got):\n%s", d)
	}

	core := map[grant]string{
		{"", "pods"}:       "create delete get list patch watch",
		{"", "pods/log"}:   "get",
		{"", "services"}:   "create delete get list watch",
		{"", "events"}:     "create",
		{"", "nodes"}:      "get list watch",
		{"", "namespaces"}: "create get list watch",
	}
	for g, v := range verbs {
		if g.group == v1alpha1.Group {
			continue
		}
		w, ok := core[g]
		if !ok {
			t.Errorf("the ClusterRole grants %v on %s/%s: not needed", v, g.group, g.resource)
			continue
		}
		sort.Strings(v)
		if got := strings.Join(v, " "); got != w {
			t.Errorf("%s/%s: verbs %q, want %q", g.group, g.resource, got, w)
		}
	}
	for g := range core {
		if _, ok := verbs[g]; !ok {
			t.Errorf("the ClusterRole lacks %s/%s", g.group, g.resource)
		}
	}

	// In skiff-system: the leader Lease, and the credentials Secret (any
	// create, since RBAC cannot name what is created; get by name only).
	if o.role.Namespace != systemNamespace {
		t.Fatalf("Role in %q", o.role.Namespace)
	}
	var rules []string
	for _, r := range o.role.Rules {
		rules = append(rules, fmt.Sprint(r.APIGroups, r.Resources, r.ResourceNames, r.Verbs))
	}
	wantRules := []string{
		"[coordination.k8s.io] [leases] [] [get create update]",
		"[] [secrets] [] [create]",
		"[] [secrets] [skiff-credentials] [get]",
	}
	if d := cmp.Diff(wantRules, rules); d != "" {
		t.Errorf("Role rules (-want +got):\n%s", d)
	}
	for _, b := range []struct {
		kind, name string
		subjects   []rbacv1.Subject
		ref        rbacv1.RoleRef
	}{
		{"ClusterRole", o.clusterRole.Name, o.clusterBinding.Subjects, o.clusterBinding.RoleRef},
		{"Role", o.role.Name, o.roleBinding.Subjects, o.roleBinding.RoleRef},
	} {
		if b.ref.Kind != b.kind || b.ref.Name != b.name {
			t.Errorf("binding refers to %s %s, want %s %s", b.ref.Kind, b.ref.Name, b.kind, b.name)
		}
		if len(b.subjects) != 1 || b.subjects[0].Kind != "ServiceAccount" || b.subjects[0].Name != o.serviceAccount.Name || b.subjects[0].Namespace != systemNamespace {
			t.Errorf("%s binding subjects %+v", b.kind, b.subjects)
		}
	}
}

func TestDeploymentAndService(t *testing.T) {
	o := load(t)
	for _, m := range []struct{ kind, ns string }{
		{"ServiceAccount", o.serviceAccount.Namespace}, {"Role", o.role.Namespace}, {"RoleBinding", o.roleBinding.Namespace},
		{"Deployment", o.deployment.Namespace}, {"Service", o.service.Namespace},
	} {
		if m.ns != systemNamespace {
			t.Errorf("%s in namespace %q, want %s", m.kind, m.ns, systemNamespace)
		}
	}
	if o.namespace.Name != systemNamespace {
		t.Errorf("namespace %q", o.namespace.Name)
	}
	d := o.deployment
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2 (leader election)", d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	if pod.ServiceAccountName != o.serviceAccount.Name {
		t.Errorf("serviceAccountName %q, want %q", pod.ServiceAccountName, o.serviceAccount.Name)
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("the selector %s=%s does not match the pod template", k, v)
		}
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	wantArgs := []string{"operator", "--kubeconfig", "", "--namespace", systemNamespace, "--listen", "0.0.0.0:7400", "--gateway-listen", "0.0.0.0:7401"}
	if d := cmp.Diff(wantArgs, c.Args); d != "" {
		t.Errorf("args (-want +got):\n%s", d)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["api"] != 7400 || ports["gateway"] != 7401 {
		t.Errorf("container ports %v", ports)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container security context %+v", sc)
	}
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil {
		t.Errorf("pod security context %+v", psc)
	}
	// Only the leader listens: readiness routes the Service to it, and a
	// liveness probe on the API would restart every follower.
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != "api" || p.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v: want GET /readyz on the api port (it needs no token)", p)
	}
	if c.LivenessProbe != nil {
		t.Errorf("liveness probe %+v: a follower does not open the API port", c.LivenessProbe)
	}
	// A read-only root filesystem needs a writable /tmp for the data directory.
	tmp := false
	for _, m := range c.VolumeMounts {
		tmp = tmp || m.MountPath == "/tmp"
	}
	if !tmp {
		t.Error("no volume at /tmp: the operator's default data directory would be read-only")
	}

	s := o.service
	for k, v := range s.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the operator pods do not carry", k, v)
		}
	}
	got := map[string]string{}
	for _, p := range s.Spec.Ports {
		got[p.Name] = fmt.Sprintf("%d->%s", p.Port, p.TargetPort.String())
	}
	if d := cmp.Diff(map[string]string{"api": "7400->api", "gateway": "7401->gateway"}, got); d != "" {
		t.Errorf("service ports (-want +got):\n%s", d)
	}
}
