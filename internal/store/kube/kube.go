package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/rest"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

// ManagedByLabel marks the Kubernetes namespaces this backend created.
const ManagedByLabel = "app.kubernetes.io/managed-by"

// maxUnconditionalAttempts bounds the read-modify-write loop of an update
// without a resourceVersion under heavy contention.
const maxUnconditionalAttempts = 50

// Store is a store.Store over a Kubernetes API server.
type Store struct {
	skiff *rest.RESTClient // /apis/skiff.dev/v1alpha1
	core  *rest.RESTClient // /api/v1, for namespaces
	// status holds the plurals whose CRD has a status subresource.
	status map[string]bool
	rev    atomic.Int64

	mu      sync.Mutex
	closed  bool
	watches map[*watcher]struct{}
	nsKnown sync.Map // namespace name -> struct{}: exists
	// written lets a status-only Update skip the main resource's PUT.
	written written
}

var _ store.Store = (*Store)(nil)

// Scheme knows every skiff.dev/v1alpha1 kind and its list, plus the meta
// types (Status, options) the API server and the client exchange.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, k := range v1alpha1.Kinds() {
		s.AddKnownTypeWithName(v1alpha1.GroupVersion.WithKind(k.Kind), k.New())
		s.AddKnownTypeWithName(v1alpha1.GroupVersion.WithKind(k.Kind+"List"), k.NewList())
	}
	metav1.AddToGroupVersion(s, v1alpha1.GroupVersion)
	return s
}

// New connects to the API server cfg names and checks that the skiff.dev
// CRDs are installed. A zero cfg.QPS turns client-side rate limiting off:
// the API server's own priority and fairness protects it.
func New(ctx context.Context, cfg *rest.Config) (*Store, error) {
	codecs := serializer.NewCodecFactory(Scheme())
	client := func(gv schema.GroupVersion, apiPath string) (*rest.RESTClient, error) {
		c := rest.CopyConfig(cfg)
		c.GroupVersion = &gv
		c.APIPath = apiPath
		c.NegotiatedSerializer = codecs.WithoutConversion()
		c.ContentType = runtime.ContentTypeJSON
		if c.QPS == 0 {
			c.QPS = -1
		}
		if c.UserAgent == "" {
			c.UserAgent = "skiff"
		}
		return rest.RESTClientFor(c)
	}
	sk, err := client(v1alpha1.GroupVersion, "/apis")
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	core, err := client(schema.GroupVersion{Version: "v1"}, "/api")
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	s := &Store{skiff: sk, core: core, watches: map[*watcher]struct{}{}}
	if s.status, err = discoverStatus(ctx, sk); err != nil {
		return nil, err
	}
	return s, nil
}

// discoverStatus reads the group's discovery document: it proves the CRDs
// are installed and says which kinds have a status subresource.
func discoverStatus(ctx context.Context, c *rest.RESTClient) (map[string]bool, error) {
	raw, err := c.Get().AbsPath("/apis", v1alpha1.Group, v1alpha1.Version).Do(ctx).Raw()
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("the %s API is not served: install the CRDs (kubectl apply -f deploy/crds, or skiff operator --install-crds)", v1alpha1.APIVersion)
	}
	if err != nil {
		return nil, fmt.Errorf("discovering %s: %w", v1alpha1.APIVersion, err)
	}
	var list metav1.APIResourceList
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("discovering %s: %w", v1alpha1.APIVersion, err)
	}
	served := map[string]bool{}
	status := map[string]bool{}
	for _, r := range list.APIResources {
		served[r.Name] = true
		if plural, ok := strings.CutSuffix(r.Name, "/status"); ok {
			status[plural] = true
		}
	}
	var missing []string
	for _, k := range v1alpha1.Kinds() {
		if !served[k.Plural] {
			missing = append(missing, k.Plural)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the CRDs for %v.%s are not installed: apply deploy/crds (or run skiff operator --install-crds)", missing, v1alpha1.Group)
	}
	return status, nil
}

// request starts a request on kind k; ns is ignored for cluster kinds and
// "" lists across namespaces.
func (s *Store) request(verb string, k v1alpha1.Kind, ns string) *rest.Request {
	r := s.skiff.Verb(verb).Resource(k.Plural)
	if k.Namespaced && ns != "" {
		r = r.Namespace(ns)
	}
	return r
}

// observe moves Revision forward to resourceVersion rv.
func (s *Store) observe(rv string) {
	n := v1alpha1.Revision(rv)
	for {
		cur := s.rev.Load()
		if n <= cur || s.rev.CompareAndSwap(cur, n) {
			return
		}
	}
}

// Revision is the newest revision this client has seen in a response.
func (s *Store) Revision() int64 { return s.rev.Load() }

func kindOf(obj runtime.Object) (v1alpha1.Kind, error) {
	k, err := v1alpha1.KindOf(obj)
	if err != nil {
		return k, fmt.Errorf("kube store: %w", err)
	}
	return k, nil
}

// errClosed is returned by every call after Close.
var errClosed = errors.New("kube store: closed")

func (s *Store) checkOpen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	return nil
}

// prepareWrite checks the store is open and finds obj's kind; a cluster
// kind's object loses any namespace it was given.
func (s *Store) prepareWrite(obj v1alpha1.Object) (v1alpha1.Kind, error) {
	if err := s.checkOpen(); err != nil {
		return v1alpha1.Kind{}, err
	}
	k, err := kindOf(obj)
	if err != nil {
		return k, err
	}
	if !k.Namespaced {
		obj.SetNamespace("")
	}
	return k, nil
}

// Create stores a new object. A status the caller set is written to the
// status subresource right after (custom resources drop it on create).
func (s *Store) Create(ctx context.Context, obj v1alpha1.Object) error {
	k, err := s.prepareWrite(obj)
	if err != nil {
		return err
	}
	if err := checkNames(k, obj); err != nil {
		return err
	}
	defaultForWrite(obj)
	desired := obj.DeepCopyObject().(v1alpha1.Object)
	obj.SetResourceVersion("")
	if s.status[k.Plural] {
		s.written.begin(k, obj.GetNamespace(), obj.GetName())
		defer s.written.end(k, obj.GetNamespace(), obj.GetName())
	}
	created := k.New()
	err = s.request("POST", k, obj.GetNamespace()).Body(obj).Do(ctx).Into(created)
	if k.Namespaced && namespaceMissing(err) {
		if nerr := s.ensureNamespace(ctx, obj.GetNamespace()); nerr != nil {
			return nerr
		}
		err = s.request("POST", k, obj.GetNamespace()).Body(obj).Do(ctx).Into(created)
	}
	if err != nil {
		return err
	}
	s.observe(created.GetResourceVersion())
	if s.status[k.Plural] && !sameStatus(defaulted(desired), defaulted(created)) {
		if err := s.writeInitialStatus(ctx, k, desired, created); err != nil {
			return err
		}
	}
	s.remember(k, created)
	v1alpha1.Default(created)
	copyInto(obj, created)
	return nil
}

// remember notes what a write of a kind with a status subresource left.
func (s *Store) remember(k v1alpha1.Kind, obj v1alpha1.Object) {
	if s.status[k.Plural] {
		s.written.remember(k, obj)
	}
}

// writeInitialStatus writes the status a created object was given. The
// object is already there for controllers to see, so the write can meet a
// conflict: if the status is still unset by anyone (say a finalizer was
// added), it is written again at the newer revision; if someone already
// wrote a status, theirs is newer than the creator's and stays, and cur is
// left as the object now is.
func (s *Store) writeInitialStatus(ctx context.Context, k v1alpha1.Kind, desired, cur v1alpha1.Object) error {
	for attempt := 0; ; attempt++ {
		err := s.writeStatus(ctx, k, desired, cur)
		if !apierrors.IsConflict(err) || attempt+1 >= maxUnconditionalAttempts {
			return err
		}
		// Read as stored (no defaults): a status nobody wrote is zero.
		now := k.New()
		if err := s.request("GET", k, cur.GetNamespace()).Name(cur.GetName()).Do(ctx).Into(now); err != nil {
			return fmt.Errorf("writing the status of %s %s after a conflict: %w", k.Singular, cur.GetName(), err)
		}
		v1alpha1.SetTypeMeta(now)
		s.observe(now.GetResourceVersion())
		copyInto(cur, now)
		if st := statusField(now); st.IsValid() && !st.IsZero() {
			return nil
		}
	}
}

// checkNames refuses what the API server would refuse with a less useful
// message (or a 404 for a namespaced kind without a namespace).
func checkNames(k v1alpha1.Kind, obj v1alpha1.Object) error {
	var errs field.ErrorList
	if obj.GetName() == "" && obj.GetGenerateName() == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), "set metadata.name (or metadata.generateName)"))
	}
	if k.Namespaced && obj.GetNamespace() == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "namespace"), "set metadata.namespace: "+k.Plural+" are namespaced"))
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(k.GroupVersionKind().GroupKind(), obj.GetName(), errs)
	}
	return nil
}

// namespaceMissing says whether err is the API server's "namespace not
// found" answer to a create.
func namespaceMissing(err error) bool {
	var se *apierrors.StatusError
	if !errors.As(err, &se) || !apierrors.IsNotFound(err) {
		return false
	}
	d := se.ErrStatus.Details
	return d != nil && d.Kind == "namespaces"
}

// ensureNamespace creates Kubernetes namespace ns, labelled as Skiff's.
func (s *Store) ensureNamespace(ctx context.Context, ns string) error {
	if _, ok := s.nsKnown.Load(ns); ok {
		return nil
	}
	body, err := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": ns, "labels": map[string]string{ManagedByLabel: "skiff"}},
	})
	if err != nil {
		return err
	}
	err = s.core.Post().Resource("namespaces").Body(body).Do(ctx).Error()
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating kubernetes namespace %q: %w", ns, err)
	}
	s.nsKnown.Store(ns, struct{}{})
	return nil
}

// Get reads one object.
func (s *Store) Get(ctx context.Context, namespace, name string, into v1alpha1.Object) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	k, err := kindOf(into)
	if err != nil {
		return err
	}
	got := k.New()
	if err := s.request("GET", k, namespace).Name(name).Do(ctx).Into(got); err != nil {
		return err
	}
	v1alpha1.Default(got)
	copyInto(into, got)
	s.observe(into.GetResourceVersion())
	return nil
}

// Update writes obj. See the package documentation for how status and an
// empty resourceVersion are handled.
func (s *Store) Update(ctx context.Context, obj v1alpha1.Object) error {
	k, err := s.prepareWrite(obj)
	if err != nil {
		return err
	}
	if obj.GetResourceVersion() != "" {
		return s.update(ctx, k, obj)
	}
	for attempt := 0; ; attempt++ {
		cur := k.New()
		if err := s.Get(ctx, obj.GetNamespace(), obj.GetName(), cur); err != nil {
			return err
		}
		if uid := obj.GetUID(); uid != "" && uid != cur.GetUID() {
			return apierrors.NewConflict(k.GroupResource(), obj.GetName(),
				fmt.Errorf("the object was deleted and recreated (uid %s, not %s): read it again", cur.GetUID(), uid))
		}
		obj.SetResourceVersion(cur.GetResourceVersion())
		err := s.update(ctx, k, obj)
		if !apierrors.IsConflict(err) || attempt+1 >= maxUnconditionalAttempts {
			return err
		}
		obj.SetResourceVersion("")
	}
}

// update is a conditional write of spec and metadata, then of status; a
// write whose metadata and spec are those stored at its revision (as this
// client wrote them) is a write of the status alone.
func (s *Store) update(ctx context.Context, k v1alpha1.Kind, obj v1alpha1.Object) error {
	defaultForWrite(obj)
	desired := obj.DeepCopyObject().(v1alpha1.Object)
	statusOnly := false
	if s.status[k.Plural] {
		var stale bool
		if statusOnly, stale = s.written.check(ctx, k, obj); stale {
			return apierrors.NewConflict(k.GroupResource(), obj.GetName(),
				fmt.Errorf("the object has been modified since revision %s: read it again", obj.GetResourceVersion()))
		}
		s.written.begin(k, obj.GetNamespace(), obj.GetName())
		defer s.written.end(k, obj.GetNamespace(), obj.GetName())
	}
	if statusOnly {
		cur := obj.DeepCopyObject().(v1alpha1.Object)
		if err := s.writeStatus(ctx, k, desired, cur); err != nil {
			s.written.forget(k, obj.GetNamespace(), obj.GetName())
			return err
		}
		s.remember(k, cur)
		copyInto(obj, cur)
		return nil
	}
	written := k.New()
	if err := s.request("PUT", k, obj.GetNamespace()).Name(obj.GetName()).Body(obj).Do(ctx).Into(written); err != nil {
		return err
	}
	s.observe(written.GetResourceVersion())
	if gone(written) {
		// The last finalizer of a deleted object went: so did the object.
		s.written.forget(k, written.GetNamespace(), written.GetName())
		v1alpha1.Default(written)
		copyInto(obj, written)
		s.cascade(ctx, k, written.GetNamespace(), string(written.GetUID()))
		return nil
	}
	if s.status[k.Plural] && !sameStatus(defaulted(desired), defaulted(written)) {
		if err := s.writeStatus(ctx, k, desired, written); err != nil {
			return err
		}
	}
	s.remember(k, written)
	v1alpha1.Default(written)
	copyInto(obj, written)
	return nil
}

// writeStatus puts desired's status onto cur (the object as last written)
// through the status subresource, leaving the result in cur.
func (s *Store) writeStatus(ctx context.Context, k v1alpha1.Kind, desired, cur v1alpha1.Object) error {
	setStatus(cur, desired)
	if err := s.request("PUT", k, cur.GetNamespace()).Name(cur.GetName()).SubResource("status").Body(cur).Do(ctx).Into(cur); err != nil {
		return fmt.Errorf("writing the status of %s %s: %w", k.Singular, cur.GetName(), err)
	}
	v1alpha1.Default(cur)
	s.observe(cur.GetResourceVersion())
	return nil
}

// defaultForWrite applies Skiff's defaults to what a write stores, except
// to the status: a status never written reads with its defaults (Default
// on every read), which spares each create a second write to the status
// subresource.
func defaultForWrite(obj v1alpha1.Object) {
	st := statusField(obj)
	if !st.IsValid() {
		v1alpha1.Default(obj)
		return
	}
	saved := reflect.New(st.Type()).Elem()
	saved.Set(st)
	v1alpha1.Default(obj)
	st.Set(saved)
}

// defaulted is a defaulted copy of o: what a read returns.
func defaulted(o v1alpha1.Object) v1alpha1.Object {
	c := o.DeepCopyObject().(v1alpha1.Object)
	v1alpha1.Default(c)
	return c
}

// gone says whether a write response is the last state of an object that
// no longer exists (deleted, no finalizers left).
func gone(o v1alpha1.Object) bool {
	return o.GetDeletionTimestamp() != nil && len(o.GetFinalizers()) == 0
}

func statusField(o v1alpha1.Object) reflect.Value {
	return reflect.ValueOf(o).Elem().FieldByName("Status")
}

func sameStatus(a, b v1alpha1.Object) bool {
	sa, sb := statusField(a), statusField(b)
	if !sa.IsValid() || !sb.IsValid() {
		return true
	}
	return equality.Semantic.DeepEqual(sa.Interface(), sb.Interface())
}

func setStatus(dst, src v1alpha1.Object) {
	d, s := statusField(dst), statusField(src)
	if d.IsValid() && s.IsValid() {
		d.Set(s)
	}
}

// copyInto overwrites *dst with *src (same concrete type).
func copyInto(dst, src v1alpha1.Object) {
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
}

// Delete deletes an object (or marks it, when it has finalizers) and then
// its dependents.
func (s *Store) Delete(ctx context.Context, kind v1alpha1.Kind, namespace, name string, opts store.DeleteOptions) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if !kind.Namespaced {
		namespace = ""
	}
	// The answer to a delete is a Status for custom resources, so the uid
	// to cascade from is read first and made a precondition: the object
	// deleted is the one whose dependents go.
	cur := kind.New()
	if err := s.Get(ctx, namespace, name, cur); err != nil {
		return err
	}
	uid := cur.GetUID()
	del := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}
	if opts.ResourceVersion != "" {
		rv := opts.ResourceVersion
		del.Preconditions.ResourceVersion = &rv
	}
	if err := s.request("DELETE", kind, namespace).Name(name).Body(&del).Do(ctx).Error(); err != nil {
		return err
	}
	s.written.forget(kind, namespace, name)
	if len(cur.GetFinalizers()) > 0 {
		// Only marked; the object goes when an Update removes the last
		// finalizer, and cascades then. Read the mark's revision.
		_, err := s.currentRevision(ctx, kind)
		return err
	}
	// Read the revision of the deletion, so Revision moves past it.
	if _, err := s.currentRevision(ctx, kind); err != nil {
		return err
	}
	s.cascade(ctx, kind, namespace, string(uid))
	return nil
}

// List fills into with the matching objects, in namespace/name order.
func (s *Store) List(ctx context.Context, into v1alpha1.ObjectList, opts store.ListOptions) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	k, err := listKind(into)
	if err != nil {
		return err
	}
	// Decoding into a used list would keep fields of old items.
	reflect.ValueOf(into).Elem().Set(reflect.Zero(reflect.TypeOf(into).Elem()))
	if err := s.listRequest(k, opts).Do(ctx).Into(into); err != nil {
		return err
	}
	into.GetObjectKind().SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(k.Kind + "List"))
	_ = meta.EachListItem(into, func(o runtime.Object) error {
		if obj, ok := o.(v1alpha1.Object); ok {
			v1alpha1.Default(obj)
		}
		return nil
	})
	s.observe(into.GetResourceVersion())
	return nil
}

func listKind(into v1alpha1.ObjectList) (v1alpha1.Kind, error) {
	for _, k := range v1alpha1.Kinds() {
		if reflect.TypeOf(k.NewList()) == reflect.TypeOf(into) {
			return k, nil
		}
	}
	return v1alpha1.Kind{}, fmt.Errorf("kube store: %T is not a skiff.dev/v1alpha1 list", into)
}

func (s *Store) listRequest(k v1alpha1.Kind, opts store.ListOptions) *rest.Request {
	lo := metav1.ListOptions{}
	if opts.LabelSelector != nil && !opts.LabelSelector.Empty() {
		lo.LabelSelector = opts.LabelSelector.String()
	}
	if opts.FieldName != "" {
		lo.FieldSelector = "metadata.name=" + opts.FieldName
	}
	return s.request("GET", k, opts.Namespace).VersionedParams(&lo, metav1.ParameterCodec)
}

// ListRaw calls fn with each matching object's JSON as the API server sent
// it.
func (s *Store) ListRaw(ctx context.Context, kind v1alpha1.Kind, opts store.ListOptions, fn func(raw []byte) error) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	raw, err := s.listRequest(kind, opts).Do(ctx).Raw()
	if err != nil {
		return 0, err
	}
	var list struct {
		Metadata metav1.ListMeta   `json:"metadata"`
		Items    []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return 0, fmt.Errorf("decoding the %s list: %w", kind.Plural, err)
	}
	s.observe(list.Metadata.ResourceVersion)
	for _, item := range list.Items {
		// Items read with their defaults, as Get and List return them.
		obj := kind.New()
		if err := json.Unmarshal(item, obj); err != nil {
			return 0, fmt.Errorf("decoding a %s: %w", kind.Singular, err)
		}
		v1alpha1.Default(obj)
		raw, err := json.Marshal(obj)
		if err != nil {
			return 0, err
		}
		if err := fn(raw); err != nil {
			return 0, err
		}
	}
	return v1alpha1.Revision(list.Metadata.ResourceVersion), nil
}

// Close ends every watch this store opened. The API server keeps the data.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	ws := make([]*watcher, 0, len(s.watches))
	for w := range s.watches {
		ws = append(ws, w)
	}
	s.mu.Unlock()
	for _, w := range ws {
		w.Stop()
	}
	return nil
}
